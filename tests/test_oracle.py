"""Cross-check against InsightFace's own SCRFD implementation (test oracle).

insightface is a test dependency only (installed with --no-deps by `make setup`).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from faces.vision.detectors.scrfd import SCRFD
from tests.conftest import CROWD, EXPECTED_FACES

try:
    from insightface.model_zoo.scrfd import SCRFD as Reference
except ImportError:  # pragma: no cover - reported below
    Reference = None


@pytest.fixture(scope="module")
def pair(model_path: Path) -> tuple[SCRFD, object]:
    if Reference is None:
        if os.environ.get("CI") == "true":
            pytest.fail("insightface is not installed (make setup installs it)")
        pytest.skip("insightface is not installed")
    reference = Reference(str(model_path))
    reference.prepare(-1, input_size=(640, 640), det_thresh=0.5, nms_thresh=0.4)
    return SCRFD(model_path), reference


@pytest.mark.parametrize("name", [*sorted(EXPECTED_FACES), CROWD])
def test_boxes_match_insightface(pair, images: Path, name: str) -> None:
    ours, reference = pair
    image = cv2.imread(str(images / name))
    faces = ours.detect(image)
    boxes, landmarks = reference.detect(image, input_size=(640, 640))
    assert len(faces) == len(boxes)
    if not faces:
        return
    mine = np.array([f.box for f in faces])
    assert np.abs(mine - boxes[:, :4]).max() <= 1.0
    assert np.abs(np.array([f.score for f in faces]) - boxes[:, 4]).max() <= 1e-3
    marks = np.array([f.landmarks for f in faces])
    assert np.abs(marks - landmarks).max() <= 1.0

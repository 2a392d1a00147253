"""SCRFD face detector on onnxruntime + numpy + OpenCV.

Works with InsightFace's SCRFD exports: dynamic or fixed input size, with
(9 outputs) or without (6 outputs) five-point landmarks, batched or not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# No telemetry from onnxruntime (read when it initialises; workers inherit it).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort

STRIDES = (8, 16, 32)
ANCHORS_PER_LOCATION = 2
INPUT_MEAN = 127.5
INPUT_STD = 128.0


class ModelError(Exception):
    """The model file is missing, unreadable or not an SCRFD detector."""


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float
    landmarks: tuple[tuple[float, float], ...] | None

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


class SCRFD:
    """Load once, then call :meth:`detect` on BGR uint8 images."""

    def __init__(self, model_path: str | os.PathLike, *, threads: int = 1,
                 det_size: int = 640, lean: bool = False) -> None:
        """``threads``: onnxruntime's intra-op threads for one detection.
        ``lean``: keep no memory arena between runs (for a session used now
        and then: a few per cent slower, and it holds less memory at rest).
        """
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        if threads > 1:  # idle threads sleep instead of spinning on cores others need
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if lean:
            options.enable_cpu_mem_arena = False
            options.enable_mem_pattern = False
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load model {path}: {exc}") from None
        self.path = path
        self.threads = threads
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        height, width = inp.shape[2], inp.shape[3]
        self.dynamic = not (isinstance(height, int) and isinstance(width, int))
        self.input_size = (det_size, det_size) if self.dynamic else (width, height)
        outputs = self.session.get_outputs()
        if len(outputs) not in (6, 9):
            raise ModelError(f"{path.name} has {len(outputs)} outputs; an SCRFD model has 6 or 9")
        expected = [1, 4, 10][: len(outputs) // 3]
        widths = [o.shape[-1] for o in outputs]
        if widths != [w for w in expected for _ in STRIDES]:
            raise ModelError(f"{path.name} does not have SCRFD's outputs (last dims {widths})")
        self.output_names = [o.name for o in outputs]
        self.has_landmarks = len(outputs) == 9
        self._centers: dict[tuple[int, int, int], np.ndarray] = {}

    def detect(self, image: np.ndarray, score_threshold: float = 0.5,
               nms_threshold: float = 0.4, detail_side: int = 0,
               upscale: bool = True) -> list[Face]:
        """Faces in a BGR image (H, W, 3, uint8), best score first.

        One pass letterboxed into the model's input (640x640 by default).
        With ``upscale=False`` a photo smaller than the input is detected at
        its own size (rounded up to 32; dynamic-input models only): faster,
        where the default matches InsightFace's reference exactly.
        With ``detail_side``, a photo more than twice the input's size gets a
        second, finer pass whose input keeps the photo's aspect ratio with
        that long side (dynamic-input models only); the two are merged by NMS.
        This is where small faces in large group photos are found.
        """
        height, width = image.shape[:2]
        size = self.input_size
        if not upscale and self.dynamic and width <= size[0] and height <= size[1]:
            size = (-(-width // 32) * 32, -(-height // 32) * 32)
        passes = [self._candidates(image, size, score_threshold)]
        long_side = max(height, width)
        if detail_side and self.dynamic and long_side > 2 * max(self.input_size):
            passes.append(self._candidates(image, self._fitted(image, detail_side),
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

    @staticmethod
    def _fitted(image: np.ndarray, long_side: int) -> tuple[int, int]:
        """An input size with the image's aspect ratio, sides multiples of 32."""
        height, width = image.shape[:2]
        scale = long_side / max(height, width)
        return (max(32, int(np.ceil(width * scale / 32)) * 32),
                max(32, int(np.ceil(height * scale / 32)) * 32))

    def _candidates(self, image: np.ndarray, input_size: tuple[int, int], threshold: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Boxes, scores and landmarks above ``threshold``, in image pixels."""
        blob, scale = self._letterbox(image, input_size)
        raw = self.session.run(self.output_names, {self.input_name: blob})
        boxes, scores, landmarks = self._decode(raw, blob.shape[2], blob.shape[3], threshold)
        boxes /= scale
        if landmarks is not None:
            landmarks /= scale
        return boxes, scores, landmarks

    def _letterbox(self, image: np.ndarray, input_size: tuple[int, int]
                   ) -> tuple[np.ndarray, float]:
        """Resize keeping aspect ratio into the input, padding right/bottom."""
        in_w, in_h = input_size
        img_h, img_w = image.shape[:2]
        if img_h / img_w > in_h / in_w:
            new_h = in_h
            new_w = int(new_h / (img_h / img_w))
        else:
            new_w = in_w
            new_h = int(new_w * (img_h / img_w))
        new_w, new_h = max(new_w, 1), max(new_h, 1)
        resized = image if (new_w, new_h) == (img_w, img_h) else \
            cv2.resize(image, (new_w, new_h))
        # Planar RGB, normalised; the padding is black, as in the reference.
        # (Four times faster than cv2.dnn.blobFromImage, and bit-identical.)
        blob = np.zeros((1, 3, in_h, in_w), dtype=np.float32)
        for channel, plane in enumerate(reversed(cv2.split(resized))):
            blob[0, channel, :new_h, :new_w] = plane
        blob -= INPUT_MEAN
        blob *= 1.0 / INPUT_STD
        return blob, new_h / img_h

    def _anchor_centers(self, rows: int, cols: int, stride: int) -> np.ndarray:
        key = (rows, cols, stride)
        centers = self._centers.get(key)
        if centers is None:
            ys, xs = np.mgrid[:rows, :cols]
            grid = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
            centers = np.repeat(grid, ANCHORS_PER_LOCATION, axis=0)
            self._centers[key] = centers
        return centers

    def _decode(self, raw: list[np.ndarray], in_h: int, in_w: int, threshold: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        outputs = [r[0] if r.ndim == 3 else r for r in raw]
        groups = len(STRIDES)
        all_boxes, all_scores, all_marks = [], [], []
        for level, stride in enumerate(STRIDES):
            scores = outputs[level].reshape(-1)
            centers = self._anchor_centers(in_h // stride, in_w // stride, stride)
            hit = np.nonzero(scores >= threshold)[0]
            if not hit.size:
                continue
            dist = outputs[level + groups][hit] * stride
            c = centers[hit]
            all_boxes.append(np.concatenate([c - dist[:, :2], c + dist[:, 2:]], axis=1))
            all_scores.append(scores[hit])
            if self.has_landmarks:
                kd = outputs[level + 2 * groups][hit].reshape(-1, 5, 2) * stride
                all_marks.append(c[:, None, :] + kd)
        if not all_scores:
            marks = np.empty((0, 5, 2), np.float32) if self.has_landmarks else None
            return np.empty((0, 4), np.float32), np.empty(0, np.float32), marks
        boxes = np.concatenate(all_boxes).astype(np.float32)
        scores = np.concatenate(all_scores).astype(np.float32)
        marks = np.concatenate(all_marks).astype(np.float32) if self.has_landmarks else None
        return boxes, scores, marks

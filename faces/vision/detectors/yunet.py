"""YuNet (Wu, Peng, Yu, 2023; OpenCV Zoo, MIT licence), decoded by OpenCV's
own ``cv2.FaceDetectorYN``: a 230 KB model, BGR input at any size that is a
multiple of 32, five landmarks in the same order as SCRFD's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ...errors import ModelError
from ..models import Download
from .base import Candidates, Detector

if TYPE_CHECKING:
    from ..runtime import Signature

TOP_K = 5000  # candidates OpenCV keeps before its NMS
STRIDES = (8, 16, 32)


class YuNet(Detector):
    family = "yunet"
    # Measured on the 394 shared WIDER FACE photos: precision 0.88 at 0.6, 0.94 at
    # 0.7 for 2 % less recall (docs/models.md).
    default_score = 0.7
    # Measured: OpenCV runs an int8 (QDQ) copy of YuNet slower than the float
    # one (16.7 against 12.8 ms for a 640 pass on one thread), and YuNet is
    # already the fast family.
    fp32_only = "YuNet runs in float32 (through OpenCV an int8 copy is slower)"
    download = Download(
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
            "face_detection_yunet_2023mar.onnx",
        filename="face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        licence="MIT (OpenCV Zoo)")

    @classmethod
    def matches(cls, signature: Signature) -> bool:
        """Twelve outputs named cls_, obj_, bbox_ and kps_ for strides 8, 16, 32."""
        names = {name for name, _ in signature[1]}
        return names == {f"{kind}_{stride}" for kind in ("cls", "obj", "bbox", "kps")
                         for stride in STRIDES}

    def __init__(self, model_path: str | os.PathLike, *, threads: int = 1,
                 det_size: int = 640, lean: bool = False) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        # OpenCV's DNN warns on every load that its new engine ignores targets.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:  # from the bytes: OpenCV would guess the format from the file's name
            self.net = cv2.FaceDetectorYN.create("onnx", np.fromfile(path, np.uint8),
                                                 np.empty(0, np.uint8), (det_size, det_size),
                                                 0.5, 0.3, TOP_K)
        except cv2.error as exc:
            raise ModelError(f"cannot load model {path}: {exc}") from None
        self.path = path
        self.threads = threads
        self.dynamic = True  # OpenCV reshapes the network to each input
        self.input_size = (det_size, det_size)
        self.has_landmarks = True

    def _candidates(self, image: np.ndarray, input_size: tuple[int, int],
                    threshold: float) -> Candidates:
        height, width = image.shape[:2]
        scale = min(input_size[0] / width, input_size[1] / height)
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        resized = image if size == (width, height) else cv2.resize(image, size)
        self.net.setInputSize(size)
        self.net.setScoreThreshold(threshold)
        cv2.setNumThreads(self.threads)  # OpenCV's thread count is per process:
        try:
            _, rows = self.net.detect(resized)
        finally:
            cv2.setNumThreads(1)  # decoding and encoding keep to one, as in every worker
        if rows is None:
            return (np.empty((0, 4), np.float32), np.empty(0, np.float32),
                    np.empty((0, 5, 2), np.float32))
        rows = rows.astype(np.float32)
        points = rows[:, :14] / np.float32(scale)  # x, y, w, h, then five (x, y)
        boxes = np.concatenate([points[:, :2], points[:, :2] + points[:, 2:4]], axis=1)
        return boxes, rows[:, 14].copy(), points[:, 4:14].reshape(-1, 5, 2)

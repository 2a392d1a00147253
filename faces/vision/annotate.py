"""Draw detected faces onto an image, or hide them."""

from __future__ import annotations

import cv2
import numpy as np

from .detectors.base import Face

BOX_COLOR = (80, 220, 60)       # BGR green
OUTLINE_COLOR = (20, 20, 20)    # dark edge so boxes show on light and dark skin/backgrounds
LANDMARK_COLOR = (40, 200, 255)  # BGR amber


def draw(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """Draw boxes and landmarks on ``image`` (BGR or BGRA) itself; returns it."""
    out = image
    alpha = out.shape[2] == 4
    color = (*BOX_COLOR, 255) if alpha else BOX_COLOR
    outline = (*OUTLINE_COLOR, 255) if alpha else OUTLINE_COLOR
    point = (*LANDMARK_COLOR, 255) if alpha else LANDMARK_COLOR
    thickness = max(2, round(max(out.shape[:2]) / 400))
    for face in faces:
        x1, y1, x2, y2 = (round(v) for v in face.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), outline, thickness + 2, cv2.LINE_AA)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        if face.landmarks:
            radius = max(1, thickness)
            for x, y in face.landmarks:
                cv2.circle(out, (round(x), round(y)), radius, point, -1, cv2.LINE_AA)
    return out


def blur(image: np.ndarray, faces: list[Face], margin: float = 0.15) -> np.ndarray:
    """Pixelate then blur every face in ``image`` itself, past recognition;
    returns it."""
    out = image
    height, width = out.shape[:2]
    for face in faces:
        x1, y1, x2, y2 = face.box
        pad_x, pad_y = (x2 - x1) * margin, (y2 - y1) * margin
        left, top = max(0, int(x1 - pad_x)), max(0, int(y1 - pad_y))
        right, bottom = min(width, int(x2 + pad_x) + 1), min(height, int(y2 + pad_y) + 1)
        if right - left < 2 or bottom - top < 2:
            continue
        region = out[top:bottom, left:right]
        blocks = cv2.resize(region, (6, 6), interpolation=cv2.INTER_AREA)
        coarse = cv2.resize(blocks, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST)
        kernel = max(3, ((right - left) // 4) | 1)
        out[top:bottom, left:right] = cv2.GaussianBlur(coarse, (kernel, kernel), 0)
    return out

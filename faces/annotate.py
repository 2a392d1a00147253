"""Draw detected faces onto a copy of an image."""

from __future__ import annotations

import cv2
import numpy as np

from .detector import Face

BOX_COLOR = (80, 220, 60)       # BGR green
OUTLINE_COLOR = (20, 20, 20)    # dark edge so boxes show on light and dark skin/backgrounds
LANDMARK_COLOR = (40, 200, 255)  # BGR amber


def annotate(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """Return a copy of ``image`` (BGR or BGRA) with boxes and landmarks drawn."""
    out = image.copy()
    alpha = out.shape[2] == 4
    color = (*BOX_COLOR, 255) if alpha else BOX_COLOR
    outline = (*OUTLINE_COLOR, 255) if alpha else OUTLINE_COLOR
    mark = (*LANDMARK_COLOR, 255) if alpha else LANDMARK_COLOR
    thickness = max(2, round(max(out.shape[:2]) / 400))
    for face in faces:
        x1, y1, x2, y2 = (round(v) for v in face.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), outline, thickness + 2, cv2.LINE_AA)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness, cv2.LINE_AA)
        if face.landmarks:
            radius = max(1, thickness)
            for x, y in face.landmarks:
                cv2.circle(out, (round(x), round(y)), radius, mark, -1, cv2.LINE_AA)
    return out

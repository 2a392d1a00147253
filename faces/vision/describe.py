"""People's job in the worker: for each face of a stored photo, its
descriptor (from the worker's recognizer) and a small crop for the People
page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from .contract import FaceDescription
from .decode import decode
from .probe import check_limits, probe

if TYPE_CHECKING:
    from .worker import Worker

CROP_SIDE = 160  # the face crops the People page shows
CROP_QUALITY = 85
# A face at least this high loses nothing in its aligned 112x112 face or its
# 160-pixel crop when the photo is decoded at half, a quarter or an eighth of
# its size: the stored JPEG is then decoded smaller (libjpeg
# scales while decoding), for a fraction of the memory and time.
SHARP_FACE = 250
REDUCED = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
           8: cv2.IMREAD_REDUCED_COLOR_8}


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
                   max_pixels: int) -> list[FaceDescription]:
    """A job: for each face (``{"box", "landmarks"}``) of the stored photo
    ``data``, its descriptor and its crop (JPEG)."""
    image, scale = load(data, faces, max_pixels)
    return describe_in(worker, image, faces, scale)


def chosen(faces: list[dict], min_face: int, max_faces: int) -> list[int]:
    """The positions of the faces People describes (as
    :func:`faces.library.recognition.eligible` chooses them): with
    landmarks, at least ``min_face`` high (or added by hand), the largest
    ``max_faces`` of them, and every added one."""
    found = [n for n, f in enumerate(faces) if f.get("landmarks") and (
        f["box"][3] - f["box"][1] >= min_face or f.get("added"))]
    found.sort(key=lambda n: (faces[n]["box"][2] - faces[n]["box"][0])
               * (faces[n]["box"][3] - faces[n]["box"][1]), reverse=True)
    return found[:max_faces] + [n for n in found[max_faces:] if faces[n].get("added")]


def describe_in(worker: Worker, image: np.ndarray, faces: list[dict], scale: float = 1.0
                ) -> list[FaceDescription]:
    """Each face's descriptor and crop, from decoded pixels (``scale``: of
    the pixels against the faces' boxes)."""
    bgr = np.ascontiguousarray(image[:, :, :3])
    recognizer = worker.recognizer
    marks = [np.asarray(face["landmarks"], np.float64) * scale for face in faces]
    described = recognizer.describe(bgr, marks)
    return [FaceDescription(found.vector.astype(np.float32).tobytes(), found.norm,
                            crop(image, [v * scale for v in face["box"]]), recognizer.family)
            for found, face in zip(described, faces, strict=True)]

"""Bytes to upright 8-bit pixels: BGR, or BGRA when the image has real
transparency. Runs in a worker process, never on the IOLoop.
"""

from __future__ import annotations

import cv2
import numpy as np

from .probe import ImageInfo, ImageRejected, check_limits, probe


def _complete(data: bytes, info: ImageInfo) -> bool:
    """Cheap end-of-file checks that catch truncated uploads decoders forgive."""
    tail = data[-64:].rstrip(b"\x00\r\n ")
    if info.format == "jpeg":
        sos = data.find(b"\xff\xda")
        return sos != -1 and data.find(b"\xff\xd9", sos) != -1
    if info.format == "png":
        return tail.endswith(b"IEND\xaeB`\x82")
    if info.format == "gif":
        return tail.endswith(b";")
    return True


def _to_8bit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    return cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode an upload into an upright uint8 BGR (or BGRA) array.

    EXIF orientation is applied; the header is checked against ``max_pixels``
    before any pixel is decoded.
    """
    info = probe(data)
    check_limits(info, max_pixels)
    if not _complete(data, info):
        raise ImageRejected("truncated_image", "The image file is incomplete (truncated upload?).")
    buffer = np.frombuffer(data, dtype=np.uint8)
    if info.has_alpha:
        image = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    else:
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # applies EXIF orientation
    if image is None or image.size == 0:
        raise ImageRejected("corrupt_image", "The image could not be decoded; the file is damaged.")
    image = _to_8bit(image)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        if int(image[:, :, 3].min()) == 255:
            return np.ascontiguousarray(image[:, :, :3])
        return image
    return image

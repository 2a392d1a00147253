"""What a worker does with one upload: decode, detect, annotate, encode.
Jobs take the worker's state (:class:`faces.vision.worker.Worker`) first; nothing
else is kept between calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from .annotate import blur, draw
from .contract import Options, Rendered
from .decode import decode

if TYPE_CHECKING:
    from .detectors.base import Detector, Face
    from .worker import Worker

THUMBNAIL_SIDE = 400
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 82


def detect(detector: Detector, image: np.ndarray, options: Options) -> list[Face]:
    """Faces in a decoded image (BGR or BGRA), with the options' thresholds
    (a score threshold of 0 is the detector family's own default).

    The first pass keeps the photo's shape (no letterbox padding to detect
    through) and never upscales a photo smaller than the detector's size;
    large photos get the detector's finer detail pass too.
    """
    bgr = image[:, :, :3] if image.shape[2] == 4 else image
    return detector.detect(np.ascontiguousarray(bgr),
                           options.score_threshold or detector.default_score,
                           options.nms_threshold, detector.detail_size, upscale=False,
                           fit=True)


def encode(image: np.ndarray, extension: str, quality: int = JPEG_QUALITY) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if extension == ".jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 6]
    ok, buffer = cv2.imencode(extension, image, params)
    if not ok:
        raise RuntimeError(f"could not encode {extension}")
    return buffer.tobytes()


def thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def extension_for(image: np.ndarray) -> str:
    return ".png" if image.shape[2] == 4 else ".jpg"


def analyse(detector: Detector, data: bytes, options: Options
            ) -> tuple[np.ndarray, list[Face]]:
    """Decode and detect. Raises ImageRejected for a bad image."""
    image = decode(data, options.max_pixels)
    return image, detect(detector, image, options)


def annotate(image: np.ndarray, faces: list[Face], mode: str) -> np.ndarray:
    """Draw (or blur) the faces on ``image`` itself; returns it."""
    return blur(image, faces) if mode == "blur" else draw(image, faces)


def detect_only(worker: Worker, data: bytes, options: Options, annotated: bool) -> dict:
    """Faces JSON, plus the annotated image's bytes when ``annotated``."""
    image, faces = analyse(worker.detector, data, options)
    result: dict = {"width": image.shape[1], "height": image.shape[0],
                    "faces": [face.to_json() for face in faces]}
    if annotated:
        extension = extension_for(image)
        result["image"] = encode(annotate(image, faces, options.mode), extension)
        result["extension"] = extension
    return result


def render(worker: Worker, data: bytes, options: Options) -> Rendered:
    """Process one upload. Raises ImageRejected for a bad image.

    The boxes are drawn on the decoded pixels once the original is encoded,
    so a 12-megapixel photo never needs a second full-size copy. In blur
    mode the faces are hidden first: no unblurred pixels are ever kept.
    """
    image, faces = analyse(worker.detector, data, options)
    extension = extension_for(image)
    if options.mode == "blur":
        blur(image, faces)
    original = encode(image, extension)
    if options.mode == "box" and faces:
        annotated = encode(draw(image, faces), extension)
    else:
        annotated = original
    return Rendered(
        width=image.shape[1],
        height=image.shape[0],
        faces=[face.to_json() for face in faces],
        extension=extension,
        original=original,
        annotated=annotated,
        thumbnail=encode(thumbnail(image), extension, THUMBNAIL_QUALITY),
    )

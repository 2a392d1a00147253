"""What a worker process does with one upload: decode, detect, annotate,
encode. Pure functions of their inputs plus the detector loaded once per
process by :func:`init_worker`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from .annotate import annotate, blur
from .decode import decode
from .detector import SCRFD, Face

T = TypeVar("T")

THUMBNAIL_SIDE = 400
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 82

# Set by init_worker, once per worker process: one detector per thread count
# (1, and the solo count when above 1), and the one the current job uses.
_detectors: dict[int, SCRFD] = {}
_detector: SCRFD | None = None
_warm_barrier = None  # shared by the pool's workers during warm-up


MODES = ("box", "blur")


@dataclass(frozen=True)
class Options:
    max_pixels: int
    score_threshold: float = 0.5
    nms_threshold: float = 0.4
    mode: str = "box"  # "box": mark faces; "blur": hide them (no unblurred copy is kept)
    detail_side: int = 960  # finer second pass for large photos (0 = off)

    @classmethod
    def from_settings(cls, settings: object, mode: str = "box") -> Options:
        """The pipeline's share of the server settings (faces.settings.Settings)."""
        return cls(max_pixels=settings.max_pixels, score_threshold=settings.score_threshold,
                   nms_threshold=settings.nms_threshold, mode=mode,
                   detail_side=settings.detail_size)


@dataclass(frozen=True)
class Rendered:
    """A processed photo: metadata and the three re-encoded files."""

    width: int
    height: int
    faces: list[dict]
    extension: str  # ".jpg", or ".png" for images with transparency
    original: bytes
    annotated: bytes
    thumbnail: bytes


def init_worker(model_path: str, det_size: int, barrier: object = None,
                solo_threads: int = 1) -> None:
    """Pool initializer: load the model once in this process.

    With ``solo_threads`` above 1 a second session is loaded that spreads one
    detection over that many threads; :func:`job` picks it while no other
    photo is being processed (one upload on an idle server: about half the
    wait). It is lean: it keeps no memory arena between runs.
    """
    global _warm_barrier
    cv2.setNumThreads(1)
    _detectors.clear()
    _detectors[1] = SCRFD(model_path, threads=1, det_size=det_size)
    if solo_threads > 1:
        _detectors[solo_threads] = SCRFD(model_path, threads=solo_threads, det_size=det_size,
                                         lean=True)
    use_threads(1)
    _warm_barrier = barrier


def use_threads(threads: int) -> None:
    """Detect with the session for ``threads`` threads (else the 1-thread one)."""
    global _detector
    _detector = _detectors.get(threads) or _detectors.get(1)


def active_threads() -> int:
    """Threads the current job's detection uses (for tests and diagnostics)."""
    return _detector.threads if _detector is not None else 0


def job(threads: int, fn: Callable[..., T], *args: object) -> T:
    """The pool's entry point: ``fn(*args)`` with detection on ``threads`` threads."""
    use_threads(threads)
    return fn(*args)


def warm() -> int:
    """Run one detection on every session so the first real upload is not the
    slow one, then wait for the other workers' warm-up, so that every worker
    gets one."""
    for detector in _detectors.values():
        detector.detect(np.zeros((64, 64, 3), np.uint8))
    if _warm_barrier is not None:
        _warm_barrier.wait(timeout=120)
    return os.getpid()


def detect(image: np.ndarray, score_threshold: float, nms_threshold: float,
           detail_side: int = 0) -> list[Face]:
    if _detector is None:
        raise RuntimeError("worker used before init_worker loaded the model")
    bgr = image[:, :, :3] if image.shape[2] == 4 else image
    # Photos smaller than the detector input are not upscaled: faster, and
    # the same faces on the shared photos (tests check the counts).
    return _detector.detect(np.ascontiguousarray(bgr), score_threshold, nms_threshold,
                            detail_side, upscale=False)


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


def analyse(data: bytes, options: Options) -> tuple[np.ndarray, list[Face]]:
    """Decode and detect. Raises ImageRejected for a bad image."""
    image = decode(data, options.max_pixels)
    return image, detect(image, options.score_threshold, options.nms_threshold,
                         options.detail_side)


def mark(image: np.ndarray, faces: list[Face], mode: str) -> np.ndarray:
    """Box (or blur) the faces on ``image`` itself; returns it."""
    return blur(image, faces) if mode == "blur" else annotate(image, faces)


def detect_only(data: bytes, options: Options, annotated: bool) -> dict:
    """Faces JSON, plus the marked image's bytes when ``annotated``."""
    image, faces = analyse(data, options)
    result: dict = {"width": image.shape[1], "height": image.shape[0],
                    "faces": [face.to_json() for face in faces]}
    if annotated:
        extension = extension_for(image)
        result["image"] = encode(mark(image, faces, options.mode), extension)
        result["extension"] = extension
    return result


def render(data: bytes, options: Options) -> Rendered:
    """Process one upload. Raises ImageRejected for a bad image.

    The boxes are drawn on the decoded pixels once the original is encoded,
    so a 12-megapixel photo never needs a second full-size copy. In blur
    mode the faces are hidden first: no unblurred pixels are ever kept.
    """
    image, faces = analyse(data, options)
    extension = extension_for(image)
    if options.mode == "blur":
        blur(image, faces)
    original = encode(image, extension)
    if options.mode == "box" and faces:
        annotated = encode(annotate(image, faces), extension)
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

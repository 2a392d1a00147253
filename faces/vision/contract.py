"""The contract between the server and its workers: what a detection job is
asked to do (:class:`Options`) and what it gives back (:class:`Rendered`).
One light module (no OpenCV, no onnxruntime), so the server process, the
use cases and the API document share it with the workers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest

MODES = ("box", "blur")  # box: draw the faces; blur: hide them (no unblurred copy is kept)
THRESHOLD_RANGE = (0.05, 0.95)  # a per-upload score threshold must lie in this range


@dataclass(frozen=True)
class Options:
    """How one photo is processed."""

    max_pixels: int
    score_threshold: float = 0.0  # 0: the detector family's own default
    nms_threshold: float = 0.4
    mode: str = "box"

    @classmethod
    def from_settings(cls, settings: Any, mode: str = "box") -> Options:
        """The job's share of the server settings (faces.settings.Settings)."""
        return cls(max_pixels=settings.max_pixels, score_threshold=settings.score_threshold,
                   nms_threshold=settings.nms_threshold, mode=mode)

    def choose(self, mode: str | None, threshold: str | None) -> Options:
        """These options with an upload's own ``mode`` and ``threshold``
        (text, as sent; None or empty keeps the default). Raises BadRequest."""
        mode = mode or self.mode
        if mode not in MODES:
            raise BadRequest("bad_mode", f"mode must be {' or '.join(map(repr, MODES))}.")
        score = self.score_threshold
        if threshold:
            low, high = THRESHOLD_RANGE
            try:
                score = float(threshold)
            except ValueError:
                score = -1.0
            if not low <= score <= high:
                raise BadRequest("bad_threshold",
                                  f"threshold must be a number from {low} to {high}.")
        return dataclasses.replace(self, mode=mode, score_threshold=score)

    def variant(self, default: Options, family_score: float = 0.0) -> str:
        """'' for the default processing, else what sets it apart (part of
        the photo id, so a blurred copy is a different photo). Thresholds
        count as they apply: 0 is the family's own (``family_score``), so a
        blurred SCRFD upload is "blur:0.5", as the first build named it."""
        score = self.score_threshold or family_score
        if (self.mode, score) == (default.mode, default.score_threshold or family_score):
            return ""
        return f"{self.mode}:{score}"


@dataclass(frozen=True)
class Rendered:
    """A processed photo: its size, faces, the three files made from it
    (upright, re-encoded, carrying no metadata), and what the file said
    about itself. The uploaded bytes themselves never travel back: the
    server has them."""

    width: int
    height: int
    faces: list[dict]
    extension: str  # of the made files: ".jpg", or ".png" for images with transparency
    display: bytes
    annotated: bytes
    thumbnail: bytes
    # The people the photo's XMP names: face position -> name (the faces
    # include those added for a named region no detected face matched).
    names: dict[int, str] = field(default_factory=dict)
    source_extension: str = ".jpg"  # the uploaded file's own (".heic", ".tif", ...)
    metadata: Any = None  # faces.vision.metadata.Metadata
    # People's descriptions of its faces, made from the same decoded pixels
    # when asked (face position -> FaceDescription): no second decode later
    described: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FaceDescription:
    """One face as a recognizer described it (People's job)."""

    vector: bytes  # unit-length float32
    norm: float  # the raw descriptor's length: how far the recognizer vouches for the face
    crop: bytes  # a small JPEG of the face
    family: str  # the recognizer family that described it

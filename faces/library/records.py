"""The library's records: a photo and its faces, a person, and the ids and
page sizes that name and page them. Plain data: no URLs (the web side makes
those), no SQL (the catalogue reads and writes them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePath

ID_LENGTH = 24  # hex characters of the SHA-256 of the uploaded bytes (96 bits)
ID_REGEX = rf"^[0-9a-f]{{{ID_LENGTH}}}$"
ID_PATTERN = re.compile(ID_REGEX)
PERSON_REGEX = r"^[0-9a-f]{12}$"
PERSON_PATTERN = re.compile(PERSON_REGEX)
PAGE_SIZE = 48  # photos per page of the gallery and the API, by default
MAX_PAGE_SIZE = 200


def content_id(data: bytes, variant: str = "") -> str:
    """The photo id: a hash of the uploaded bytes (and of non-default
    processing options, so a blurred copy is a different photo)."""
    digest = hashlib.sha256(data)
    if variant:
        digest.update(b"\0" + variant.encode())
    return digest.hexdigest()[:ID_LENGTH]


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Photo:
    """A stored photo: its three files' names and its faces, each a dict with
    ``box``, ``score``, ``landmarks`` and, once catalogued, ``id`` and
    ``person``."""

    id: str
    filename: str
    created: str
    width: int
    height: int
    faces: list[dict]
    original: str
    annotated: str
    thumbnail: str

    def record(self) -> dict:
        """Every field, as stored in the catalogue and the metadata sidecar."""
        return dataclasses.asdict(self)

    def files(self) -> list[str]:
        return [self.original, self.annotated, self.thumbnail]

    def export_name(self) -> str:
        """Its file name with its stored original's extension (a HEIC upload
        is stored as JPEG)."""
        stem = PurePath(self.filename).stem or self.id
        return stem + PurePath(self.original).suffix


@dataclass(frozen=True)
class Person:
    id: str
    name: str | None
    hidden: bool
    created: str
    faces: int
    photos: int
    cover: str | None  # the crop file of the person's cover face


def crop_name(photo_id: str, face_id: int) -> str:
    """A face's crop file: named by its photo too, as face ids may be reused."""
    return f"{photo_id}.{face_id}.jpg"


@dataclass(frozen=True)
class Described:
    """What recognition keeps of a face: its descriptor (unit-length float32,
    as bytes), how far the recognizer vouches for it (0-1), which recognizer
    made it, and its crop file."""

    vector: bytes
    quality: float
    recognizer: str
    crop: str


@dataclass(frozen=True)
class FaceOf:
    """One of a person's faces, as the person's page lists them."""

    id: int
    photo: str
    crop: str | None
    pinned: bool  # placed there by the user
    quality: float

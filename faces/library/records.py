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
    """A stored photo: its files' names, its faces (each a dict with
    ``box``, ``score``, ``landmarks`` and, once catalogued, ``id`` and
    ``person``), and what the file said about itself.

    ``display`` is the upright copy every page shows (JPEG or PNG, no
    metadata); ``original`` the uploaded file itself, byte for byte (None:
    a blurred upload keeps none, and a gallery from before kept only its
    copy). ``taken`` is ISO 8601 wall-clock time, with its offset when the
    file gave one; ``taken_source`` says where it came from ("user",
    "DateTimeOriginal", "CreateDate", "XMP ...", "file", "upload")."""

    id: str
    filename: str
    created: str
    width: int
    height: int
    faces: list[dict]
    display: str
    annotated: str
    thumbnail: str
    original: str | None = None
    taken: str | None = None
    taken_source: str | None = None
    make: str | None = None
    model: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    orientation: int = 1
    # where it is in the library folders ("<root>/<path>", online ones first;
    # () for an upload alone), and whether its file can be read now (an upload
    # always; a library photo while one of its places is there)
    places: tuple[str, ...] = ()
    online: bool = True

    def record(self) -> dict:
        """Every field stored in the catalogue's photo row and the metadata
        sidecar (its places are the catalogue's alone: they change as files move)."""
        found = dataclasses.asdict(self)
        del found["places"], found["online"]
        return found

    @classmethod
    def from_record(cls, record: dict) -> Photo:
        """A photo from :meth:`record` (also one written before the
        original was kept, whose "original" was the display copy)."""
        if "display" not in record:
            record = {**record, "display": record.get("original"), "original": None}
        known = {f.name for f in dataclasses.fields(cls)} - {"places", "online"}
        return cls(**{k: v for k, v in record.items() if k in known})

    def files(self) -> list[str]:
        return list(dict.fromkeys(
            name for name in (self.original, self.display, self.annotated, self.thumbnail)
            if name))

    def export_name(self) -> str:
        """Its file name with the extension of the file an export writes:
        the original's, else the display copy's."""
        stem = PurePath(self.filename).stem or self.id
        return stem + self.original_suffix

    @property
    def original_suffix(self) -> str:
        """The extension of its original: the kept upload's, the library
        file's (as it is named there), else its display copy's."""
        if self.original:
            return PurePath(self.original).suffix
        if self.places:
            return PurePath(self.places[0]).suffix.lower()
        return PurePath(self.display).suffix

    @property
    def taken_key(self) -> str:
        """What the timeline sorts by: the wall-clock time taken, fixed width."""
        return taken_key(self.taken or self.created)


def taken_key(when: str) -> str:
    """"2019-03-14T15:09:26.120000" from an ISO 8601 time (its offset, or Z,
    dropped: wall clock is what a family's timeline is read in)."""
    text = when.strip()
    for marker in ("Z", "+", "-"):
        cut = text.rfind(marker)
        if (marker != "-" and cut > 9) or (marker == "-" and cut > 9 and ":" in text[cut:]):
            text = text[:cut]
            break
    day, _, time_ = text.partition("T")
    clock, _, fraction = time_.partition(".")
    clock = (clock + ":00:00:00")[:8] if clock else "00:00:00"
    return f"{day}T{clock}.{(fraction + '000000')[:6]}"


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

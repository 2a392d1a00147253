"""What the library tells every open page: one record per kind of change.
The use cases publish them; the web side (:mod:`faces.web.live`) turns them
into WebSocket messages. The command line publishes into :class:`Silent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from .records import Person, Photo


@dataclass(frozen=True)
class PhotoAdded:
    photo: Photo


@dataclass(frozen=True)
class PhotoDeleted:
    id: str


@dataclass(frozen=True)
class PhotoChanged:
    """A photo's faces changed (the user drew one)."""

    photo: Photo


@dataclass(frozen=True)
class PhotosRecognized:
    """Photos that went through recognition, with their faces' people."""

    photos: list[Photo]


@dataclass(frozen=True)
class FaceMoved:
    id: int
    photo: str
    person: str | None


@dataclass(frozen=True)
class FacesChanged:
    faces: list[FaceMoved]


@dataclass(frozen=True)
class PeopleChanged:
    people: list[Person]
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RecognitionState:
    state: str  # "on", "off", "stopped"
    backlog: int  # photos waiting for recognition
    redescribing: int = 0  # of them, photos described again for a new recognizer


@dataclass(frozen=True)
class EditProgress:
    """How far a long edit of the people is (one that moves thousands of
    faces): ``stage`` "looking" (for the faces it gathers) or "writing"."""

    action: str  # "naming", "merging", "splitting", "editing"
    person: str | None
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class LibraryChanged:
    """The library folders' state: each root's, with its scan's progress
    (:class:`faces.library.folders.RootStatus`)."""

    roots: list


Event = PhotoAdded | PhotoDeleted | PhotoChanged | PhotosRecognized | FacesChanged | \
    PeopleChanged | RecognitionState | EditProgress | LibraryChanged


class Events(Protocol):
    """Where the use cases publish."""

    def publish(self, event: Event) -> None: ...


class Silent:
    """No one is listening (the command line)."""

    def publish(self, event: Event) -> None:
        pass

"""The library's records as the web shows them: JSON with the URLs of their
files and pages (records carry none; every URL is made here), and the
events as WebSocket messages."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..library import events
from ..library.folders import RootStatus
from ..library.people import Suggestion
from ..library.records import FaceOf, Person, Photo

UPLOADS = "/uploads/"  # the photos' files (web.files serves them)
CROPS = "/crops/"  # the faces' crops


def when(seconds: float | None) -> str | None:
    """An instant (seconds since the epoch) as ISO 8601 UTC; None stays None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def photo_urls(photo: Photo) -> dict[str, str | None]:
    """Its files: the upright copy the pages show, the annotated copy, the
    thumbnail (all carrying no metadata), the original as uploaded (a
    download; None when none is kept) and its face names as XMP."""
    return {"display": UPLOADS + photo.display, "annotated": UPLOADS + photo.annotated,
            "thumbnail": UPLOADS + photo.thumbnail,
            "original": f"/api/photos/{photo.id}/original"
            if photo.original or photo.places else None,
            "xmp": f"/api/photos/{photo.id}/xmp"}


def photo_json(photo: Photo) -> dict[str, Any]:
    place = None if photo.latitude is None else \
        {"latitude": photo.latitude, "longitude": photo.longitude}
    return {"id": photo.id, "filename": photo.filename, "created": photo.created,
            "taken": photo.taken, "taken_source": photo.taken_source,
            "width": photo.width, "height": photo.height, "faces": photo.faces,
            "original_kept": photo.original is not None or bool(photo.places),
            "paths": list(photo.places), "online": photo.online,
            "camera": {"make": photo.make, "model": photo.model},
            "place": place, "urls": photo_urls(photo)}


def root_json(status: RootStatus) -> dict[str, Any]:
    """A library folder: where, its state (and why), what it holds, its scan."""
    return {"id": status.root.id, "path": status.root.path, "state": status.state,
            "why": status.why or None, "source": status.root.source,
            "watching": status.watching, "photos": status.photos,
            "offline": status.offline, "held": status.held,
            "problems": {"files": status.problems,
                         "first": [{"path": path, "why": why}
                                   for path, why in status.problem_files],
                         "folders": [{"path": path, "why": why}
                                     for path, why in status.folder_problems.items()]},
            "scan": {"running": status.scanning or status.waiting > 0, "done": status.done,
                     "total": status.total, "waiting": status.waiting,
                     "last": status.last_scan, "passes": status.passes},
            "urls": {"photos": f"/?folder={status.root.id}/"}}


def person_urls(person: Person) -> dict[str, str | None]:
    return {"cover": CROPS + person.cover if person.cover else None,
            "photos": f"/api/photos?person={person.id}",
            "page": f"/?person={person.id}"}


def person_json(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.name, "hidden": person.hidden,
            "faces": person.faces, "photos": person.photos, "urls": person_urls(person)}


def face_of_json(face: FaceOf) -> dict[str, Any]:
    return {"id": face.id, "photo": face.photo,
            "crop": CROPS + face.crop if face.crop else None, "pinned": face.pinned}


def suggestion_json(found: Suggestion) -> dict[str, Any]:
    return {"a": person_json(found.a), "b": person_json(found.b), "distance": found.distance}


def face_moved_json(face: events.FaceMoved) -> dict[str, Any]:
    return {"id": face.id, "photo": face.photo, "person": face.person}


def event_json(event: events.Event) -> dict[str, Any]:
    """The WebSocket message for one of the library's events."""
    if isinstance(event, events.PhotoAdded):
        return {"type": "photo.added", "photo": photo_json(event.photo)}
    if isinstance(event, events.PhotoDeleted):
        return {"type": "photo.deleted", "id": event.id}
    if isinstance(event, events.PhotoChanged):
        return {"type": "photo.changed", "photo": photo_json(event.photo)}
    if isinstance(event, events.PhotosRecognized):
        return {"type": "photos.recognized", "photos": [photo_json(p) for p in event.photos]}
    if isinstance(event, events.FacesChanged):
        return {"type": "faces.changed", "faces": [face_moved_json(f) for f in event.faces]}
    if isinstance(event, events.PeopleChanged):
        return {"type": "people.changed", "people": [person_json(p) for p in event.people],
                "removed": event.removed}
    if isinstance(event, events.RecognitionState):
        return {"type": "recognition", "state": event.state, "backlog": event.backlog,
                "redescribing": event.redescribing}
    if isinstance(event, events.LibraryChanged):
        return {"type": "library", "roots": [root_json(status) for status in event.roots]}
    if isinstance(event, events.EditProgress):
        return {"type": "people.progress", "action": event.action, "person": event.person,
                "stage": event.stage, "done": event.done, "total": event.total}
    raise TypeError(f"not an event: {event!r}")

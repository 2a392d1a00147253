"""People, the use case: recognition of stored photos in the background,
grouping faces into people as they arrive, and the user's edits (name,
hide, merge, move a face), each told to every open page.

Recognition never slows an upload: ``photo.added`` goes out when detection
is done, as before; the photo then waits in a queue (the backlog, oldest
first, also what a restart resumes: the catalogue marks photos done), and
a job is sent to the workers only while one of them is idle, a few faces at
a time, so an upload never waits long behind it. Its result goes out as
``photos.recognised`` (the photos recognised in the last half second, with
their faces' people); changes to people as ``people.changed`` and
``faces.changed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from .backends import Backend, BackendUnavailable
from .detectors import ModelError
from .grouping import Changes, Grouping
from .hub import Hub
from .options import Refused
from .store import Photo, Store, crop_name
from .worker import DESCRIBE

log = logging.getLogger(__name__)

FACES_PER_JOB = 8  # about 0.6 s of one worker: an upload waits at most that long
# Background recognition's own changes (people, faces, the backlog) go out
# gathered, at most this often: with a thousand pages open, one event per
# recognised photo and kind was thousands of WebSocket writes a second.
# The user's own edits go out at once.
GATHER_SECONDS = 1.0
IDLE_POLL = 0.05  # seconds between looks for an idle worker
NEW = "new"  # PUT /api/faces/<id>/person {"person": "new"}: a person of its own
MAX_NAME = 100


class NotFound(Refused):
    """No such person or face."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"No such {what}.")


@dataclass(frozen=True)
class RecognitionConfig:
    enabled: bool
    min_face: int = 50  # faces at least this many pixels high are recognised
    max_faces: int = 50  # per photo, largest first
    max_pixels: int = 50_000_000

    @classmethod
    def from_settings(cls, settings: object, enabled: bool) -> RecognitionConfig:
        return cls(enabled=enabled, min_face=settings.recognition_min_face,
                   max_faces=settings.recognition_max_faces, max_pixels=settings.max_pixels)


def eligible(photo: Photo, config: RecognitionConfig) -> list[dict]:
    """The photo's faces that get a descriptor: with landmarks, large
    enough, the largest ``max_faces`` of them."""
    faces = [f for f in photo.faces
             if f.get("landmarks") and f["box"][3] - f["box"][1] >= config.min_face]
    faces.sort(key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]),
               reverse=True)
    return faces[: config.max_faces]


class People:
    def __init__(self, store: Store, backend: Backend | None, hub: Hub,
                 config: RecognitionConfig) -> None:
        self.store = store
        self.backend = backend
        self.hub = hub
        self.config = config
        self.grouping = Grouping()
        self.queue: deque[str] = deque()
        self.busy: str | None = None  # the photo being recognised now
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.failed: str = ""  # why recognition stopped, if it did
        self._gathered = Changes()  # recognition's changes not announced yet
        self._recognised: list[str] = []  # photos recognised, not announced yet
        self._told_backlog: tuple[str, int] = ("", -1)
        self._flush: asyncio.TimerHandle | None = None

    # -- life cycle ------------------------------------------------------------

    def load(self) -> None:
        """Put every stored descriptor back in memory; queue photos not done."""
        for face_id, photo, blob, person, pinned in self.store.descriptors():
            self.grouping.insert(face_id, photo, np.frombuffer(blob, np.float32), person,
                                 bool(pinned))
        for person in self.store.named_people():
            self.grouping.set_named(person, True)
        if self.config.enabled:
            self.queue.extend(self.store.waiting())
        log.info("people: %d described faces in memory, %d photos waiting for recognition%s",
                 len(self.grouping), len(self.queue),
                 "" if self.config.enabled else " (recognition is off)")

    def start(self) -> None:
        self.load()
        if self.config.enabled:
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._flush is not None:
            self._flush.cancel()

    @property
    def backlog(self) -> int:
        """Photos waiting for recognition (the one in progress included)."""
        return len(self.queue) + (self.busy is not None)

    @property
    def state(self) -> str:
        if not self.config.enabled:
            return "off"
        return "stopped" if self.failed else "on"

    # -- photos come and go ----------------------------------------------------

    def photo_added(self, photo: Photo) -> None:
        if self.config.enabled and not self.failed:
            self.queue.append(photo.id)
            self._wake.set()
            self._later()

    def photo_deleted(self, photo: Photo) -> None:
        """Its faces leave their people; a person left with none is gone."""
        if photo.id in self.queue:
            self.queue.remove(photo.id)
        changes = self.grouping.remove([f["id"] for f in photo.faces if f.get("id")])
        self._apply(changes)

    # -- the background queue -------------------------------------------------

    async def _run(self) -> None:
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            photo_id = self.queue.popleft()
            self.busy = photo_id
            try:
                await self.recognise(photo_id)
            except BackendUnavailable as exc:  # workers restarting: try again soon
                log.warning("recognition of %s postponed: %s", photo_id, exc)
                self.queue.appendleft(photo_id)
                await asyncio.sleep(1.0)
            except ModelError as exc:
                self.failed = str(exc)
                log.error("recognition stopped: %s", exc)
                self.queue.appendleft(photo_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recognition of photo %s failed; it is left out of People",
                              photo_id)
                self.store.recognised(photo_id, {})
            finally:
                self.busy = None
                self._later()

    async def _idle_worker(self) -> None:
        """Wait until a worker has nothing to do (uploads go first)."""
        while self.backend.pending >= self.backend.workers:
            await asyncio.sleep(IDLE_POLL)

    async def recognise(self, photo_id: str) -> None:
        """Describe a stored photo's faces, group them, tell every page."""
        photo = self.store.get(photo_id)
        if photo is None:
            return
        faces = eligible(photo, self.config)
        described: dict[int, tuple[bytes, str]] = {}
        if faces:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(
                None, (self.store.photos_dir / photo.original).read_bytes)
            for start in range(0, len(faces), FACES_PER_JOB):
                chunk = faces[start:start + FACES_PER_JOB]
                await self._idle_worker()
                results = await self.backend.run(
                    DESCRIBE, data, [{"box": f["box"], "landmarks": f["landmarks"]}
                                     for f in chunk], self.config.max_pixels)
                for face, (blob, jpeg) in zip(chunk, results, strict=True):
                    name = crop_name(photo_id, face["id"])
                    await loop.run_in_executor(None, self.store.write_file, name, jpeg,
                                               self.store.crops_dir)
                    described[face["id"]] = (blob, name)
        if self.store.get(photo_id) is None:  # deleted meanwhile: its crops go too
            for _, name in described.values():
                (self.store.crops_dir / name).unlink(missing_ok=True)
            return
        self.store.recognised(photo_id, described)
        changes = self.grouping.add_photo(photo_id, [
            (face_id, np.frombuffer(blob, np.float32))
            for face_id, (blob, _) in described.items()])
        self._apply(changes, announce=False)
        self._recognised.append(photo_id)
        self._later(changes)

    # -- the user's edits ------------------------------------------------------

    def person(self, person_id: str) -> dict:
        found = self.store.person(person_id)
        if found is None:
            raise NotFound("person")
        return found.to_json()

    def edit(self, person_id: str, body: dict) -> dict:
        """PATCH: ``{"name": text or null}`` and/or ``{"hidden": bool}``."""
        if self.store.person(person_id) is None:
            raise NotFound("person")
        unknown = set(body) - {"name", "hidden"}
        if not body or unknown:
            raise Refused("bad_request", "Send a JSON object with \"name\" and/or "
                          "\"hidden\".")
        hidden = body.get("hidden")
        if "hidden" in body and not isinstance(hidden, bool):
            raise Refused("bad_request", "\"hidden\" must be true or false.")
        changes = Changes()
        if "name" in body:
            name = body["name"]
            if name is not None and not isinstance(name, str):
                raise Refused("bad_request", "\"name\" must be text or null.")
            name = " ".join(name.split()) if name else None
            if name and len(name) > MAX_NAME:
                raise Refused("bad_request", f"A name has at most {MAX_NAME} characters.")
            self.store.update_person(person_id, name=name, clear_name=name is None)
            if name:
                changes = self.grouping.named_now(person_id)
            else:
                self.grouping.set_named(person_id, False)
        if hidden is not None:
            self.store.update_person(person_id, hidden=hidden)
        changes.created.append(person_id)  # announce it, changed or not
        self._apply(changes)
        return self.person(person_id)

    def merge(self, person_id: str, body: dict) -> dict:
        """POST merge: ``{"people": [ids]}`` become ``person_id``."""
        sources = body.get("people") if isinstance(body, dict) else None
        if not isinstance(sources, list) or not sources or \
                not all(isinstance(s, str) for s in sources):
            raise Refused("bad_request", "Send {\"people\": [\"<id>\", ...]}: the people to "
                          "merge into this one.")
        found = [self.store.person(person) for person in [person_id, *sources]]
        if None in found:
            raise NotFound("person")
        if found[0].name is None:  # the merged person keeps a name one of them had
            names = [p.name for p in found[1:] if p.name]
            if names:
                self.store.update_person(person_id, name=names[0])
                self.grouping.set_named(person_id, True)
        self._apply(self.grouping.merge(person_id, sources), pinned=True)
        return self.person(person_id)

    def move(self, face_id: int, body: dict) -> dict:
        """PUT a face's person: ``{"person": id | "new" | null}``; the face
        stays where the user put it."""
        if not isinstance(body, dict) or set(body) != {"person"}:
            raise Refused("bad_request", "Send {\"person\": \"<id>\"}, {\"person\": \"new\"} "
                          "or {\"person\": null}.")
        target = body["person"]
        if target is not None and not isinstance(target, str):
            raise Refused("bad_request", "\"person\" must be an id, \"new\" or null.")
        if self.store.face(face_id) is None:
            raise NotFound("face")
        if face_id not in self.grouping.row_of:  # no descriptor: nothing to group it by
            raise Refused("not_recognised", "This face has not been recognised (it is too "
                          "small, or still waiting): it cannot be put in a person.")
        if target == NEW:
            target, changes = self.grouping.create(face_id)
        else:
            if target is not None and self.store.person(target) is None:
                raise NotFound("person")
            changes = self.grouping.move(face_id, target)
        self._apply(changes, pinned=True)
        photo, person = self.store.face(face_id)
        return {"id": face_id, "photo": photo, "person": person}

    def list(self, hidden: bool) -> list[dict]:
        return [p.to_json() for p in self.store.people(hidden)]

    # -- writing and telling ---------------------------------------------------

    def _apply(self, changes: Changes, pinned: bool = False, announce: bool = True) -> None:
        if not changes:
            return
        self.store.regroup(changes.faces, changes.created, changes.emptied, pinned)
        if announce:
            self._announce(changes)

    def _later(self, changes: Changes | None = None) -> None:
        """Announce recognition's changes and the backlog soon, gathered."""
        if changes:
            gathered = self._gathered
            gathered.faces.update(changes.faces)
            gathered.created += changes.created
            gathered.emptied += changes.emptied
            gathered.left |= changes.left
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(GATHER_SECONDS,
                                                               self._announce_gathered)

    def _announce_gathered(self) -> None:
        self._flush = None
        gathered, self._gathered = self._gathered, Changes()
        recognised, self._recognised = self._recognised, []
        photos = [photo for photo in map(self.store.get, recognised) if photo is not None]
        if photos:
            self.hub.broadcast({"type": "photos.recognised",
                                "photos": [photo.to_json() for photo in photos]})
        self._announce(gathered, told=set(recognised))
        backlog = (self.state, self.backlog)
        if backlog != self._told_backlog:
            self._told_backlog = backlog
            self.hub.broadcast({"type": "recognition", "state": backlog[0],
                                "backlog": backlog[1]})

    def _announce(self, changes: Changes, told: set[str] = frozenset()) -> None:
        """``faces.changed`` and ``people.changed`` for ``changes`` (faces of
        the photos in ``told`` went out with them already)."""
        if not changes:
            return
        faces = [{"id": face_id, "photo": self.grouping.photo_of(face_id), "person": person}
                 for face_id, person in changes.faces.items()]
        faces = [face for face in faces  # (a photo deleted since is left out)
                 if face["photo"] is not None and face["photo"] not in told]
        if faces:
            self.hub.broadcast({"type": "faces.changed", "faces": faces})
        people = {p: self.store.person(p) for p in sorted(changes.people())}
        self.hub.broadcast({"type": "people.changed",
                            "people": [p.to_json() for p in people.values() if p is not None],
                            "removed": [p for p in changes.emptied if people[p] is None]})

"""People, the use case: faces grouped into people (:mod:`.grouping`, in
memory, loaded from the catalogue at start), read, and corrected by the
user: name, hide, merge, move a face, "not this person", split, "same
person?" answered yes or no. Each edit is written to the catalogue and told
to every open page at once.

Recognition (:mod:`.recognition`) hands each photo's new descriptors to
:meth:`People.group`; its changes are announced by it, gathered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadRequest, Conflict, NotFound
from .catalogue import Catalogue
from .events import EditProgress, Event, Events, FaceMoved, FacesChanged, PeopleChanged
from .grouping import DEFAULT_FAMILY, Changes, Grouping
from .records import Described, FaceOf, Person, Photo

log = logging.getLogger(__name__)

NEW = "new"  # move a face to "new": a person of its own
MAX_NAME = 100
PROGRESS_AFTER = 1.0  # seconds an edit runs before it tells how far it is
PROGRESS_EVERY = 0.25  # seconds between two of its progress reports


@dataclass(frozen=True)
class Unset:
    """A field the user did not send (as opposed to one sent as null)."""


UNSET = Unset()


@dataclass(frozen=True)
class Suggestion:
    """Two people who may be one ("same person?"), and how far apart."""

    a: Person
    b: Person
    distance: float


def no_person() -> NotFound:
    return NotFound("not_found", "No such person.")


def no_face() -> NotFound:
    return NotFound("not_found", "No such face.")


class People:
    def __init__(self, catalogue: Catalogue, events: Events) -> None:
        self.catalogue = catalogue
        self.events = events
        self.grouping = Grouping()
        self.changes = 0  # counts every change to the people (what caches key on)
        self.loaded = False  # the stored faces are in memory
        self._suggested: tuple[tuple[int, int], list[Suggestion]] | None = None
        self._pending: set[asyncio.Future] = set()  # changes asked for in the background

    def load(self, family: str = DEFAULT_FAMILY) -> None:
        """Put every face the recognizer ``family`` described back in memory,
        with what the user decided. Reads the whole library: run it off the
        event loop (it reads through a connection of its own); the grouping
        is swapped in whole when it is ready."""
        grouping = Grouping(family)
        with self.catalogue.reader() as reader:
            # (every face as the count: faces another recognizer described,
            # if any, are described again by this one soon after)
            grouping.load(reader.descriptors(family), reader.faces_stored())
            for person in reader.named_people():
                grouping.set_named(person, True)
            for face_id, person in reader.rejections():
                grouping.reject(face_id, person)
            for a, b in reader.differences():
                grouping.set_different(a, b)
        self.grouping = grouping
        self.changes += 1
        self.loaded = True
        log.info("people: %d faces described by %s in memory", len(grouping), family)

    # -- reading -------------------------------------------------------------------

    def person(self, person_id: str) -> Person:
        found = self.catalogue.person(person_id)
        if found is None:
            raise no_person()
        return found

    def list(self, hidden: bool = False) -> list[Person]:
        """Everyone, most photos first (hidden people only when asked)."""
        return self.catalogue.people(hidden)

    def page(self, limit: int, after: str | None = None, hidden: bool = False
             ) -> tuple[list[Person], bool]:
        """A page of people, most photos first, after the person ``after``;
        and whether more follow. Raises NotFound for an unknown ``after``."""
        found = self.catalogue.people_page(limit + 1, after, hidden)
        if found is None:
            raise NotFound("not_found", "No person has the id given in 'before'.")
        return found[:limit], len(found) > limit

    def faces(self, person_id: str, limit: int, before: int | None = None) -> list[FaceOf]:
        """A person's faces, newest first, older than the face ``before``."""
        self.person(person_id)
        return self.catalogue.faces_of(person_id, limit, before)

    def named(self) -> list[Person]:
        return self.catalogue.named()

    async def suggestions(self, limit: int = 20) -> list[Suggestion]:
        """People who may be one, nearest first (none the user answered).
        Comparing every person with every other runs on another thread (a
        copy of the prototypes), and is kept until the people change."""
        key = (self.changes, limit)
        if self._suggested is not None and self._suggested[0] == key:
            return self._suggested[1]
        snapshot = self.grouping.snapshot()
        pairs = await asyncio.get_running_loop().run_in_executor(None, snapshot.pairs,
                                                                 limit * 2)
        found = []
        for a, b, distance in pairs:
            first, second = self.catalogue.person(a), self.catalogue.person(b)
            if first is not None and second is not None and not (first.hidden or second.hidden):
                found.append(Suggestion(first, second, round(distance, 4)))
        found = found[:limit]
        if key == (self.changes, limit):  # (nothing changed meanwhile)
            self._suggested = (key, found)
        return found

    # -- every change, whole --------------------------------------------------------

    async def _apply(self, change: Callable[..., Any], *args: Any, action: str = "",
                     subject: str | None = None) -> Any:
        """Run ``change(done, *args)`` as one change of the people on the
        catalogue's writer thread (the event loop stays free however many
        faces it moves), then tell every page; its answer. ``action`` and
        ``subject`` name it in the progress an edit of more than a second
        reports."""
        loop = asyncio.get_running_loop()
        progress = Progress(self.events, loop, action, subject) if action else None
        answer, events = await self.catalogue.write(self._edited, change, args, progress)
        for event in events:
            self.events.publish(event)
        return answer

    def _edited(self, change: Callable[..., Any], args: tuple, progress: Progress | None
                ) -> tuple[Any, list[Event]]:
        """(On the writer thread.) One change of the people, whole:
        everything it writes is one catalogue transaction, and if any of it
        fails, nothing is written and the grouping in memory is undone too
        (it is again what the catalogue holds). Its answer, and what to
        tell every page once it is written."""
        done = Changes()
        grouping = self.grouping
        grouping.begin()
        try:
            with self.catalogue.edit():
                answer = change(done, *args, **({"progress": progress} if progress else {}))
        except BaseException:
            grouping.rollback()
            raise
        grouping.commit()
        self.changes += 1
        return answer, self.told(done)

    def _write(self, done: Changes, changes: Changes, pinned: bool | None = False,
               progress: Progress | None = None) -> None:
        """Write a grouping's changes inside a change (``pinned``: the
        user's placements, or None for grouping's own, which keep each
        face's pinned state)."""
        if changes:
            self.catalogue.regroup(changes.faces, changes.created, changes.emptied, pinned,
                                   changes.left, progress.writing if progress else None)
            done.update(changes)

    # -- photos come and go ----------------------------------------------------------

    def photo_added(self, photo: Photo) -> None:
        pass  # its faces join people once recognition has described them

    def photo_deleted(self, photo: Photo) -> None:
        """Its faces leave their people in memory too (after the changes
        asked before, on the writer thread); a person left with none is
        gone. (The catalogue took them out of their people's counts, and
        removed the empty people, as it deleted the photo: nothing is
        written here, which a full disk could refuse.)"""
        faces = [f["id"] for f in photo.faces if f.get("id")]
        task = asyncio.ensure_future(self._apply(self._forget, faces))
        self._pending.add(task)  # (kept until done: a task nobody holds may be collected)
        task.add_done_callback(self._pending.discard)

    def _forget(self, done: Changes, faces: list[int]) -> None:
        done.update(self.grouping.remove(faces))

    async def recognized(self, photo_id: str, described: dict[int, Described],
                         placed: dict[int, tuple[str | None, bool]]) -> Changes:
        """A photo's faces described (face id -> descriptor, largest
        first): stored, grouped and written as one change; the caller
        announces it. Faces already in a person (``placed``: face id ->
        person, pinned; a re-described face the user had placed or put in a
        named person) stay where they are."""
        changes, _ = await self.catalogue.write(self._edited, self._recognized,
                                                (photo_id, described, placed), None)
        return changes

    def _recognized(self, done: Changes, photo_id: str, described: dict[int, Described],
                    placed: dict[int, tuple[str | None, bool]]) -> Changes:
        self.catalogue.recognized(photo_id, described)
        fresh = []
        for face_id, found in described.items():
            vector = np.frombuffer(found.vector, np.float32)
            self.grouping.remove([face_id])  # (described again: the new descriptor counts)
            person, pinned = placed.get(face_id, (None, False))
            if person is not None or pinned:
                self.grouping.insert(face_id, photo_id, vector, person, pinned,
                                     found.quality)
            else:
                fresh.append((face_id, vector, found.quality))
        changes = self.grouping.add_photo(photo_id, fresh)
        self._write(Changes(), changes, pinned=None)
        return changes  # (told by recognition, gathered: not by this change)

    async def name_faces(self, names: dict[int, str]) -> None:
        """Faces a photo's XMP names (face id -> name), as the photo is
        stored: each goes to the person of that name, made if there is none,
        as the user's own placement (grouping never moves it). Told to every
        page."""
        await self._apply(self._name_faces, names)

    def _name_faces(self, done: Changes, names: dict[int, str]) -> None:
        for face_id, name in names.items():
            person = self.catalogue.person_named(name)
            if person is None:
                person = self.grouping.new_id()
                self.catalogue.regroup({}, [person], [])
                self.catalogue.update_person(person, name=name)
                self.grouping.set_named(person, True)
                done.created.append(person)
            self.catalogue.regroup({face_id: person}, [], [], pinned=True)
            done.faces[face_id] = person

    # -- the user's edits ------------------------------------------------------------

    async def edit(self, person_id: str, name: str | Unset | None = UNSET,
                   hidden: bool | None = None) -> Person:
        """Name (a name, or None to take it away) and/or hide a person.
        Naming gathers the stored free faces that match them."""
        self.person(person_id)
        return await self._apply(self._edit, person_id, name, hidden,
                                 action="naming" if name else "editing", subject=person_id)

    def _edit(self, done: Changes, person_id: str, name: str | Unset | None,
              hidden: bool | None, progress: Progress | None = None) -> Person:
        if not isinstance(name, Unset):
            self.catalogue.update_person(person_id, name=name, clear_name=name is None)
            if name:
                found = self.grouping.named_now(person_id,
                                                progress.looking if progress else None)
                self._write(done, found, pinned=None, progress=progress)
            else:
                self.grouping.set_named(person_id, False)
        if hidden is not None:
            self.catalogue.update_person(person_id, hidden=hidden)
        done.created.append(person_id)  # announce it, changed or not
        return self.person(person_id)

    async def merge(self, person_id: str, sources: list[str]) -> Person:
        """``sources`` become ``person_id``."""
        if any(self.catalogue.person(person) is None for person in [person_id, *sources]):
            raise no_person()
        return await self._apply(self._merge, person_id, sources, action="merging",
                                 subject=person_id)

    def _merge(self, done: Changes, person_id: str, sources: list[str],
               progress: Progress | None = None) -> Person:
        found = [self.catalogue.person(person) for person in [person_id, *sources]]
        if None in found:  # (gone since it was asked)
            raise no_person()
        if found[0].name is None:  # the merged person keeps a name one of them had
            names = [p.name for p in found[1:] if p.name]
            if names:
                self.catalogue.update_person(person_id, name=names[0])
                self.grouping.set_named(person_id, True)
        for source in sources:
            if source != person_id:
                self.catalogue.carry_over(person_id, source)
        self._write(done, self.grouping.merge(person_id, sources), pinned=True,
                    progress=progress)
        return self.person(person_id)

    def _described(self, face_id: int) -> tuple[str, str | None]:
        """A face's photo and person; NotFound, or Conflict when it has no
        descriptor (nothing to group it by)."""
        found = self.catalogue.face(face_id)
        if found is None:
            raise no_face()
        if face_id not in self.grouping.row_of:
            raise Conflict("not_recognized", "This face has not been recognized (it is too "
                           "small, or still waiting): it cannot be put in a person.")
        return found

    async def move(self, face_id: int, target: str | None) -> FaceMoved:
        """Put a face in ``target`` (a person id, NEW, or None: nobody); the
        face stays where the user put it."""
        photo, _ = self._described(face_id)
        if target not in (None, NEW) and self.catalogue.person(target) is None:
            raise no_person()
        return await self._apply(self._move, face_id, photo, target)

    def _move(self, done: Changes, face_id: int, photo: str, target: str | None) -> FaceMoved:
        self._described(face_id)  # (still there, still described)
        if target == NEW:
            target, changes = self.grouping.create(face_id)
        else:
            changes = self.grouping.move(face_id, target)
        self._write(done, changes, pinned=True)
        return FaceMoved(face_id, photo, target)

    async def not_this_person(self, face_id: int) -> FaceMoved:
        """The face is not the person it is in: it leaves them and never goes
        back (it may still be grouped with someone else)."""
        photo, person = self._described(face_id)
        if person is None:
            raise Conflict("not_in_a_person", "This face is in no person.")
        return await self._apply(self._not_this_person, face_id, photo, person)

    def _not_this_person(self, done: Changes, face_id: int, photo: str, person: str
                         ) -> FaceMoved:
        _, changes = self.grouping.not_this_person(face_id)
        self.catalogue.reject(face_id, person)
        self._write(done, changes, pinned=False)
        return FaceMoved(face_id, photo, None)

    async def split(self, person_id: str, face_ids: list[int]) -> Person:
        """These faces of a person become a new person of their own."""
        self.person(person_id)
        for face_id in face_ids:
            _, person = self._described(face_id)
            if person != person_id:
                raise BadRequest("bad_request", f"Face {face_id} is not this person's.")
        return await self._apply(self._split, face_ids, action="splitting",
                                 subject=person_id)

    def _split(self, done: Changes, face_ids: list[int], progress: Progress | None = None
               ) -> Person:
        new, changes = self.grouping.split(face_ids)
        self._write(done, changes, pinned=True, progress=progress)
        return self.person(new)

    async def same(self, person_id: str, other: str, same: bool) -> Person | None:
        """The answer to "same person?": yes merges ``other`` into
        ``person_id`` (returned); no is remembered and never asked again."""
        if person_id == other:
            raise BadRequest("bad_request", "A person is always the same as themselves.")
        self.person(person_id)
        self.person(other)
        if same:
            return await self.merge(person_id, [other])
        await self._apply(self._different, person_id, other)
        return None

    def _different(self, done: Changes, person_id: str, other: str) -> None:
        self.catalogue.set_different(person_id, other)
        self.grouping.set_different(person_id, other)

    # -- telling ---------------------------------------------------------------------

    def told(self, changes: Changes, told: set[str] = frozenset()) -> list[Event]:
        """What to tell every page of ``changes``: ``faces.changed`` and
        ``people.changed`` (faces of the photos in ``told`` went out with
        them already). Read on the writer thread, as the change left the
        grouping and the catalogue."""
        if not changes:
            return []
        events: list[Event] = []
        faces = [FaceMoved(face_id, self.grouping.photo_of(face_id), person)
                 for face_id, person in changes.faces.items()]
        faces = [face for face in faces  # (a photo deleted since is left out)
                 if face.photo is not None and face.photo not in told]
        if faces:
            events.append(FacesChanged(faces))
        people = {p: self.catalogue.person(p) for p in sorted(changes.people())}
        events.append(PeopleChanged(
            [p for p in people.values() if p is not None],
            [p for p in changes.emptied if people[p] is None]))
        return events

    async def announce(self, changes: Changes, told: set[str] = frozenset()) -> None:
        """Tell every page of ``changes`` (recognition's, gathered), read
        after the changes asked before them."""
        if changes:
            for event in await self.catalogue.write(self.told, changes, told):
                self.events.publish(event)


class Progress:
    """How far a long change of the people is, told to every page (the one
    that asked shows it) once it has taken more than a second, then a few
    times a second: ``people.progress``. Called on the writer thread."""

    def __init__(self, events: Events, loop: asyncio.AbstractEventLoop, action: str,
                 subject: str | None) -> None:
        self.events, self.loop = events, loop
        self.action, self.subject = action, subject
        self.started = time.monotonic()
        self.told = 0.0

    def looking(self, done: int, total: int) -> None:
        self._tell("looking", done, total)

    def writing(self, done: int, total: int) -> None:
        self._tell("writing", done, total)

    def _tell(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.started < PROGRESS_AFTER or now - self.told < PROGRESS_EVERY:
            return
        self.told = now
        self.loop.call_soon_threadsafe(self.events.publish, EditProgress(
            self.action, self.subject, stage, done, total))

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..errors import BadRequest, Conflict, NotFound
from .catalogue import Catalogue
from .events import Events, FaceMoved, FacesChanged, PeopleChanged
from .grouping import DEFAULT_FAMILY, Changes, Grouping
from .records import Described, FaceOf, Person, Photo

log = logging.getLogger(__name__)

NEW = "new"  # move a face to "new": a person of its own
MAX_NAME = 100


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

    @contextmanager
    def _whole(self, announce: bool = True) -> Iterator[Changes]:
        """One change of the people, whole: everything it writes is one
        catalogue transaction, and if any of it fails, nothing is written and
        the grouping in memory is undone too (it is again what the catalogue
        holds); once written, it is told to every page. Collect the changes
        in what this yields (see :meth:`_write`)."""
        done = Changes()
        grouping = self.grouping
        grouping.begin()
        try:
            with self.catalogue.edit():
                yield done
        except BaseException:
            grouping.rollback()
            raise
        grouping.commit()
        self.changes += 1
        if announce:
            self.announce(done)

    def _write(self, done: Changes, changes: Changes, pinned: bool | None = False) -> None:
        """Write a grouping's changes inside :meth:`_whole` (``pinned``: the
        user's placements, or None for grouping's own, which keep each
        face's pinned state)."""
        if changes:
            self.catalogue.regroup(changes.faces, changes.created, changes.emptied, pinned,
                                   changes.left)
            done.update(changes)

    # -- photos come and go ----------------------------------------------------------

    def photo_added(self, photo: Photo) -> None:
        pass  # its faces join people once recognition has described them

    def photo_deleted(self, photo: Photo) -> None:
        """Its faces leave their people in memory too; a person left with
        none is gone. (The catalogue took them out of their people's counts,
        and removed the empty people, as it deleted the photo: nothing is
        written here, which a full disk could refuse.)"""
        changes = self.grouping.remove([f["id"] for f in photo.faces if f.get("id")])
        self.changes += 1
        self.announce(changes)

    def recognized(self, photo_id: str, described: dict[int, Described],
                   placed: dict[int, tuple[str | None, bool]]) -> Changes:
        """A photo's faces described (face id -> descriptor, largest
        first): stored, grouped and written as one change; the caller
        announces it. Faces already in a person (``placed``: face id ->
        person, pinned; a re-described face the user had placed or put in a
        named person) stay where they are."""
        with self._whole(announce=False) as done:
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
            self._write(done, self.grouping.add_photo(photo_id, fresh), pinned=None)
        return done

    def name_faces(self, names: dict[int, str]) -> None:
        """Faces a photo's XMP names (face id -> name), as the photo is
        stored: each goes to the person of that name, made if there is none,
        as the user's own placement (grouping never moves it). Told to every
        page."""
        with self._whole() as done:
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

    def edit(self, person_id: str, name: str | Unset | None = UNSET,
             hidden: bool | None = None) -> Person:
        """Name (a name, or None to take it away) and/or hide a person.
        Naming gathers the stored free faces that match them."""
        self.person(person_id)
        with self._whole() as done:
            if not isinstance(name, Unset):
                self.catalogue.update_person(person_id, name=name, clear_name=name is None)
                if name:
                    self._write(done, self.grouping.named_now(person_id), pinned=None)
                else:
                    self.grouping.set_named(person_id, False)
            if hidden is not None:
                self.catalogue.update_person(person_id, hidden=hidden)
            done.created.append(person_id)  # announce it, changed or not
        return self.person(person_id)

    def merge(self, person_id: str, sources: list[str]) -> Person:
        """``sources`` become ``person_id``."""
        found = [self.catalogue.person(person) for person in [person_id, *sources]]
        if None in found:
            raise no_person()
        with self._whole() as done:
            if found[0].name is None:  # the merged person keeps a name one of them had
                names = [p.name for p in found[1:] if p.name]
                if names:
                    self.catalogue.update_person(person_id, name=names[0])
                    self.grouping.set_named(person_id, True)
            for source in sources:
                if source != person_id:
                    self.catalogue.carry_over(person_id, source)
            self._write(done, self.grouping.merge(person_id, sources), pinned=True)
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

    def move(self, face_id: int, target: str | None) -> FaceMoved:
        """Put a face in ``target`` (a person id, NEW, or None: nobody); the
        face stays where the user put it."""
        photo, _ = self._described(face_id)
        if target not in (None, NEW) and self.catalogue.person(target) is None:
            raise no_person()
        with self._whole() as done:
            if target == NEW:
                target, changes = self.grouping.create(face_id)
            else:
                changes = self.grouping.move(face_id, target)
            self._write(done, changes, pinned=True)
        return FaceMoved(face_id, photo, target)

    def not_this_person(self, face_id: int) -> FaceMoved:
        """The face is not the person it is in: it leaves them and never goes
        back (it may still be grouped with someone else)."""
        photo, person = self._described(face_id)
        if person is None:
            raise Conflict("not_in_a_person", "This face is in no person.")
        with self._whole() as done:
            _, changes = self.grouping.not_this_person(face_id)
            self.catalogue.reject(face_id, person)
            self._write(done, changes, pinned=False)
        return FaceMoved(face_id, photo, None)

    def split(self, person_id: str, face_ids: list[int]) -> Person:
        """These faces of a person become a new person of their own."""
        self.person(person_id)
        for face_id in face_ids:
            _, person = self._described(face_id)
            if person != person_id:
                raise BadRequest("bad_request", f"Face {face_id} is not this person's.")
        with self._whole() as done:
            new, changes = self.grouping.split(face_ids)
            self._write(done, changes, pinned=True)
        return self.person(new)

    def same(self, person_id: str, other: str, same: bool) -> Person | None:
        """The answer to "same person?": yes merges ``other`` into
        ``person_id`` (returned); no is remembered and never asked again."""
        if person_id == other:
            raise BadRequest("bad_request", "A person is always the same as themselves.")
        self.person(person_id)
        self.person(other)
        if same:
            return self.merge(person_id, [other])
        with self._whole():
            self.catalogue.set_different(person_id, other)
            self.grouping.set_different(person_id, other)
        return None

    # -- telling ---------------------------------------------------------------------

    def announce(self, changes: Changes, told: set[str] = frozenset()) -> None:
        """``faces.changed`` and ``people.changed`` for ``changes`` (faces of
        the photos in ``told`` went out with them already)."""
        if not changes:
            return
        faces = [FaceMoved(face_id, self.grouping.photo_of(face_id), person)
                 for face_id, person in changes.faces.items()]
        faces = [face for face in faces  # (a photo deleted since is left out)
                 if face.photo is not None and face.photo not in told]
        if faces:
            self.events.publish(FacesChanged(faces))
        people = {p: self.catalogue.person(p) for p in sorted(changes.people())}
        self.events.publish(PeopleChanged(
            [p for p in people.values() if p is not None],
            [p for p in changes.emptied if people[p] is None]))

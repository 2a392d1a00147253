"""People, the use case: faces grouped into people (:mod:`.grouping`, in
memory, loaded from the catalogue at start), read, and corrected by the
user: name, hide, merge, move a face, "not this person", split, "same
person?" answered yes or no. Each edit is written to the catalogue and told
to every open page at once.

Recognition (:mod:`.recognition`) hands each photo's new descriptors to
:meth:`People.group`; its changes are announced by it, gathered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import BadRequest, Conflict, NotFound
from .catalogue import Catalogue
from .events import Events, FaceMoved, FacesChanged, PeopleChanged
from .grouping import DEFAULT_FAMILY, Changes, Grouping
from .records import FaceOf, Person, Photo

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

    def load(self, family: str = DEFAULT_FAMILY) -> None:
        """Put every face the recognizer ``family`` described back in memory,
        with what the user decided."""
        self.grouping = grouping = Grouping(family)
        for face_id, photo, blob, person, pinned, quality in self.catalogue.descriptors(family):
            vector = np.frombuffer(blob, np.float32)
            if len(vector) != grouping.dimensions:  # (a stray of another model: left out)
                continue
            grouping.insert(face_id, photo, vector, person, bool(pinned), quality)
        for person in self.catalogue.named_people():
            grouping.set_named(person, True)
        for face_id, person in self.catalogue.rejections():
            grouping.reject(face_id, person)
        for a, b in self.catalogue.differences():
            grouping.set_different(a, b)
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

    def faces(self, person_id: str, limit: int, before: int | None = None) -> list[FaceOf]:
        """A person's faces, newest first, older than the face ``before``."""
        self.person(person_id)
        return self.catalogue.faces_of(person_id, limit, before)

    def named(self) -> list[Person]:
        return self.catalogue.named()

    def suggestions(self, limit: int = 20) -> list[Suggestion]:
        """People who may be one, nearest first (none the user answered)."""
        found = []
        for a, b, distance in self.grouping.suggestions(limit * 2):
            first, second = self.catalogue.person(a), self.catalogue.person(b)
            if first is not None and second is not None and not (first.hidden or second.hidden):
                found.append(Suggestion(first, second, round(distance, 4)))
        return found[:limit]

    # -- photos come and go ----------------------------------------------------------

    def photo_added(self, photo: Photo) -> None:
        pass  # its faces join people once recognition has described them

    def photo_deleted(self, photo: Photo) -> None:
        """Its faces leave their people; a person left with none is gone."""
        changes = self.grouping.remove([f["id"] for f in photo.faces if f.get("id")])
        self.apply(changes, pinned=None)

    def group(self, photo_id: str, described: dict[int, tuple[bytes, float]],
              placed: dict[int, tuple[str | None, bool]]) -> Changes:
        """Group a recognized photo's faces (face id -> descriptor bytes and
        quality; largest first) and write the result; the caller announces
        it. Faces already in a person (``placed``: face id -> person,
        pinned; a re-described face the user had placed or put in a named
        person) stay where they are."""
        fresh = []
        for face_id, (blob, quality) in described.items():
            vector = np.frombuffer(blob, np.float32)
            self.grouping.remove([face_id])  # (described again: the new descriptor counts)
            person, pinned = placed.get(face_id, (None, False))
            if person is not None or pinned:
                self.grouping.insert(face_id, photo_id, vector, person, pinned, quality)
            else:
                fresh.append((face_id, vector, quality))
        changes = self.grouping.add_photo(photo_id, fresh)
        self.apply(changes, pinned=None, announce=False)
        return changes

    # -- the user's edits ------------------------------------------------------------

    def edit(self, person_id: str, name: str | Unset | None = UNSET,
             hidden: bool | None = None) -> Person:
        """Name (a name, or None to take it away) and/or hide a person.
        Naming gathers the stored free faces that match them."""
        self.person(person_id)
        changes = Changes()
        if not isinstance(name, Unset):
            self.catalogue.update_person(person_id, name=name, clear_name=name is None)
            if name:
                changes = self.grouping.named_now(person_id)
            else:
                self.grouping.set_named(person_id, False)
        if hidden is not None:
            self.catalogue.update_person(person_id, hidden=hidden)
        changes.created.append(person_id)  # announce it, changed or not
        self.apply(changes, pinned=None)
        return self.person(person_id)

    def merge(self, person_id: str, sources: list[str]) -> Person:
        """``sources`` become ``person_id``."""
        found = [self.catalogue.person(person) for person in [person_id, *sources]]
        if None in found:
            raise no_person()
        if found[0].name is None:  # the merged person keeps a name one of them had
            names = [p.name for p in found[1:] if p.name]
            if names:
                self.catalogue.update_person(person_id, name=names[0])
                self.grouping.set_named(person_id, True)
        for source in sources:
            if source != person_id:
                self.catalogue.carry_over(person_id, source)
        self.apply(self.grouping.merge(person_id, sources), pinned=True)
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
        self._described(face_id)
        if target == NEW:
            target, changes = self.grouping.create(face_id)
        else:
            if target is not None and self.catalogue.person(target) is None:
                raise no_person()
            changes = self.grouping.move(face_id, target)
        self.apply(changes, pinned=True)
        photo, person = self.catalogue.face(face_id)
        return FaceMoved(face_id, photo, person)

    def not_this_person(self, face_id: int) -> FaceMoved:
        """The face is not the person it is in: it leaves them and never goes
        back (it may still be grouped with someone else)."""
        photo, person = self._described(face_id)
        if person is None:
            raise Conflict("not_in_a_person", "This face is in no person.")
        _, changes = self.grouping.not_this_person(face_id)
        self.catalogue.reject(face_id, person)
        self.apply(changes, pinned=False)
        return FaceMoved(face_id, photo, None)

    def split(self, person_id: str, face_ids: list[int]) -> Person:
        """These faces of a person become a new person of their own."""
        self.person(person_id)
        for face_id in face_ids:
            _, person = self._described(face_id)
            if person != person_id:
                raise BadRequest("bad_request", f"Face {face_id} is not this person's.")
        new, changes = self.grouping.split(face_ids)
        self.apply(changes, pinned=True)
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
        self.catalogue.set_different(person_id, other)
        self.grouping.set_different(person_id, other)
        return None

    # -- writing and telling ---------------------------------------------------------

    def apply(self, changes: Changes, pinned: bool | None = False,
              announce: bool = True) -> None:
        """Write a grouping's changes (``pinned``: the user's placements, or
        None for grouping's own, which keep each face's pinned state)."""
        if not changes:
            return
        self.catalogue.regroup(changes.faces, changes.created, changes.emptied, pinned,
                               changes.left)
        if announce:
            self.announce(changes)

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

"""People, the use case: faces grouped into people (:mod:`.grouping`, in
memory, loaded from the catalogue at start), read page by page, and the
user's edits (name, hide, merge, move a face), each written to the
catalogue and told to every open page at once.

Recognition (:mod:`.recognition`) hands each photo's new descriptors to
:meth:`People.group`; its changes are announced by it, gathered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import Conflict, NotFound
from .catalogue import Catalogue
from .events import Events, FaceMoved, FacesChanged, PeopleChanged
from .grouping import Changes, Grouping
from .records import Person, Photo

log = logging.getLogger(__name__)

NEW = "new"  # move a face to "new": a person of its own
MAX_NAME = 100


@dataclass(frozen=True)
class Unset:
    """A field the user did not send (as opposed to one sent as null)."""


UNSET = Unset()


def no_person() -> NotFound:
    return NotFound("not_found", "No such person.")


class People:
    def __init__(self, catalogue: Catalogue, events: Events) -> None:
        self.catalogue = catalogue
        self.events = events
        self.grouping = Grouping()

    def load(self) -> None:
        """Put every stored descriptor back in memory."""
        for face_id, photo, blob, person, pinned in self.catalogue.descriptors():
            self.grouping.insert(face_id, photo, np.frombuffer(blob, np.float32), person,
                                 bool(pinned))
        for person in self.catalogue.named_people():
            self.grouping.set_named(person, True)
        log.info("people: %d described faces in memory", len(self.grouping))

    # -- reading -------------------------------------------------------------------

    def person(self, person_id: str) -> Person:
        found = self.catalogue.person(person_id)
        if found is None:
            raise no_person()
        return found

    def list(self, hidden: bool = False) -> list[Person]:
        """Everyone, most faces first (hidden people only when asked)."""
        return self.catalogue.people(hidden)

    # -- photos come and go ----------------------------------------------------------

    def photo_added(self, photo: Photo) -> None:
        pass  # its faces join people once recognition has described them

    def photo_deleted(self, photo: Photo) -> None:
        """Its faces leave their people; a person left with none is gone."""
        changes = self.grouping.remove([f["id"] for f in photo.faces if f.get("id")])
        self.apply(changes)

    def group(self, photo_id: str, described: dict[int, bytes]) -> Changes:
        """Group a recognized photo's faces (face id -> descriptor bytes) and
        write the result; the caller announces it."""
        changes = self.grouping.add_photo(photo_id, [
            (face_id, np.frombuffer(blob, np.float32)) for face_id, blob in described.items()])
        self.apply(changes, announce=False)
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
        self.apply(changes)
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
        self.apply(self.grouping.merge(person_id, sources), pinned=True)
        return self.person(person_id)

    def move(self, face_id: int, target: str | None) -> FaceMoved:
        """Put a face in ``target`` (a person id, NEW, or None: nobody); the
        face stays where the user put it."""
        if self.catalogue.face(face_id) is None:
            raise NotFound("not_found", "No such face.")
        if face_id not in self.grouping.row_of:  # no descriptor: nothing to group it by
            raise Conflict("not_recognized", "This face has not been recognized (it is too "
                           "small, or still waiting): it cannot be put in a person.")
        if target == NEW:
            target, changes = self.grouping.create(face_id)
        else:
            if target is not None and self.catalogue.person(target) is None:
                raise no_person()
            changes = self.grouping.move(face_id, target)
        self.apply(changes, pinned=True)
        photo, person = self.catalogue.face(face_id)
        return FaceMoved(face_id, photo, person)

    # -- writing and telling ---------------------------------------------------------

    def apply(self, changes: Changes, pinned: bool = False, announce: bool = True) -> None:
        if not changes:
            return
        self.catalogue.regroup(changes.faces, changes.created, changes.emptied, pinned)
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

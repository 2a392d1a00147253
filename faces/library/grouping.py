"""Faces into people: every face's descriptor in one matrix in memory, and
the rules that group them as they arrive (no nightly job).

- A new face joins the person of its nearest face within ``join`` (dlib
  descriptors, Euclidean), unless that person already has a face in the
  same photo: two faces of one photo are never one person automatically.
- Otherwise a new person is made only from a core: the face and faces of
  other photos, not yet anyone's, all within ``core`` of one another, at
  least ``min_core`` of them. Faces that fit nowhere wait unassigned; a
  later face may make a core with them.
- Faces the user placed (or took out of a person) are ``pinned``: grouping
  never moves them. Named people are never merged or emptied by grouping.

Numbers measured on the 74 shared people photos (18 identities;
docs/people.md): the nearest face of the same person is always within 0.47, two
different people's faces never closer than 0.52.

Search is brute force with numpy (``bench/people.py`` times it: a new
face's nearest neighbour among 100,000 takes a few milliseconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

DIMENSIONS = 128
JOIN = 0.5  # a face joins the person of its nearest face within this
CORE = 0.5  # a new person needs faces all this close to one another ...
MIN_CORE = 2  # ... at least this many, from different photos
NOBODY = -1


@dataclass
class Changes:
    """What one operation did: faces that got a (new) person or lost theirs,
    and people made or emptied."""

    faces: dict[int, str | None] = field(default_factory=dict)  # face id -> person id
    created: list[str] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)
    left: set[str] = field(default_factory=set)  # people faces were taken from

    def __bool__(self) -> bool:
        return bool(self.faces or self.created or self.emptied or self.left)

    def people(self) -> set[str]:
        """Every person whose faces changed."""
        return {p for p in self.faces.values() if p} | set(self.created) | \
            set(self.emptied) | self.left


class Grouping:
    def __init__(self, join: float = JOIN, core: float = CORE, min_core: int = MIN_CORE,
                 new_id=None) -> None:
        import secrets

        self.join, self.core, self.min_core = join, core, min_core
        self.new_id = new_id or (lambda: secrets.token_hex(6))
        self.vectors = np.zeros((64, DIMENSIONS), np.float32)
        self.face_ids = np.zeros(64, np.int64)
        self.photos = np.zeros(64, np.int64)  # photo keys (ints) of each row
        self.persons = np.full(64, NOBODY, np.int64)  # person keys, NOBODY
        self.pinned = np.zeros(64, bool)
        self.size = 0
        self.row_of: dict[int, int] = {}  # face id -> row
        # ids <-> the small integer keys the arrays hold
        self.photo_keys: dict[str, int] = {}
        self.person_keys: dict[str, int] = {}
        self.person_ids: list[str] = []
        self.named: set[str] = set()
        self.photo_names: list[str] = []  # photo key -> id

    # -- bookkeeping ---------------------------------------------------------

    def __len__(self) -> int:
        return self.size

    @staticmethod
    def _key(table: dict[str, int], names: list[str], name: str) -> int:
        if name not in table:
            table[name] = len(names)
            names.append(name)
        return table[name]

    def _photo_key(self, photo: str) -> int:
        return self._key(self.photo_keys, self.photo_names, photo)

    def _person_key(self, person: str | None) -> int:
        if person is None:
            return NOBODY
        return self._key(self.person_keys, self.person_ids, person)

    def _grow(self) -> None:
        capacity = 2 * len(self.face_ids)
        for name in ("vectors", "face_ids", "photos", "persons", "pinned"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)
        self.persons[self.size:] = NOBODY

    def insert(self, face_id: int, photo: str, vector: np.ndarray, person: str | None = None,
               pinned: bool = False) -> None:
        """Add a stored face as it is (loading the catalogue); no grouping."""
        if self.size == len(self.face_ids):
            self._grow()
        row = self.size
        self.vectors[row] = vector
        self.face_ids[row] = face_id
        self.photos[row] = self._photo_key(photo)
        self.persons[row] = self._person_key(person)
        self.pinned[row] = pinned
        self.row_of[face_id] = row
        self.size += 1

    def set_named(self, person: str, named: bool) -> None:
        (self.named.add if named else self.named.discard)(person)

    def photo_of(self, face_id: int) -> str | None:
        row = self.row_of.get(face_id)
        if row is None:
            return None
        return self.photo_names[int(self.photos[row])]

    def person_of(self, face_id: int) -> str | None:
        row = self.row_of.get(face_id)
        if row is None or self.persons[row] == NOBODY:
            return None
        return self.person_ids[int(self.persons[row])]

    def members(self, person: str) -> list[int]:
        key = self.person_keys.get(person)
        if key is None:
            return []
        return [int(f) for f in self.face_ids[: self.size][self.persons[: self.size] == key]]

    def _rows_of(self, person_key: int) -> np.ndarray:
        return np.nonzero(self.persons[: self.size] == person_key)[0]

    def _photos_of(self, person_key: int) -> set[int]:
        return set(self.photos[self._rows_of(person_key)].tolist())

    def _set(self, row: int, person_key: int, changes: Changes, pinned: bool | None = None
             ) -> None:
        before = int(self.persons[row])
        if before not in (NOBODY, person_key):
            changes.left.add(self.person_ids[before])
        self.persons[row] = person_key
        if pinned is not None:
            self.pinned[row] = pinned
        changes.faces[int(self.face_ids[row])] = \
            None if person_key == NOBODY else self.person_ids[person_key]

    def _emptied(self, keys: Iterable[int], changes: Changes) -> None:
        for key in set(keys):
            if key != NOBODY and not len(self._rows_of(key)):
                changes.emptied.append(self.person_ids[key])
                changes.left.discard(self.person_ids[key])
                self.named.discard(self.person_ids[key])

    def remove(self, face_ids: Iterable[int]) -> Changes:
        """Forget faces (their photo was deleted); people left with none are emptied."""
        changes = Changes()
        touched = []
        for face_id in face_ids:
            row = self.row_of.pop(face_id, None)
            if row is None:
                continue
            touched.append(int(self.persons[row]))
            if self.persons[row] != NOBODY:
                changes.left.add(self.person_ids[int(self.persons[row])])
            last = self.size - 1
            if row != last:  # move the last row into the hole
                for name in ("vectors", "face_ids", "photos", "persons", "pinned"):
                    array = getattr(self, name)
                    array[row] = array[last]
                self.row_of[int(self.face_ids[row])] = row
            self.persons[last] = NOBODY
            self.size = last
        self._emptied(touched, changes)
        return changes

    # -- grouping ------------------------------------------------------------

    def distances(self, vector: np.ndarray) -> np.ndarray:
        """Euclidean distance from ``vector`` to every face."""
        difference = self.vectors[: self.size] - vector
        return np.sqrt(np.einsum("ij,ij->i", difference, difference))

    def add_photo(self, photo: str, faces: list[tuple[int, np.ndarray]]) -> Changes:
        """Group a photo's new faces (``(face id, descriptor)``, largest first)."""
        changes = Changes()
        photo_key = self._photo_key(photo)
        taken: set[int] = set()  # people this photo already has a face of
        for face_id, vector in faces:
            self.insert(face_id, photo, vector)
            row = self.size - 1
            distance = self.distances(vector)
            others = self.photos[: self.size] != photo_key
            person = self._nearest_person(distance, others, taken)
            if person != NOBODY:
                self._set(row, person, changes)
                taken.add(person)
                self._gather(person, distance, changes)  # faces that were waiting for it
                continue
            core = self._core(row, distance, others)
            if len(core) >= self.min_core:
                person_id = self.new_id()
                key = self._person_key(person_id)
                changes.created.append(person_id)
                for member in core:
                    self._set(member, key, changes)
                taken.add(key)
                self._absorb(key, changes)
        return changes

    def _nearest_person(self, distance: np.ndarray, others: np.ndarray, taken: set[int]
                        ) -> int:
        persons = self.persons[: self.size]
        usable = others & (persons != NOBODY) & (distance <= self.join)
        if taken:
            usable &= ~np.isin(persons, list(taken))
        if not usable.any():
            return NOBODY
        rows = np.nonzero(usable)[0]
        return int(persons[rows[np.argmin(distance[rows])]])

    def _free(self) -> np.ndarray:
        return (self.persons[: self.size] == NOBODY) & ~self.pinned[: self.size]

    def _core(self, row: int, distance: np.ndarray, others: np.ndarray) -> list[int]:
        """The face at ``row`` and free faces of other photos, all within
        ``core`` of one another, nearest first, one per photo."""
        candidates = np.nonzero(others & self._free() & (distance <= self.core))[0]
        core, photos = [row], {int(self.photos[row])}
        for candidate in candidates[np.argsort(distance[candidates])]:
            if int(self.photos[candidate]) in photos:
                continue
            gaps = np.linalg.norm(self.vectors[core] - self.vectors[candidate], axis=1)
            if (gaps <= self.core).all():
                core.append(int(candidate))
                photos.add(int(self.photos[candidate]))
        return core

    def _gather(self, key: int, distance: np.ndarray, changes: Changes) -> None:
        """Free faces within ``join`` of a person's newest face (``distance``
        from it) join the person."""
        free = np.nonzero(self._free())[0]
        self._take(key, free, distance[free], changes)

    def _absorb(self, key: int, changes: Changes) -> None:
        """Free faces within ``join`` of any of the person's faces join it."""
        members = self.vectors[self._rows_of(key)]
        free = np.nonzero(self._free())[0]
        if len(free) and len(members):
            gaps = np.linalg.norm(self.vectors[free][:, None, :] - members[None], axis=2)
            self._take(key, free, gaps.min(1), changes)

    def _take(self, key: int, rows: np.ndarray, gaps: np.ndarray, changes: Changes) -> None:
        """Of ``rows``, those within ``join`` (their ``gaps``) join the person,
        nearest first, one per photo the person does not have yet."""
        photos = self._photos_of(key)
        for index in np.argsort(gaps):
            if gaps[index] > self.join:
                break
            row = int(rows[index])
            if int(self.photos[row]) not in photos:
                self._set(row, key, changes)
                photos.add(int(self.photos[row]))

    # -- the user's decisions ------------------------------------------------

    def named_now(self, person: str) -> Changes:
        """A person got a name: matching free faces already stored join it."""
        changes = Changes()
        self.named.add(person)
        key = self.person_keys.get(person)
        if key is not None:
            self._absorb(key, changes)
        return changes

    def move(self, face_id: int, person: str | None) -> Changes:
        """The user put a face in ``person`` (None: in nobody); it stays there."""
        changes = Changes()
        row = self.row_of[face_id]
        before = int(self.persons[row])
        if person is not None and person not in self.person_keys:
            changes.created.append(person)
        key = self._person_key(person)
        self._set(row, key, changes, pinned=True)
        self._emptied([before], changes)
        return changes

    def create(self, face_id: int) -> tuple[str, Changes]:
        """The user split a face off into a new person of its own."""
        person = self.new_id()
        return person, self.move(face_id, person)

    def merge(self, target: str, sources: Iterable[str]) -> Changes:
        """Every face of ``sources`` becomes ``target``'s (kept there)."""
        changes = Changes()
        key = self._person_key(target)
        gone = []
        for source in sources:
            source_key = self.person_keys.get(source)
            if source_key is None or source == target:
                continue
            for row in self._rows_of(source_key):
                self._set(int(row), key, changes, pinned=True)
            gone.append(source_key)
        self._emptied(gone, changes)
        return changes

"""Faces into people: every described face in one matrix in memory, and the
rules that group them as they arrive (no nightly job). Pure: numpy only.

Descriptors are unit vectors; how alike two faces are is their cosine
distance (1 - cosine similarity). Each person has a prototype: the mean
direction of their good faces. The rules, per recognizer family (RULES,
measured on the shared people photos and WIDER crowds: docs/people.md):

- A new face joins the person whose prototype is nearest, within ``join``,
  and only when most of that person's faces are within ``join`` of it too:
  close to that person as a whole, never through one look-alike face (a
  chain of look-alikes is how strangers ended up in one person, and a
  prototype alone can be walked away by one). Never a person who already
  has a face in the same photo, never one the user said this face is not.
- Otherwise a new person is made from a core: the face and good faces of
  other photos, not yet anyone's, all within ``core`` of one another, at
  least ``min_core`` of them. Faces that fit nowhere wait; a later face may
  make a core with them, and a person that forms or grows gathers the
  waiting faces near its prototype.
- Faces the recognizer cannot vouch for (``quality`` under
  ``min_quality``: blurred, tiny, turned away) never make a person, never
  join one by themselves, and never count in a prototype; the user can
  still put them in a person by hand.
- The user's decisions stand: a face the user placed is pinned (grouping
  never moves it); a face taken out of a person ("not this person") never
  goes back to them; people the user said are different are never offered
  as "same person?" again.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import islice

import numpy as np

NOBODY = -1


@dataclass(frozen=True)
class Rule:
    join: float  # a face joins a person whose prototype is within this distance
    core: float  # a new person needs good faces all this close to one another ...
    min_core: int  # ... at least this many, from different photos
    min_quality: float  # faces under this quality never make or grow a person themselves
    review: float  # two people whose prototypes are this close: "same person?"


# Measured by bench/people.py (docs/people.md, "How the numbers were chosen").
RULES = {
    "sface": Rule(join=0.48, core=0.40, min_core=2, min_quality=0.5, review=0.55),
    "arcface": Rule(join=0.58, core=0.50, min_core=2, min_quality=0.5, review=0.65),
}
DEFAULT_FAMILY = "sface"
CLOSE_BLOCK = 256  # candidates compared with a person's faces per matrix product
JOINED_BLOCK = 256  # faces joined in one gathering before they are counted in bulk
PROGRESS_EVERY = 1000  # candidates between two progress reports
DIMENSIONS = {"sface": 128, "arcface": 512}
# The length of a recognizer's raw output says how far it can vouch for a face
# (blurred, small or turned-away faces come out short): from 0 at the first
# number to 1 at the second. Measured on the shared people photos blurred and
# shrunk (bench/people.py --degrade): under the first, a stranger is nearer
# than the person's own photos for most faces; over the second, for none.
NORMS = {"sface": (9.5, 11.5), "arcface": (19.0, 22.0)}
TURNED = 0.7  # the nose this far off the eyes' middle (of their distance): a profile


def quality(family: str, norms: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """How far the recognizer can vouch for each face, 0 to 1: from the
    length of its raw descriptor, and 0 for a face in profile."""
    low, high = NORMS.get(family, NORMS[DEFAULT_FAMILY])
    landmarks = np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
    eyes = landmarks[:, 1] - landmarks[:, 0]
    apart = np.maximum(np.linalg.norm(eyes, axis=1), 1e-6)
    middle = (landmarks[:, 0] + landmarks[:, 1]) / 2
    turned = np.abs(((landmarks[:, 2] - middle) * eyes).sum(1)) / apart ** 2
    ramp = np.clip((np.asarray(norms, np.float32) - low) / (high - low), 0.0, 1.0)
    return np.where(turned > TURNED, 0.0, ramp).astype(np.float32)


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

    def update(self, other: Changes) -> None:
        self.faces.update(other.faces)
        self.created += other.created
        self.emptied += other.emptied
        self.left |= other.left


class Pool:
    """The faces waiting for a person (free: in nobody, not placed by the
    user, good enough to vouch for), their vectors in one contiguous matrix:
    what a core is looked for in, and what a growing person gathers from. In
    a library of crowds most faces may be assigned or poor; searching only
    these keeps a new face's grouping quick."""

    def __init__(self, dimensions: int) -> None:
        self.vectors = np.zeros((64, dimensions), np.float32)
        self.rows = np.zeros(64, np.int64)  # the grouping's row of each
        self.size = 0
        self.where: dict[int, int] = {}  # grouping row -> position here

    def __contains__(self, row: int) -> bool:
        return row in self.where

    def fill(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        """Every waiting face at once, into an empty pool (loading)."""
        assert self.size == 0, "fill() fills an empty pool"
        capacity = len(rows) + len(rows) // 8 + 64
        self.vectors = np.zeros((capacity, vectors.shape[1]), np.float32)
        self.vectors[: len(rows)] = vectors
        self.rows = np.zeros(capacity, np.int64)
        self.rows[: len(rows)] = rows
        self.where = {int(row): position for position, row in enumerate(rows.tolist())}
        self.size = len(rows)

    def add(self, row: int, vector: np.ndarray) -> None:
        if row in self.where:
            return
        if self.size == len(self.rows):
            more = len(self.rows) // 2 + 64
            self.vectors = np.concatenate([self.vectors, np.zeros((more, self.vectors.shape[1]),
                                                                  np.float32)])
            self.rows = np.concatenate([self.rows, np.zeros(more, np.int64)])
        self.vectors[self.size] = vector
        self.rows[self.size] = row
        self.where[row] = self.size
        self.size += 1

    def discard(self, row: int) -> None:
        position = self.where.pop(row, None)
        if position is None:
            return
        last = self.size - 1
        if position != last:  # the last one fills the hole
            self.vectors[position] = self.vectors[last]
            self.rows[position] = self.rows[last]
            self.where[int(self.rows[position])] = position
        self.size = last

    def moved(self, old: int, new: int) -> None:
        """The grouping moved a face from row ``old`` to ``new``."""
        position = self.where.pop(old, None)
        if position is not None:
            self.rows[position] = new
            self.where[new] = position

    def search(self, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every waiting face's grouping row and cosine distance to ``vector``."""
        return self.rows[: self.size], 1.0 - self.vectors[: self.size] @ vector


class Grouping:
    def __init__(self, family: str = DEFAULT_FAMILY, dimensions: int | None = None,
                 new_id: Callable[[], str] | None = None, **rule: float) -> None:
        self.family = family
        self.rule = replace(RULES.get(family, RULES[DEFAULT_FAMILY]), **rule)
        self.dimensions = dimensions or DIMENSIONS.get(family, 128)
        self.new_id = new_id or (lambda: secrets.token_hex(6))
        capacity = 64
        self.vectors = np.zeros((capacity, self.dimensions), np.float32)
        self.face_ids = np.zeros(capacity, np.int64)
        self.photos = np.zeros(capacity, np.int64)  # photo keys (ints) of each row
        self.persons = np.full(capacity, NOBODY, np.int64)  # person keys, NOBODY
        self.pinned = np.zeros(capacity, bool)
        self.good = np.zeros(capacity, bool)  # quality >= min_quality
        self.size = 0
        self.row_of: dict[int, int] = {}  # face id -> row
        self.photo_keys: dict[str, int] = {}
        self.photo_names: list[str] = []  # photo key -> id
        self.person_keys: dict[str, int] = {}
        self.person_ids: list[str] = []  # person key -> id
        # Each person's prototype: the sum of their counted faces, and its direction.
        self.sums = np.zeros((capacity, self.dimensions), np.float32)
        self.counts = np.zeros(capacity, np.int64)
        self.prototypes = np.zeros((capacity, self.dimensions), np.float32)
        self.members = np.zeros(capacity, np.int64)  # faces of each person, counted or not
        self.pool = Pool(self.dimensions)  # the faces waiting for a person
        self.named: set[str] = set()
        self.rejected: dict[int, set[int]] = {}  # face id -> person keys it is not
        self.different: set[frozenset[str]] = set()  # people the user said are not one
        self._journal: list[Callable[[], object]] | None = None  # undo steps of an edit

    # -- an edit, whole ------------------------------------------------------

    def begin(self) -> None:
        """Keep what each change from now on undoes: an edit whose writing
        to the catalogue may still fail (see :meth:`rollback`)."""
        self._journal = []

    def commit(self) -> None:
        """The edit was written: forget how to undo it."""
        self._journal = None

    def rollback(self) -> None:
        """Undo every change since :meth:`begin`, last first: the grouping
        is again what the catalogue holds (people made meanwhile stay as
        empty keys, which nothing reads)."""
        steps, self._journal = self._journal or [], None
        for step in reversed(steps):
            step()

    def _undo(self, step: Callable[[], object]) -> None:
        if self._journal is not None:
            self._journal.append(step)

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
        key = self._key(self.person_keys, self.person_ids, person)
        if key >= len(self.counts):
            self._grow_people()
        return key

    def _grow(self) -> None:
        capacity = len(self.face_ids) + len(self.face_ids) // 2 + 64
        for name in ("vectors", "face_ids", "photos", "persons", "pinned", "good"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)
        self.persons[self.size:] = NOBODY

    def _grow_people(self) -> None:
        capacity = 2 * len(self.counts)
        for name in ("sums", "counts", "prototypes", "members"):
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def insert(self, face_id: int, photo: str, vector: np.ndarray, person: str | None = None,
               pinned: bool = False, quality: float = 1.0) -> None:
        """Add a stored face as it is (loading the catalogue); no grouping."""
        if self.size == len(self.face_ids):
            self._grow()
        row = self.size
        self.vectors[row] = vector
        self.face_ids[row] = face_id
        self.photos[row] = self._photo_key(photo)
        self.persons[row] = NOBODY
        self.pinned[row] = pinned
        self.good[row] = quality >= self.rule.min_quality
        self.row_of[face_id] = row
        self.size += 1
        key = self._person_key(person)
        if key != NOBODY:
            self._join(row, key)
        self._sync(row)
        self._undo(lambda: self.remove([face_id]))

    def load(self, rows: Iterable[tuple], count: int, chunk: int = 8192) -> None:
        """Every stored face at once (start-up), into an empty grouping: what
        :meth:`insert` does face by face, with whole-array operations. Reads
        ``rows`` (face id, photo, descriptor bytes, person, pinned, quality)
        a chunk at a time, so a library's descriptors are never held twice;
        ``count`` is how many to expect (rows of another length are strays
        of another model, skipped)."""
        assert self.size == 0, "load() fills an empty grouping"
        capacity = count + count // 8 + 64  # room to grow without copying at once
        self.vectors = np.zeros((capacity, self.dimensions), np.float32)
        self.face_ids = np.zeros(capacity, np.int64)
        self.photos = np.zeros(capacity, np.int64)
        self.persons = np.full(capacity, NOBODY, np.int64)
        self.pinned = np.zeros(capacity, bool)
        self.good = np.zeros(capacity, bool)
        width = self.dimensions * 4
        source = iter(rows)
        while batch := list(islice(source, chunk)):
            batch = [row for row in batch if row[2] is not None and len(row[2]) == width]
            start, end = self.size, self.size + len(batch)
            while end > len(self.face_ids):
                self._grow()
            self.vectors[start:end] = np.frombuffer(
                b"".join(row[2] for row in batch), np.float32).reshape(-1, self.dimensions)
            self.face_ids[start:end] = [row[0] for row in batch]
            self.photos[start:end] = [self._photo_key(row[1]) for row in batch]
            self.persons[start:end] = [self._person_key(row[3]) for row in batch]
            self.pinned[start:end] = [bool(row[4]) for row in batch]
            self.good[start:end] = np.array([row[5] for row in batch], np.float32) \
                >= self.rule.min_quality
            self.row_of.update(zip((row[0] for row in batch), range(start, end), strict=True))
            self.size = end
        count = self.size
        assigned = np.nonzero(self.persons[:count] != NOBODY)[0]
        np.add.at(self.members, self.persons[assigned], 1)
        counted = assigned[self.good[assigned] | self.pinned[assigned]]
        np.add.at(self.sums, self.persons[counted], self.vectors[counted])
        np.add.at(self.counts, self.persons[counted], 1)
        people = len(self.person_ids)
        lengths = np.linalg.norm(self.sums[:people], axis=1, keepdims=True)
        alive = (self.counts[:people] > 0)[:, None] & (lengths > 1e-6)
        self.prototypes[:people] = np.where(alive, self.sums[:people] / np.maximum(lengths,
                                                                                   1e-6), 0.0)
        waiting = np.nonzero((self.persons[:count] == NOBODY) & ~self.pinned[:count]
                             & self.good[:count])[0]
        self.pool.fill(waiting, self.vectors[waiting])

    def _sync(self, row: int) -> None:
        """Keep the pool of waiting faces true for one row."""
        if self.persons[row] == NOBODY and not self.pinned[row] and self.good[row]:
            self.pool.add(row, self.vectors[row])
        else:
            self.pool.discard(row)

    def set_named(self, person: str, named: bool) -> None:
        was = person in self.named
        if was != named:
            (self.named.add if named else self.named.discard)(person)
            self._undo(lambda: self.set_named(person, was))

    def reject(self, face_id: int, person: str) -> None:
        """Remember that this face is not ``person`` (loading the catalogue)."""
        self._rejected(face_id, self._person_key(person), True)

    def _rejected(self, face_id: int, key: int, rejected: bool) -> None:
        keys = self.rejected.setdefault(face_id, set())
        if (key in keys) != rejected:
            (keys.add if rejected else keys.discard)(key)
            self._undo(lambda: self._rejected(face_id, key, not rejected))

    def _is_rejected(self, face_id: int, key: int) -> bool:
        return key in self.rejected.get(face_id, ())

    def set_different(self, a: str, b: str) -> None:
        """Remember that two people are not one."""
        pair = frozenset((a, b))
        if pair not in self.different:
            self.different.add(pair)
            self._undo(lambda: self.different.discard(pair))

    def photo_of(self, face_id: int) -> str | None:
        row = self.row_of.get(face_id)
        return None if row is None else self.photo_names[int(self.photos[row])]

    def person_of(self, face_id: int) -> str | None:
        row = self.row_of.get(face_id)
        if row is None or self.persons[row] == NOBODY:
            return None
        return self.person_ids[int(self.persons[row])]

    def members_of(self, person: str) -> list[int]:
        key = self.person_keys.get(person)
        if key is None:
            return []
        return [int(f) for f in self.face_ids[: self.size][self.persons[: self.size] == key]]

    def _rows_of(self, person_key: int) -> np.ndarray:
        return np.nonzero(self.persons[: self.size] == person_key)[0]

    def _photos_of(self, person_key: int) -> set[int]:
        return set(self.photos[self._rows_of(person_key)].tolist())

    # -- prototypes ----------------------------------------------------------

    def _counts(self, row: int) -> bool:
        """Whether a face shapes its person's prototype: a good one, or one
        the user placed there."""
        return bool(self.good[row] or self.pinned[row])

    def _refresh(self, key: int) -> None:
        total = self.sums[key]
        length = float(np.linalg.norm(total))
        self.prototypes[key] = total / length if self.counts[key] and length > 1e-6 else 0.0

    def _join(self, row: int, key: int) -> None:
        self.persons[row] = key
        self.members[key] += 1
        if self._counts(row):
            self.sums[key] += self.vectors[row]
            self.counts[key] += 1
            self._refresh(key)

    def _leave(self, row: int) -> int:
        key = int(self.persons[row])
        if key != NOBODY:
            self.members[key] -= 1
            if self._counts(row):
                self.sums[key] -= self.vectors[row]
                self.counts[key] -= 1
                if not self.counts[key]:
                    self.sums[key] = 0.0
                self._refresh(key)
        self.persons[row] = NOBODY
        return key

    def _set(self, row: int, key: int, changes: Changes, pinned: bool | None = None) -> None:
        before = int(self.persons[row])
        face_id, was_pinned = int(self.face_ids[row]), bool(self.pinned[row])
        self._undo(lambda: self._set(self.row_of[face_id], before, Changes(), was_pinned))
        if before not in (NOBODY, key):
            changes.left.add(self.person_ids[before])
        self._leave(row)
        if pinned is not None:
            self.pinned[row] = pinned
        if key != NOBODY:
            self._join(row, key)
        self._sync(row)
        changes.faces[int(self.face_ids[row])] = None if key == NOBODY else self.person_ids[key]

    def _set_many(self, rows: np.ndarray, key: int, changes: Changes,
                  pinned: bool | None = None) -> None:
        """What :meth:`_set` does to each of ``rows``, with whole-array
        operations (a merge of two large people moves tens of thousands)."""
        rows = np.asarray(rows, np.int64)
        if not len(rows):
            return
        befores, face_ids = self.persons[rows].copy(), self.face_ids[rows].copy()
        was_pinned = self.pinned[rows].copy()

        def undo() -> None:
            for face_id, before, pin in zip(face_ids.tolist(), befores.tolist(),
                                            was_pinned.tolist(), strict=True):
                self._set(self.row_of[face_id], before, Changes(), pin)

        self._undo(undo)
        counted = self.good[rows] | self.pinned[rows]
        for before in set(befores.tolist()) - {NOBODY}:
            if before != key:
                changes.left.add(self.person_ids[before])
            mine = befores == before
            self.members[before] -= int(mine.sum())
            leaving = mine & counted
            if leaving.any():
                self.sums[before] -= self.vectors[rows[leaving]].sum(axis=0)
                self.counts[before] -= int(leaving.sum())
                if not self.counts[before]:
                    self.sums[before] = 0.0
                self._refresh(before)
        self.persons[rows] = NOBODY
        if pinned is not None:
            self.pinned[rows] = pinned
        if key != NOBODY:
            self.persons[rows] = key
            self.members[key] += len(rows)
            counted = self.good[rows] | self.pinned[rows]
            if counted.any():
                self.sums[key] += self.vectors[rows[counted]].sum(axis=0)
                self.counts[key] += int(counted.sum())
                self._refresh(key)
        waiting = (self.persons[rows] == NOBODY) & ~self.pinned[rows] & self.good[rows]
        for row in rows[waiting].tolist():
            self.pool.add(row, self.vectors[row])
        for row in rows[~waiting].tolist():
            self.pool.discard(row)
        person = None if key == NOBODY else self.person_ids[key]
        changes.faces.update(dict.fromkeys(face_ids.tolist(), person))

    def _emptied(self, keys: Iterable[int], changes: Changes) -> None:
        for key in set(keys):
            if key != NOBODY and not self.members[key]:
                changes.emptied.append(self.person_ids[key])
                changes.left.discard(self.person_ids[key])
                self.set_named(self.person_ids[key], False)

    def prototype_distances(self, vector: np.ndarray) -> np.ndarray:
        """Cosine distance from ``vector`` to every person's prototype (2 for
        people without one)."""
        people = len(self.person_ids)
        distance = 1.0 - self.prototypes[:people] @ vector
        distance[self.counts[:people] == 0] = 2.0
        return distance

    def distances(self, vector: np.ndarray) -> np.ndarray:
        """Cosine distance from ``vector`` to every face."""
        return 1.0 - self.vectors[: self.size] @ vector

    # -- photos come and go --------------------------------------------------

    def remove(self, face_ids: Iterable[int]) -> Changes:
        """Forget faces (their photo was deleted); people left with none are emptied."""
        changes = Changes()
        touched = []
        for face_id in face_ids:
            row = self.row_of.get(face_id)
            if row is None:
                continue
            self._undo(self._putting_back(row))
            del self.row_of[face_id]
            key = self._leave(row)
            self.pool.discard(row)
            touched.append(key)
            if key != NOBODY:
                changes.left.add(self.person_ids[key])
            last = self.size - 1
            if row != last:  # move the last row into the hole
                for name in ("vectors", "face_ids", "photos", "persons", "pinned", "good"):
                    array = getattr(self, name)
                    array[row] = array[last]
                self.row_of[int(self.face_ids[row])] = row
                self.pool.moved(last, row)
            self.persons[last] = NOBODY
            self.size = last
        self._emptied(touched, changes)
        return changes

    def _putting_back(self, row: int) -> Callable[[], object]:
        """What undoes removing the face at ``row``."""
        face_id, photo = int(self.face_ids[row]), self.photo_names[int(self.photos[row])]
        vector, pinned = self.vectors[row].copy(), bool(self.pinned[row])
        key, good = int(self.persons[row]), bool(self.good[row])
        person = None if key == NOBODY else self.person_ids[key]
        return lambda: self.insert(face_id, photo, vector, person, pinned,
                                   1.0 if good else -1.0)

    def add_photo(self, photo: str, faces: list[tuple[int, np.ndarray, float]]) -> Changes:
        """Group a photo's new faces (``(face id, unit descriptor, quality)``,
        largest first)."""
        changes = Changes()
        photo_key = self._photo_key(photo)
        taken: set[int] = set()  # people this photo already has a face of
        taken.update(int(k) for k in self.persons[: self.size][
            self.photos[: self.size] == photo_key] if k != NOBODY)
        for face_id, vector, quality in faces:
            self.insert(face_id, photo, vector, quality=quality)
            row = self.size - 1
            if not self.good[row]:
                continue  # waits: only the user places a face we cannot vouch for
            key = self._nearest_person(face_id, vector, taken)
            if key != NOBODY:
                self._set(row, key, changes)
                taken.add(key)
                self._gather(key, changes)
                continue
            core = self._core(row, vector, photo_key)
            if len(core) >= self.rule.min_core:
                person = self.new_id()
                key = self._person_key(person)
                changes.created.append(person)
                for member in core:
                    self._set(member, key, changes)
                taken.add(key)
                self._gather(key, changes)
        return changes

    def _nearest_person(self, face_id: int, vector: np.ndarray, taken: set[int]) -> int:
        distance = self.prototype_distances(vector)
        for key in (*taken, *self.rejected.get(face_id, ())):
            distance[key] = 2.0
        if not len(distance):
            return NOBODY
        best = int(np.argmin(distance))
        if distance[best] > self.rule.join or not self._supported(vector, best):
            return NOBODY
        return best

    def _supported(self, vector: np.ndarray, key: int) -> bool:
        """Whether most of a person's counted faces are within ``join`` of a
        face too: its prototype alone could be walked away from the person
        by a chain of look-alikes joining one by one."""
        rows = self._rows_of(key)
        rows = rows[self.good[rows] | self.pinned[rows]]
        if not len(rows):
            return True
        close = (1.0 - self.vectors[rows] @ vector) <= self.rule.join
        return 2 * int(close.sum()) >= len(rows)

    def _core(self, row: int, vector: np.ndarray, photo_key: int) -> list[int]:
        """The face at ``row`` and free good faces of other photos, all within
        ``core`` of one another, nearest first, one per photo."""
        rows, distance = self.pool.search(vector)
        close = distance <= self.rule.core
        rows, distance = rows[close], distance[close]
        core, photos = [row], {photo_key}
        for candidate in rows[np.argsort(distance)]:
            if int(self.photos[candidate]) in photos:
                continue
            gaps = 1.0 - self.vectors[core] @ self.vectors[candidate]
            if (gaps <= self.rule.core).all():
                core.append(int(candidate))
                photos.add(int(self.photos[candidate]))
        return core

    def _gather(self, key: int, changes: Changes,
                progress: Callable[[int, int], None] | None = None) -> None:
        """Free good faces within ``join`` of a person's prototype join them,
        nearest first, one per photo the person does not have yet.

        Each is checked as :meth:`_supported` would, against the person as
        they are at that moment, but without comparing it with every one of
        their faces again: the candidates are compared with the person's
        counted faces once, as one matrix product, and with the faces that
        joined since in blocks (a person of 50,000 faces gathering 10,000
        takes seconds, not minutes). ``progress`` hears how many candidates
        were looked at."""
        if not self.counts[key]:
            return
        free, gaps = self.pool.search(self.prototypes[key])
        near = gaps <= self.rule.join
        free, gaps = free[near].copy(), gaps[near]
        if not len(free):
            return
        free = free[np.argsort(gaps)]
        photos = self._photos_of(key)
        # (faces of photos the person has, or that said they are not this person,
        # can never join: left out before anything is compared)
        keep = [row for row in free.tolist() if int(self.photos[row]) not in photos and
                not self._is_rejected(int(self.face_ids[row]), key)]
        free = np.asarray(keep, np.int64)
        if not len(free):
            return
        members = self._rows_of(key)
        members = members[self.good[members] | self.pinned[members]]
        candidates = self.vectors[free]  # (a copy: rows move as faces join)
        close = self._close(candidates, self.vectors[members])
        total = len(members)
        joined: list[int] = []  # candidates joined since ``close`` was counted
        for index, row in enumerate(free.tolist()):
            if progress is not None and index % PROGRESS_EVERY == 0:
                progress(index, len(free))
            face_id = int(self.face_ids[row])
            if int(self.photos[row]) in photos or self._is_rejected(face_id, key):
                continue
            # (the prototype moves as faces join: each is checked against it as it is now)
            vector = candidates[index]
            if 1.0 - float(vector @ self.prototypes[key]) > self.rule.join:
                continue
            if total:
                near_joined = int(((1.0 - candidates[joined] @ vector) <= self.rule.join).sum()) \
                    if joined else 0
                if 2 * (int(close[index]) + near_joined) < total:
                    continue
            self._set(row, key, changes)
            photos.add(int(self.photos[row]))
            if self._counts(row):
                joined.append(index)
                total += 1
            if len(joined) == JOINED_BLOCK:  # fold them into the counts of those to come
                rest = slice(index + 1, len(free))
                close[rest] += self._close(candidates[rest], candidates[joined])
                joined = []
        if progress is not None:
            progress(len(free), len(free))

    def _close(self, vectors: np.ndarray, others: np.ndarray) -> np.ndarray:
        """For each of ``vectors``, how many of ``others`` are within ``join``
        of it (in blocks: never a matrix of all pairs at once)."""
        found = np.zeros(len(vectors), np.int64)
        if not len(others):
            return found
        for start in range(0, len(vectors), CLOSE_BLOCK):
            block = vectors[start:start + CLOSE_BLOCK] @ others.T
            found[start:start + CLOSE_BLOCK] = (block >= 1.0 - self.rule.join).sum(axis=1)
        return found

    # -- the user's decisions ------------------------------------------------

    def named_now(self, person: str, progress: Callable[[int, int], None] | None = None
                  ) -> Changes:
        """A person got a name: matching free faces already stored join it."""
        changes = Changes()
        self.set_named(person, True)
        key = self.person_keys.get(person)
        if key is not None:
            self._gather(key, changes, progress)
        return changes

    def move(self, face_id: int, person: str | None) -> Changes:
        """The user put a face in ``person`` (None: in nobody); it stays there."""
        changes = Changes()
        row = self.row_of[face_id]
        before = int(self.persons[row])
        if person is not None and person not in self.person_keys:
            changes.created.append(person)
        key = self._person_key(person)
        if face_id in self.rejected:
            self._rejected(face_id, key, False)
        self._set(row, key, changes, pinned=True)
        self._emptied([before], changes)
        return changes

    def not_this_person(self, face_id: int) -> tuple[str | None, Changes]:
        """The face is not the person it is in: it leaves them, free to be
        grouped elsewhere, and never goes back. Returns who it left."""
        changes = Changes()
        row = self.row_of[face_id]
        key = int(self.persons[row])
        if key == NOBODY:
            return None, changes
        self._rejected(face_id, key, True)
        self._set(row, NOBODY, changes, pinned=False)
        self._emptied([key], changes)
        return self.person_ids[key], changes

    def split(self, face_ids: list[int]) -> tuple[str, Changes]:
        """The user took these faces out into a new person of their own."""
        person = self.new_id()
        changes = Changes()
        for face_id in face_ids:
            changes.update(self.move(face_id, person))
        changes.created = [person]
        return person, changes

    def create(self, face_id: int) -> tuple[str, Changes]:
        """The user split a face off into a new person of its own."""
        return self.split([face_id])

    def merge(self, target: str, sources: Iterable[str]) -> Changes:
        """Every face of ``sources`` becomes ``target``'s (kept there); what
        the user said of the sources now holds for the target."""
        changes = Changes()
        key = self._person_key(target)
        gone = []
        for source in sources:
            source_key = self.person_keys.get(source)
            if source_key is None or source == target:
                continue
            self._set_many(self._rows_of(source_key), key, changes, pinned=True)
            for face_id, keys in list(self.rejected.items()):
                if source_key in keys:
                    self._rejected(face_id, key, True)
            self._replace_different(source, target)
            gone.append(source_key)
        self._emptied(gone, changes)
        return changes

    def _replace_different(self, source: str, target: str) -> None:
        before = self.different
        self.different = {frozenset(target if p == source else p for p in pair)
                          for pair in before}
        self._undo(lambda: setattr(self, "different", before))

    def suggestions(self, limit: int = 50) -> list[tuple[str, str, float]]:
        """Pairs of people who may be one ("same person?"): prototypes within
        ``review`` of each other, nearest first, without the pairs the user
        said are different."""
        return self.snapshot().pairs(limit)

    def snapshot(self) -> Snapshot:
        """What :meth:`suggestions` reads, copied: its work (quadratic in
        the number of people) can then run on another thread."""
        live = np.nonzero(self.counts[: len(self.person_ids)] > 0)[0]
        return Snapshot(self.prototypes[live].copy(), [self.person_ids[k] for k in live],
                        set(self.different), self.rule.review)


@dataclass(frozen=True)
class Snapshot:
    """The people's prototypes at one moment, for "same person?"."""

    prototypes: np.ndarray
    ids: list[str]
    different: set[frozenset[str]]
    review: float

    def pairs(self, limit: int) -> list[tuple[str, str, float]]:
        if len(self.ids) < 2:
            return []
        found: list[tuple[float, str, str]] = []
        for start in range(0, len(self.ids), 1024):
            block = 1.0 - self.prototypes[start:start + 1024] @ self.prototypes.T
            rows, cols = np.nonzero(block <= self.review)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if start + r < c:
                    pair = (self.ids[start + r], self.ids[c])
                    if frozenset(pair) not in self.different:
                        found.append((float(block[r, c]), *pair))
        found.sort()
        return [(a, b, distance) for distance, a, b in found[:limit]]

"""The catalogue: a SQLite database ``<data_dir>/catalogue.sqlite3`` of the
photos, their faces and the people they are grouped into. Its schema is kept
by :mod:`faces.library.migrations`.

Calls are meant for one thread (the IOLoop's): each is one short statement
or transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import migrations
from .records import Described, FaceOf, Person, Photo, utc_now

CATALOGUE = "catalogue.sqlite3"
COLUMNS = "id, filename, created, width, height, original, annotated, thumbnail"
FACE_COLUMNS = "photo, position, x1, y1, x2, y2, score, landmarks"
FACES_PER_QUERY = 500  # photos whose faces one query reads (SQLite caps bound values)


def photo_from_row(row: tuple, faces: list[dict]) -> Photo:
    photo_id, filename, created, width, height, original, annotated, thumbnail = row
    return Photo(photo_id, filename, created, width, height, faces, original, annotated,
                 thumbnail)


def face_row(photo_id: str, position: int, face: dict) -> tuple:
    landmarks = face.get("landmarks")
    return (photo_id, position, *face["box"], face["score"],
            None if landmarks is None else json.dumps(landmarks, separators=(",", ":")))


def face_json(row: tuple) -> dict:
    face_id, x1, y1, x2, y2, score, landmarks, person = row
    return {"id": face_id, "box": [x1, y1, x2, y2], "score": score,
            "landmarks": None if landmarks is None else json.loads(landmarks),
            "person": person}


PERSON_QUERY = """
    SELECT p.id, p.name, p.hidden, p.created, p.faces, p.photos, c.crop
    FROM people AS p LEFT JOIN faces AS c ON c.id = p.cover
"""
# A person's cover: their best face, that is the one the recognizer vouches
# for most, then the largest (up to 300 pixels high: past that, size adds
# nothing to a 160-pixel crop).
COVER = """
    SELECT id FROM faces WHERE person = people.id AND crop IS NOT NULL
    ORDER BY COALESCE(quality, 0) * MIN(y2 - y1, 300) DESC, y2 - y1 DESC, id LIMIT 1
"""
RECOUNT = f"""
    UPDATE people SET
        faces = (SELECT COUNT(*) FROM faces WHERE person = people.id),
        photos = (SELECT COUNT(DISTINCT photo) FROM faces WHERE person = people.id),
        cover = ({COVER})
    WHERE id = ?
"""


def person_from_row(row: tuple) -> Person:
    return Person(row[0], row[1], bool(row[2]), *row[3:])


class Catalogue:
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.path = Path(data_dir) / CATALOGUE
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrations.migrate(self.db, self.path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def add(self, photo: Photo) -> bool:
        """Insert ``photo`` and its faces; False when a photo with that id
        already exists."""
        try:
            with self._transaction():
                self.db.execute(
                    f"INSERT INTO photos ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (photo.id, photo.filename, photo.created, photo.width, photo.height,
                     photo.original, photo.annotated, photo.thumbnail))
                self.db.executemany(
                    f"INSERT INTO faces ({FACE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [face_row(photo.id, n, face) for n, face in enumerate(photo.faces)])
        except sqlite3.IntegrityError:
            return False
        return True

    def add_face(self, photo_id: str, face: dict) -> int:
        """A face the user drew on a photo; its id. The photo goes back to
        recognition (its new face gets described)."""
        with self._transaction():
            position = self.db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM faces "
                                       "WHERE photo = ?", (photo_id,)).fetchone()[0]
            cursor = self.db.execute(
                f"INSERT INTO faces ({FACE_COLUMNS}, added) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                face_row(photo_id, position, face))
            self.db.execute("UPDATE photos SET recognized = 0 WHERE id = ?", (photo_id,))
        return cursor.lastrowid

    def _photos(self, rows: Iterable[tuple]) -> list[Photo]:
        """Photos from rows of COLUMNS, each with its faces (one more query)."""
        rows = list(rows)
        faces: dict[str, list[dict]] = {row[0]: [] for row in rows}
        ids = list(faces)
        for start in range(0, len(ids), FACES_PER_QUERY):
            batch = ids[start:start + FACES_PER_QUERY]
            for row in self.db.execute(
                    f"SELECT photo, id, x1, y1, x2, y2, score, landmarks, person FROM faces "
                    f"WHERE photo IN ({', '.join('?' * len(batch))}) "
                    f"ORDER BY photo, position", batch):
                faces[row[0]].append(face_json(row[1:]))
        return [photo_from_row(row, faces[row[0]]) for row in rows]

    def delete(self, photo_id: str) -> Photo | None:
        """Remove the catalogue row; returns the photo it described, if any."""
        photo = self.get(photo_id)
        if photo is not None:  # its faces go with it (ON DELETE CASCADE)
            self.db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
        return photo

    def all_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM photos")}

    def get(self, photo_id: str) -> Photo | None:
        rows = self.db.execute(f"SELECT {COLUMNS} FROM photos WHERE id = ?", (photo_id,))
        found = self._photos(rows)
        return found[0] if found else None

    def _seq(self, photo_id: str) -> int | None:
        row = self.db.execute("SELECT seq FROM photos WHERE id = ?", (photo_id,)).fetchone()
        return row[0] if row else None

    def newest(self, limit: int, before: str | None = None) -> list[Photo]:
        """Up to ``limit`` photos, newest first, older than ``before`` if given.

        An unknown ``before`` id raises KeyError.
        """
        if before is None:
            rows = self.db.execute(
                f"SELECT {COLUMNS} FROM photos ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            seq = self._seq(before)
            if seq is None:
                raise KeyError(before)
            rows = self.db.execute(
                f"SELECT {COLUMNS} FROM photos WHERE seq < ? ORDER BY seq DESC LIMIT ?",
                (seq, limit))
        return self._photos(rows)

    def since(self, after: str | None) -> Iterable[Photo]:
        """Every photo newer than ``after`` (all if None), oldest first.

        An unknown ``after`` id raises KeyError.
        """
        seq = 0
        if after is not None:
            found = self._seq(after)
            if found is None:
                raise KeyError(after)
            seq = found
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM photos WHERE seq > ? ORDER BY seq ASC", (seq,))
        return self._photos(rows)

    @staticmethod
    def _with_all(people: list[str]) -> tuple[str, list]:
        """SQL for the ids of photos that show every one of ``people``."""
        marks = ", ".join("?" * len(people))
        return (f"SELECT photo FROM faces WHERE person IN ({marks}) GROUP BY photo "
                f"HAVING COUNT(DISTINCT person) = ?", [*people, len(people)])

    def count(self, people: list[str] | None = None) -> int:
        """Photos in the gallery, or those showing every one of ``people``."""
        if people:
            query, values = self._with_all(people)
            return self.db.execute(f"SELECT COUNT(*) FROM ({query})", values).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]

    def newest_of(self, people: list[str], limit: int, before: str | None = None
                  ) -> list[Photo]:
        """Like :meth:`newest`, only photos that show every one of ``people``."""
        bound = self._seq(before) if before is not None else None
        if before is not None and bound is None:
            raise KeyError(before)
        query, values = self._with_all(people)
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM photos WHERE id IN ({query}) AND seq < ? "
            f"ORDER BY seq DESC LIMIT ?", (*values, bound or 1 << 62, limit))
        return self._photos(rows)

    # -- people --------------------------------------------------------------

    def waiting(self) -> list[str]:
        """Photos whose faces have not been through recognition: first those
        with faces in a person the user named or hid (their people then
        have prototypes before the other faces come), then oldest first."""
        return [row[0] for row in self.db.execute(
            "SELECT id FROM photos WHERE recognized = 0 ORDER BY EXISTS (SELECT 1 FROM faces "
            "AS f JOIN people AS h ON h.id = f.person WHERE f.photo = photos.id AND "
            "(h.name IS NOT NULL OR h.hidden = 1)) DESC, seq")]

    def recognized(self, photo_id: str, described: dict[int, Described]) -> None:
        """Keep each face's descriptor, quality, recognizer and crop file name,
        and mark the photo done."""
        with self._transaction():
            self.db.executemany(
                "UPDATE faces SET descriptor = ?, quality = ?, recognizer = ?, crop = ? "
                "WHERE id = ?", [(d.vector, d.quality, d.recognizer, d.crop, face_id)
                                 for face_id, d in described.items()])
            self.db.execute("UPDATE photos SET recognized = 1 WHERE id = ?", (photo_id,))
            self._recount({row[0] for row in self.db.execute(
                "SELECT DISTINCT person FROM faces WHERE photo = ? AND person IS NOT NULL",
                (photo_id,))})

    def descriptors(self, family: str) -> Iterator[tuple]:
        """Every face described by the recognizer ``family``: id, photo,
        descriptor, person, pinned, quality."""
        yield from self.db.execute(
            "SELECT f.id, f.photo, f.descriptor, f.person, f.pinned, COALESCE(f.quality, 1) "
            "FROM faces AS f JOIN photos AS p ON p.id = f.photo "
            "WHERE f.descriptor IS NOT NULL AND f.recognizer = ? ORDER BY p.seq", (family,))

    def stale(self, family: str) -> int:
        """Photos whose faces another recognizer described."""
        return self.db.execute(
            "SELECT COUNT(DISTINCT photo) FROM faces WHERE descriptor IS NOT NULL AND "
            "recognizer IS NOT ?", (family,)).fetchone()[0]

    def redescribe(self, family: str) -> int:
        """Another recognizer described these faces: their photos go back to
        recognition. What the user decided stays: faces they placed, and the
        people they named or hid keep their faces; other faces are free to
        be grouped again by the new descriptors (people left empty go).
        Returns the photos queued."""
        with self._transaction():
            stale = "descriptor IS NOT NULL AND recognizer IS NOT ?"
            self.db.execute(
                f"UPDATE faces SET person = NULL WHERE {stale} AND pinned = 0 AND person IN "
                f"(SELECT id FROM people WHERE name IS NULL AND hidden = 0)", (family,))
            self.db.execute("DELETE FROM people WHERE NOT EXISTS "
                            "(SELECT 1 FROM faces WHERE person = people.id)")
            queued = self.db.execute(
                f"UPDATE photos SET recognized = 0 WHERE id IN "
                f"(SELECT photo FROM faces WHERE {stale})", (family,)).rowcount
            self._recount([row[0] for row in self.db.execute("SELECT id FROM people")])
        return queued

    def description_state(self, photo_id: str) -> dict[int, tuple[str | None, str | None,
                                                                     bool, bool]]:
        """Each face of a photo: the recognizer that described it (None: not
        described), its person, whether the user placed it, whether the user
        added it."""
        return {row[0]: (row[1] if row[2] else None, row[3], bool(row[4]), bool(row[5]))
                for row in self.db.execute(
                    "SELECT id, recognizer, descriptor IS NOT NULL, person, pinned, added "
                    "FROM faces WHERE photo = ?", (photo_id,))}

    def face(self, face_id: int) -> tuple[str, str | None] | None:
        """A face's photo and person."""
        return self.db.execute("SELECT photo, person FROM faces WHERE id = ?",
                               (face_id,)).fetchone()

    def _recount(self, people: Iterable[str]) -> None:
        self.db.executemany(RECOUNT, [(person,) for person in people if person])

    def regroup(self, faces: dict[int, str | None], created: list[str], emptied: list[str],
                pinned: bool | None = False, left: Iterable[str] = ()) -> None:
        """Apply a grouping's changes: new people, faces' people (pinned by
        the user, or by grouping: ``pinned`` None keeps what each face had),
        empty people gone, every person touched recounted."""
        with self._transaction():
            now = utc_now()
            self.db.executemany("INSERT OR IGNORE INTO people (id, created) VALUES (?, ?)",
                                [(person, now) for person in created])
            if pinned is None:
                self.db.executemany("UPDATE faces SET person = ? WHERE id = ?",
                                    [(person, face_id) for face_id, person in faces.items()])
            else:
                self.db.executemany(
                    "UPDATE faces SET person = ?, pinned = ? WHERE id = ?",
                    [(person, int(pinned), face_id) for face_id, person in faces.items()])
            self.db.executemany("DELETE FROM people WHERE id = ? AND NOT EXISTS "
                                "(SELECT 1 FROM faces WHERE person = people.id)",
                                [(person,) for person in emptied])
            self._recount({*faces.values(), *created, *left} - set(emptied))

    def reject(self, face_id: int, person: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO rejections (face, person) VALUES (?, ?)",
                        (face_id, person))

    def rejections(self) -> Iterator[tuple[int, str]]:
        yield from self.db.execute("SELECT face, person FROM rejections")

    def set_different(self, a: str, b: str) -> None:
        a, b = sorted((a, b))
        self.db.execute("INSERT OR IGNORE INTO different (a, b) VALUES (?, ?)", (a, b))

    def differences(self) -> Iterator[tuple[str, str]]:
        yield from self.db.execute("SELECT a, b FROM different")

    def carry_over(self, target: str, source: str) -> None:
        """A merge: what the user said of ``source`` holds for ``target``."""
        self.db.execute("INSERT OR IGNORE INTO rejections (face, person) SELECT face, ? "
                        "FROM rejections WHERE person = ?", (target, source))
        for a, b in list(self.db.execute("SELECT a, b FROM different WHERE a = ? OR b = ?",
                                         (source, source))):
            other = b if a == source else a
            if other != target:
                self.set_different(target, other)

    def faces_of(self, person_id: str, limit: int, before: int | None = None
                 ) -> list[FaceOf]:
        """A person's faces, newest first (by face id), older than ``before``."""
        rows = self.db.execute(
            "SELECT id, photo, crop, pinned, COALESCE(quality, 0) FROM faces WHERE person = ? "
            "AND id < ? ORDER BY id DESC LIMIT ?", (person_id, before or 1 << 62, limit))
        return [FaceOf(row[0], row[1], row[2], bool(row[3]), row[4]) for row in rows]

    def named(self) -> list[Person]:
        """The people with a name, by name."""
        rows = self.db.execute(PERSON_QUERY + " WHERE p.name IS NOT NULL ORDER BY p.name, p.id")
        return [person_from_row(r) for r in rows]

    def person(self, person_id: str) -> Person | None:
        row = self.db.execute(PERSON_QUERY + " WHERE p.id = ?", (person_id,)).fetchone()
        return person_from_row(row) if row else None

    def people(self, hidden: bool = False) -> list[Person]:
        """Everyone, most photos first (hidden people only when asked)."""
        where = "" if hidden else " WHERE p.hidden = 0"
        rows = self.db.execute(PERSON_QUERY + where + " ORDER BY p.photos DESC, p.id")
        return [person_from_row(r) for r in rows]

    def update_person(self, person_id: str, name: str | None = None,
                      hidden: bool | None = None, clear_name: bool = False) -> None:
        if name is not None or clear_name:
            self.db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))
        if hidden is not None:
            self.db.execute("UPDATE people SET hidden = ? WHERE id = ?",
                            (int(hidden), person_id))

    def named_people(self) -> set[str]:
        return {row[0] for row in self.db.execute(
            "SELECT id FROM people WHERE name IS NOT NULL")}

    def face_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

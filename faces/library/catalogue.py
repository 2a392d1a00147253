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
from .records import Person, Photo, utc_now

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
    SELECT p.id, p.name, p.hidden, p.created, COUNT(f.id), COUNT(DISTINCT f.photo),
           (SELECT c.crop FROM faces AS c WHERE c.person = p.id AND c.crop IS NOT NULL
            ORDER BY (c.x2 - c.x1) * (c.y2 - c.y1) DESC LIMIT 1)
    FROM people AS p LEFT JOIN faces AS f ON f.person = p.id
"""


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

    def count(self, person: str | None = None) -> int:
        if person is not None:
            return self.db.execute("SELECT COUNT(DISTINCT photo) FROM faces WHERE person = ?",
                                   (person,)).fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]

    def newest_of(self, person: str, limit: int, before: str | None = None) -> list[Photo]:
        """Like :meth:`newest`, only photos in which ``person`` is."""
        bound = self._seq(before) if before is not None else None
        if before is not None and bound is None:
            raise KeyError(before)
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM photos WHERE id IN "
            f"(SELECT photo FROM faces WHERE person = ?) AND seq < ? "
            f"ORDER BY seq DESC LIMIT ?", (person, bound or 1 << 62, limit))
        return self._photos(rows)

    # -- people --------------------------------------------------------------

    def waiting(self) -> list[str]:
        """Photos whose faces have not been through recognition, oldest first."""
        return [row[0] for row in self.db.execute(
            "SELECT id FROM photos WHERE recognised = 0 ORDER BY seq")]

    def recognized(self, photo_id: str, described: dict[int, tuple[bytes, str]]) -> None:
        """Keep each face's descriptor and crop file name (face id -> both),
        and mark the photo done."""
        with self._transaction():
            self.db.executemany("UPDATE faces SET descriptor = ?, crop = ? WHERE id = ?",
                                [(blob, crop, face_id)
                                 for face_id, (blob, crop) in described.items()])
            self.db.execute("UPDATE photos SET recognised = 1 WHERE id = ?", (photo_id,))

    def descriptors(self) -> Iterator[tuple[int, str, bytes, str | None, bool]]:
        """Every described face: id, photo, descriptor, person, pinned."""
        yield from self.db.execute(
            "SELECT f.id, f.photo, f.descriptor, f.person, f.pinned FROM faces AS f "
            "JOIN photos AS p ON p.id = f.photo WHERE f.descriptor IS NOT NULL ORDER BY p.seq")

    def face(self, face_id: int) -> tuple[str, str | None] | None:
        """A face's photo and person."""
        return self.db.execute("SELECT photo, person FROM faces WHERE id = ?",
                               (face_id,)).fetchone()

    def regroup(self, faces: dict[int, str | None], created: list[str], emptied: list[str],
                pinned: bool = False) -> None:
        """Apply a grouping's changes: new people, faces' people, empty people gone."""
        with self._transaction():
            now = utc_now()
            self.db.executemany("INSERT OR IGNORE INTO people (id, created) VALUES (?, ?)",
                                [(person, now) for person in created])
            self.db.executemany(
                "UPDATE faces SET person = ?, pinned = MAX(pinned, ?) WHERE id = ?",
                [(person, int(pinned), face_id) for face_id, person in faces.items()])
            self.db.executemany("DELETE FROM people WHERE id = ? AND NOT EXISTS "
                                "(SELECT 1 FROM faces WHERE person = people.id)",
                                [(person,) for person in emptied])

    def person(self, person_id: str) -> Person | None:
        row = self.db.execute(PERSON_QUERY + " WHERE p.id = ? GROUP BY p.id",
                              (person_id,)).fetchone()
        return Person(row[0], row[1], bool(row[2]), *row[3:]) if row else None

    def people(self, hidden: bool = False) -> list[Person]:
        """Everyone, most faces first (hidden people only when asked)."""
        where = "" if hidden else " WHERE p.hidden = 0"
        rows = self.db.execute(PERSON_QUERY + where + " GROUP BY p.id "
                               "ORDER BY COUNT(f.id) DESC, p.created, p.id")
        return [Person(r[0], r[1], bool(r[2]), *r[3:]) for r in rows]

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

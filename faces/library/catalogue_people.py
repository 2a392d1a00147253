"""The catalogue's people: who each face is, the people with their counts
and cover kept up to date as faces come and go (so reading People is a page
of an index, never a count over the library), and what the user said (no
to a face, no to a pair of people).

A mixin of :class:`faces.library.catalogue.Catalogue`; every change here is
one transaction, and costs in proportion to the faces it moves.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .records import FaceOf, Person, utc_now

PERSON_QUERY = """
    SELECT p.id, p.name, p.hidden, p.created, p.faces, p.photos, c.crop
    FROM people AS p LEFT JOIN faces AS c ON c.id = p.cover
"""
# A person's cover: their best face, that is the one the recognizer vouches
# for most, then the largest (up to 300 pixels high: past that, size adds
# nothing to a 160-pixel crop). The index faces_cover (migration 4) holds
# exactly this order: keep the two the same, or choosing a cover becomes a
# scan of the person's faces.
COVER_SCORE = "COALESCE(quality, 0) * MIN(y2 - y1, 300)"
COVER = f"""
    SELECT id FROM faces WHERE person = people.id AND crop IS NOT NULL
    ORDER BY {COVER_SCORE} DESC, y2 - y1 DESC, id LIMIT 1
"""
RECOUNT = f"""
    UPDATE people SET
        faces = (SELECT COUNT(*) FROM faces WHERE person = people.id),
        photos = (SELECT COUNT(DISTINCT seq) FROM faces WHERE person = people.id),
        cover = ({COVER})
    WHERE id = ?
"""


BULK = 64  # faces moved at once past which they are written in bulk, then counted
CHUNK = 500  # faces written per statement batch (and per progress report)


def person_from_row(row: tuple) -> Person:
    return Person(row[0], row[1], bool(row[2]), *row[3:])


class PeopleRows:
    """The people half of the catalogue (``self.db``, ``self._transaction``
    come from it)."""

    db: sqlite3.Connection
    _transaction: Any

    # -- keeping counts and covers true ------------------------------------------

    def _recount(self, people: Iterable[str | None]) -> None:
        """Count a person's faces and photos again, and choose their cover:
        in proportion to the person's size (used where a change is large)."""
        self.db.executemany(RECOUNT, [(person,) for person in people if person])

    def _in_photo(self, person: str, seq: int) -> int:
        """How many of ``person``'s faces are in the photo ``seq``."""
        return self.db.execute("SELECT COUNT(*) FROM faces WHERE person = ? AND seq = ?",
                               (person, seq)).fetchone()[0]

    def _place(self, face_id: int, person: str | None, pinned: bool | None) -> None:
        """Move one face to ``person``, keeping both people's counts and
        covers true (index look-ups only, whatever the people's sizes)."""
        row = self.db.execute("SELECT person, seq, crop IS NOT NULL FROM faces WHERE id = ?",
                              (face_id,)).fetchone()
        if row is None:
            return
        before, seq, has_crop = row
        if before == person:
            if pinned is not None:
                self.db.execute("UPDATE faces SET pinned = ? WHERE id = ?",
                                (int(pinned), face_id))
            return
        joins = person is not None and not self._in_photo(person, seq)
        if pinned is None:
            self.db.execute("UPDATE faces SET person = ? WHERE id = ?", (person, face_id))
        else:
            self.db.execute("UPDATE faces SET person = ?, pinned = ? WHERE id = ?",
                            (person, int(pinned), face_id))
        if before is not None:
            leaves = not self._in_photo(before, seq)
            self.db.execute("UPDATE people SET faces = faces - 1, photos = photos - ? "
                            "WHERE id = ?", (int(leaves), before))
            self.db.execute(f"UPDATE people SET cover = ({COVER}) WHERE id = ? AND cover = ?",
                            (before, face_id))
        if person is not None:
            self.db.execute("UPDATE people SET faces = faces + 1, photos = photos + ? "
                            "WHERE id = ?", (int(joins), person))
            if has_crop:
                self._better_cover(person, face_id)

    def _place_many(self, faces: dict[int, str | None], pinned: bool | None,
                    progress: Callable[[int, int], None] | None) -> None:
        """Move many faces at once: written a chunk at a time, then every
        person who lost or gained one counted again (in proportion to their
        size, once each, instead of per face)."""
        items = list(faces.items())
        touched: set[str] = set()
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            touched.update(row[0] for row in self.db.execute(
                f"SELECT DISTINCT person FROM faces WHERE id IN ({marks}) AND person IS NOT NULL",
                [face_id for face_id, _ in chunk]))
            if pinned is None:
                self.db.executemany("UPDATE faces SET person = ? WHERE id = ?",
                                    [(person, face_id) for face_id, person in chunk])
            else:
                self.db.executemany("UPDATE faces SET person = ?, pinned = ? WHERE id = ?",
                                    [(person, int(pinned), face_id) for face_id, person in chunk])
            touched.update(person for _, person in chunk if person is not None)
            if progress is not None:
                progress(start + len(chunk), len(items))
        self._recount(sorted(touched))

    def _better_cover(self, person: str, face_id: int) -> None:
        """``face_id`` is the person's cover if it beats the one they have
        (in COVER's order: score, then height, then the older face)."""
        rank = f"SELECT {COVER_SCORE}, y2 - y1, -id FROM faces WHERE id = "
        self.db.execute(
            f"UPDATE people SET cover = ? WHERE id = ? AND "
            f"(SELECT crop IS NOT NULL FROM faces WHERE id = ?) AND (cover IS NULL OR "
            f"({rank} ?) > ({rank} people.cover))", (face_id, person, face_id, face_id))

    def regroup(self, faces: dict[int, str | None], created: list[str], emptied: list[str],
                pinned: bool | None = False, left: Iterable[str] = (),
                progress: Callable[[int, int], None] | None = None) -> None:
        """Apply a grouping's changes, whole: new people, faces' people
        (pinned by the user, or by grouping: ``pinned`` None keeps what each
        face had), empty people gone. A few faces are placed one by one
        (index look-ups); many at once in bulk, chunk by chunk (``progress``
        hears how far), then the people they touched counted again."""
        with self._transaction():
            now = utc_now()
            self.db.executemany("INSERT OR IGNORE INTO people (id, created) VALUES (?, ?)",
                                [(person, now) for person in created])
            if len(faces) <= BULK:
                for face_id, person in faces.items():
                    self._place(face_id, person, pinned)
            else:
                self._place_many(faces, pinned, progress)
            self.db.executemany("DELETE FROM people WHERE id = ? AND NOT EXISTS "
                                "(SELECT 1 FROM faces WHERE person = people.id)",
                                [(person,) for person in emptied])

    # -- reading ---------------------------------------------------------------------

    def person(self, person_id: str) -> Person | None:
        row = self.db.execute(PERSON_QUERY + " WHERE p.id = ?", (person_id,)).fetchone()
        return person_from_row(row) if row else None

    def people(self, hidden: bool = False) -> list[Person]:
        """Everyone, most photos first (hidden people only when asked)."""
        where = "" if hidden else " WHERE p.hidden = 0"
        rows = self.db.execute(PERSON_QUERY + where + " ORDER BY p.photos DESC, p.id")
        return [person_from_row(r) for r in rows]

    def people_page(self, limit: int, after: str | None = None, hidden: bool = False
                    ) -> list[Person] | None:
        """A page of people, most photos first (ties by id), after the person
        ``after`` (None for an unknown one): a walk of the people_by_photos
        index, whatever the number of people."""
        where = [] if hidden else ["p.hidden = 0"]
        values: list[Any] = []
        if after is not None:
            found = self.db.execute("SELECT photos FROM people WHERE id = ?",
                                    (after,)).fetchone()
            if found is None:
                return None
            where.append("(p.photos < ? OR (p.photos = ? AND p.id > ?))")
            values += [found[0], found[0], after]
        sql = PERSON_QUERY + (" WHERE " + " AND ".join(where) if where else "") + \
            " ORDER BY p.photos DESC, p.id LIMIT ?"
        return [person_from_row(r) for r in self.db.execute(sql, (*values, limit))]

    def person_named(self, name: str) -> str | None:
        """The person with this name (case aside; the one with most photos
        if several have it)."""
        row = self.db.execute("SELECT id FROM people WHERE name = ? COLLATE NOCASE "
                              "ORDER BY photos DESC, id LIMIT 1", (name,)).fetchone()
        return row[0] if row else None

    def named(self) -> list[Person]:
        """The people with a name, by name."""
        rows = self.db.execute(PERSON_QUERY + " WHERE p.name IS NOT NULL ORDER BY p.name, p.id")
        return [person_from_row(r) for r in rows]

    def named_people(self) -> set[str]:
        return {row[0] for row in self.db.execute(
            "SELECT id FROM people WHERE name IS NOT NULL")}

    def faces_of(self, person_id: str, limit: int, before: int | None = None
                 ) -> list[FaceOf] | None:
        """A person's faces, newest photo first, older than the face
        ``before`` (None for a face that is not theirs)."""
        bound = (1 << 62, 1 << 62)
        if before is not None:
            found = self.db.execute("SELECT seq FROM faces WHERE id = ? AND person = ?",
                                    (before, person_id)).fetchone()
            if found is None:
                return None
            bound = (found[0], before)
        rows = self.db.execute(
            "SELECT id, photo, crop, pinned, COALESCE(quality, 0) FROM faces "
            "WHERE person = ? AND (seq < ? OR (seq = ? AND id < ?)) "
            "ORDER BY seq DESC, id DESC LIMIT ?",
            (person_id, bound[0], bound[0], bound[1], limit))
        return [FaceOf(row[0], row[1], row[2], bool(row[3]), row[4]) for row in rows]

    # -- the user's word ----------------------------------------------------------------

    def update_person(self, person_id: str, name: str | None = None,
                      hidden: bool | None = None, clear_name: bool = False) -> None:
        if name is not None or clear_name:
            self.db.execute("UPDATE people SET name = ? WHERE id = ?", (name, person_id))
        if hidden is not None:
            self.db.execute("UPDATE people SET hidden = ? WHERE id = ?",
                            (int(hidden), person_id))

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

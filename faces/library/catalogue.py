"""The catalogue: a SQLite database ``<data_dir>/catalogue.sqlite3`` of the
photos, their faces and (:mod:`.catalogue_people`) the people they are
grouped into. Its schema is kept by :mod:`faces.library.migrations`.

One writer, as Datasette does it: every change runs on the catalogue's own
writer thread (:meth:`Catalogue.write`), on a connection only it uses, one
change after another; the server's event loop awaits it and never holds a
write lock or waits for one. Reads made on the event loop (a page, a photo,
a person: each bounded by an index, never a scan of the library) go to a
read connection of their own (:meth:`Catalogue.serve`), which sees what is
committed and never an edit half done. Work that reads it all (loading
People, putting the catalogue right) reads through :meth:`Catalogue.reader`
off the event loop. Without :meth:`serve` (the command line, scripts)
everything runs on the write connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import (
    CatalogueBusy,
    CatalogueDamaged,
    CatalogueUnwritable,
    DataDirError,
    FacesError,
    StorageFull,
)
from . import migrations
from .catalogue_accounts import AccountRows
from .catalogue_people import COVER, PeopleRows
from .catalogue_places import Place, PlaceRows
from .files import disk_full
from .records import Described, Photo, taken_key

log = logging.getLogger(__name__)

CATALOGUE = "catalogue.sqlite3"
COLUMNS = ("id, filename, created, width, height, display, annotated, thumbnail, original, "
           "taken, taken_source, make, model, latitude, longitude, orientation")
ORDERS = ("taken", "added")  # the timeline (date taken), or the order photos came in
FACE_COLUMNS = "photo, position, x1, y1, x2, y2, score, landmarks"
FACES_PER_QUERY = 500  # photos whose faces one query reads (SQLite caps bound values)
OPTIMIZE_EVERY = 3600.0  # seconds between two `PRAGMA optimize` on a long-lived connection


def photo_from_row(row: tuple, faces: list[dict]) -> Photo:
    photo_id, filename, created, width, height, display, annotated, thumbnail, *more = row
    return Photo(photo_id, filename, created, width, height, faces, display, annotated,
                 thumbnail, *more)


def face_row(photo_id: str, position: int, face: dict) -> tuple:
    landmarks = face.get("landmarks")
    return (photo_id, position, *face["box"], face["score"],
            None if landmarks is None else json.dumps(landmarks, separators=(",", ":")))


def face_json(row: tuple) -> dict:
    face_id, x1, y1, x2, y2, score, landmarks, person = row
    return {"id": face_id, "box": [x1, y1, x2, y2], "score": score,
            "landmarks": None if landmarks is None else json.loads(landmarks),
            "person": person}


def catalogue_error(exc: sqlite3.Error, path: Path) -> FacesError | None:
    """SQLite's refusal as faces' own error, saying what to do; None for one
    that is not the machine's (a bug: it stays as it is)."""
    text = str(exc).lower()
    if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError,
                        sqlite3.InterfaceError)):
        return None
    if "full" in text:
        return StorageFull(f"The catalogue could not be written: the disk holding {path.parent} "
                           f"is full. Free some space (deleting photos frees it).")
    if "locked" in text or "busy" in text:
        return CatalogueBusy(f"The catalogue {path} is locked by another program (another "
                             f"faces server on the same data directory?); try again soon.")
    if "readonly" in text or "read-only" in text:
        return CatalogueUnwritable(f"The catalogue {path} cannot be written: it or its folder "
                                   f"is read-only (a read-only mount?).")
    if "disk i/o" in text and disk_full(path.parent) is not None:  # (its journal, its -shm)
        return StorageFull(f"The catalogue could not be opened or written: the disk holding "
                           f"{path.parent} is full. Free some space.")
    if "malformed" in text or "not a database" in text or "disk i/o" in text or \
            "corrupt" in text:
        return CatalogueDamaged(f"The catalogue {path} is damaged ({exc}): run `faces check`, "
                                f"then restore a backup (`faces restore`) or rebuild it with "
                                f"`faces reindex`.")
    return None


def optimize(db: sqlite3.Connection, first: bool = False) -> None:
    """SQLite's own upkeep of its query planner's statistics, as its
    documentation recommends for a long-lived connection: at open (with the
    flag that analyses what has never been), then now and then. It keeps
    each plan on the index made for it whatever the library's shape."""
    with contextlib.suppress(sqlite3.DatabaseError):  # (upkeep: never a reason to fail)
        db.execute("PRAGMA optimize=0x10002" if first else "PRAGMA optimize")


class Catalogue(PeopleRows, PlaceRows, AccountRows):
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.path = Path(data_dir) / CATALOGUE
        self.write_error = ""  # why the last write failed ("" once one succeeds)
        self._reads: sqlite3.Connection | None = None  # the event loop's (see serve())
        self._loop_thread: int | None = None
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="catalogue-writer")
        self._optimized = time.monotonic()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            migrations.migrate(self._db, self.path)
            for table in ("photos", "faces", "people", "places"):  # every table read once, through
                self._db.execute(f"SELECT COUNT(*) FROM {table}")  # its smallest index
            self._db.execute("BEGIN IMMEDIATE")  # (can it be written at all?)
            self._db.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            self._writer.shutdown()
            mapped = catalogue_error(exc, self.path)
            if mapped is None:
                raise  # (not the machine's: a bug, with its traceback)
            raise DataDirError(str(mapped)) from None

    @property
    def db(self) -> sqlite3.Connection:
        """The connection for this thread: the read connection on the
        event loop's thread once :meth:`serve` was called; else the write
        connection."""
        if self._reads is not None and threading.get_ident() == self._loop_thread:
            return self._reads
        return self._db

    def serve(self) -> None:
        """From now on reads made on this thread (the event loop's) go to a
        connection of their own, and changes must go through :meth:`write`."""
        if self._reads is None:
            self._reads = sqlite3.connect(self.path, check_same_thread=False,
                                          isolation_level=None)
            self._reads.execute("PRAGMA query_only=1")
            # The planner's statistics, brought up to date by the writer meanwhile
            # (a first analysis of a large library takes a moment); every
            # connection plans with them once they are written.
            self._writer.submit(optimize, self._db, True)
        self._loop_thread = threading.get_ident()

    async def write(self, change: Callable[..., Any], *args: Any) -> Any:
        """Run ``change(*args)`` on the writer thread, after the changes
        asked before it; its answer or its error."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, change, *args)

    def write_later(self, change: Callable[..., Any], *args: Any) -> None:
        """Run ``change(*args)`` on the writer thread without waiting for it
        (bookkeeping such as a session's last use: a failure is logged,
        never the request's)."""
        def run() -> None:
            try:
                change(*args)
            except Exception as exc:
                log.warning("a catalogue bookkeeping write failed: %s", exc)
        self._writer.submit(run)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        optimize(self._db)
        self._db.close()
        if self._reads is not None:
            self._reads.close()

    @contextmanager
    def reader(self) -> Iterator[Catalogue]:
        """A read-only view of the catalogue on a connection of its own, for
        work that reads the whole library on another thread (WAL lets it
        read while the writer writes)."""
        view = object.__new__(type(self))
        view.path = self.path
        view._reads, view._loop_thread = None, None
        view._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                   check_same_thread=False)
        try:
            yield view
        finally:
            view._db.close()

    def stored_family(self) -> str | None:
        """The recognizer that described most of the stored faces."""
        row = self.db.execute("SELECT recognizer FROM faces WHERE recognizer IS NOT NULL "
                              "GROUP BY recognizer ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
        return row[0] if row else None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; one inside another is part of the outer one.
        SQLite's refusals of the machine's making (a full disk, a lock held
        by another program, a read-only file, damage) are raised as faces'
        own errors, saying what to do, and remembered in ``write_error``
        until a write succeeds again."""
        if self._reads is not None and threading.get_ident() == self._loop_thread:
            raise RuntimeError("a catalogue change on the event loop: run it with "
                               "Catalogue.write")
        if self.db.in_transaction:
            yield
            return
        if time.monotonic() - self._optimized > OPTIMIZE_EVERY:
            self._optimized = time.monotonic()
            optimize(self.db)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:  # (SQLite may have rolled back already)
                    self.db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            mapped = catalogue_error(exc, self.path)
            if mapped is None:
                raise
            self.write_error = str(mapped)
            raise mapped from exc
        self.write_error = ""

    def probe(self) -> str:
        """Try to take the write lock (briefly, on a connection of its own):
        "" when the catalogue can be written, else why not. Clears
        ``write_error`` when it can."""
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=1.0,
                                                    isolation_level=None)) as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            mapped = catalogue_error(exc, self.path)
            return str(mapped or exc)
        self.write_error = ""
        return ""

    def edit(self) -> AbstractContextManager[None]:
        """Several writes as one: all of them, or none (a use case's edit)."""
        return self._transaction()

    def add(self, photo: Photo, recognized: bool = False,
            place: tuple[int, Place] | None = None) -> bool:
        """Insert ``photo`` and its faces (and its ``place`` in a library
        root); False when a photo with that id already exists. ``recognized``:
        it has no face for recognition to describe (it never waits for it)."""
        try:
            with self._transaction():
                seq = self.db.execute(
                    f"INSERT INTO photos ({COLUMNS}, taken_key, recognized) "
                    f"VALUES ({', '.join('?' * 18)})",
                    (photo.id, photo.filename, photo.created, photo.width, photo.height,
                     photo.display, photo.annotated, photo.thumbnail, photo.original,
                     photo.taken, photo.taken_source, photo.make, photo.model,
                     photo.latitude, photo.longitude, photo.orientation, photo.taken_key,
                     int(recognized))).lastrowid
                self.db.executemany(
                    f"INSERT INTO faces ({FACE_COLUMNS}, seq, taken_key, added) "
                    f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(*face_row(photo.id, n, face), seq, photo.taken_key,
                      int(bool(face.get("added")))) for n, face in enumerate(photo.faces)])
                if place is not None:
                    self.put_places(place[0], [place[1]])
        except sqlite3.IntegrityError:
            return False
        return True

    def add_face(self, photo_id: str, face: dict) -> int:
        """A face the user drew on a photo; its id. The photo goes back to
        recognition (its new face gets described)."""
        with self._transaction():
            position = self.db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM faces "
                                       "WHERE photo = ?", (photo_id,)).fetchone()[0]
            seq, key = self.db.execute("SELECT seq, taken_key FROM photos WHERE id = ?",
                                       (photo_id,)).fetchone()
            cursor = self.db.execute(
                f"INSERT INTO faces ({FACE_COLUMNS}, seq, taken_key, added) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (*face_row(photo_id, position, face), seq, key))
            self.db.execute("UPDATE photos SET recognized = 0 WHERE id = ?", (photo_id,))
        return cursor.lastrowid

    def _photos(self, rows: Iterable[tuple]) -> list[Photo]:
        """Photos from rows of COLUMNS, each with its faces (one more query)."""
        rows = list(rows)
        faces: dict[str, list[dict]] = {row[0]: [] for row in rows}
        places: dict[str, list[tuple[str, bool]]] = {}
        ids = list(faces)
        for start in range(0, len(ids), FACES_PER_QUERY):
            batch = ids[start:start + FACES_PER_QUERY]
            for row in self.db.execute(
                    f"SELECT photo, id, x1, y1, x2, y2, score, landmarks, person FROM faces "
                    f"WHERE photo IN ({', '.join('?' * len(batch))}) "
                    f"ORDER BY photo, position", batch):
                faces[row[0]].append(face_json(row[1:]))
            for photo, where, online in self.places_of(batch):
                places.setdefault(photo, []).append((where, online))
        found = []
        for row in rows:
            photo = photo_from_row(row, faces[row[0]])
            here = places.get(photo.id)
            if here:  # (a library photo is there while one of its files is)
                photo = replace(photo, places=tuple(where for where, _ in here),
                                online=photo.original is not None or here[0][1])
            found.append(photo)
        return found

    def delete(self, photo_id: str) -> Photo | None:
        """Remove the catalogue row; returns the photo it described, if any.
        Its faces go with it (ON DELETE CASCADE), and out of their people's
        counts."""
        photo = self.get(photo_id)
        if photo is not None:
            with self._transaction():
                people = {face["person"] for face in photo.faces if face["person"]}
                for face in photo.faces:
                    if face["person"] is not None:
                        self._place(face["id"], None, None)
                self.db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
                self.db.executemany("DELETE FROM people WHERE id = ? AND faces = 0",
                                    [(person,) for person in people])
        return photo

    def named_faces(self, photo_id: str) -> list[tuple[tuple[float, ...], str]]:
        """The photo's faces that are in a named person: box and name."""
        return [((x1, y1, x2, y2), name) for x1, y1, x2, y2, name in self.db.execute(
            "SELECT f.x1, f.y1, f.x2, f.y2, p.name FROM faces AS f JOIN people AS p "
            "ON p.id = f.person WHERE f.photo = ? AND p.name IS NOT NULL ORDER BY f.position",
            (photo_id,))]

    def originals(self) -> Iterator[tuple[str, str, str]]:
        """Every photo's id, display copy's file name and uploaded file name,
        oldest first."""
        yield from self.db.execute("SELECT id, display, filename FROM photos ORDER BY seq")

    def set_taken(self, photo_id: str, taken: str, source: str = "user") -> None:
        """A new date taken: the user's (kept as theirs: no reading of the
        file replaces it), or a sidecar's that came later (``source``)."""
        with self._transaction():
            self.db.execute("UPDATE photos SET taken = ?, taken_source = ?, taken_key = ? "
                            "WHERE id = ?", (taken, source, taken_key(taken), photo_id))
            self.db.execute("UPDATE faces SET taken_key = ? WHERE photo = ?",
                            (taken_key(taken), photo_id))

    def all_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM photos")}

    def get(self, photo_id: str) -> Photo | None:
        rows = self.db.execute(f"SELECT {COLUMNS} FROM photos WHERE id = ?", (photo_id,))
        found = self._photos(rows)
        return found[0] if found else None

    def _seq(self, photo_id: str) -> int | None:
        row = self.db.execute("SELECT seq FROM photos WHERE id = ?", (photo_id,)).fetchone()
        return row[0] if row else None

    def _key(self, photo_id: str, order: str) -> tuple | None:
        """Where a photo stands in ``order``: (taken_key, seq) or (seq,)."""
        row = self.db.execute("SELECT taken_key, seq FROM photos WHERE id = ?",
                              (photo_id,)).fetchone()
        if row is None:
            return None
        return tuple(row) if order == "taken" else (row[1],)

    def newest(self, limit: int, before: str | None = None, order: str = "added",
               since: str | None = None, until: str | None = None) -> list[Photo]:
        """Up to ``limit`` photos, newest first (by date taken, or as they
        came in), after the photo ``before`` if given; by date taken, only
        those taken from ``since`` up to ``until`` (taken keys: any prefix of
        "YYYY-MM-DDTHH:MM:SS"). A page is a walk of an index from a key,
        whatever the gallery's size. An unknown ``before`` raises KeyError."""
        where, values = [], []
        if before is not None:
            key = self._key(before, order)
            if key is None:
                raise KeyError(before)
            where.append("(taken_key, seq) < (?, ?)" if order == "taken" else "seq < ?")
            values += key
        if order == "taken":
            if until:
                where.append("taken_key < ?")
                values.append(until + "\uffff")  # (every time within that prefix)
            if since:
                where.append("taken_key >= ?")
                values.append(since)
            ordering = "taken_key DESC, seq DESC"
        else:
            ordering = "seq DESC"
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM photos" + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {ordering} LIMIT ?", (*values, limit))
        return self._photos(rows)

    def months(self, year: str) -> list[tuple[str, int]]:
        """The months of ``year`` photos were taken in, newest first, with
        how many (twelve counts of an index range)."""
        found = []
        for month in range(12, 0, -1):
            key = f"{year}-{month:02d}"
            count = self.db.execute("SELECT COUNT(*) FROM photos WHERE taken_key >= ? AND "
                                    "taken_key < ?", (key, key + "\uffff")).fetchone()[0]
            if count:
                found.append((key, count))
        return found

    def years(self) -> list[tuple[str, int]]:
        """Each year photos were taken in, newest first, with how many: an
        index walk that jumps from year to year (one look-up per year)."""
        found, bound = [], "\uffff"
        while True:
            row = self.db.execute("SELECT substr(taken_key, 1, 4) FROM photos "
                                  "WHERE taken_key < ? ORDER BY taken_key DESC LIMIT 1",
                                  (bound,)).fetchone()
            if row is None or not row[0]:
                return found
            year = row[0]
            count = self.db.execute("SELECT COUNT(*) FROM photos WHERE taken_key >= ? AND "
                                    "taken_key < ?", (year, year + "\uffff")).fetchone()[0]
            found.append((year, count))
            bound = year

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

    def _seqs_of_all(self, people: list[str], limit: int, below: tuple,
                     order: str = "added") -> list[int]:
        """The photos (by seq, newest first in ``order``, under the key
        ``below``: (seq,), or (taken_key, seq)) that show every one of
        ``people``: walked along the first one's faces by the (person, seq)
        or (person, taken_key, seq) index, each checked for the others."""
        first, others = people[0], people[1:]
        key = "f.taken_key, f.seq" if order == "taken" else "f.seq"
        checks = "".join(" AND EXISTS (SELECT 1 FROM faces AS o WHERE o.person = ? AND "
                         "o.seq = f.seq)" for _ in others)
        return [row[0] for row in self.db.execute(
            f"SELECT DISTINCT f.seq{', f.taken_key' if order == 'taken' else ''} FROM faces "
            f"AS f WHERE f.person = ? AND "
            f"({key}) < ({', '.join('?' * len(below))}){checks} "
            f"ORDER BY {key.replace(',', ' DESC,')} DESC LIMIT ?",
            (first, *below, *others, limit))]

    def count(self, people: list[str] | None = None) -> int:
        """Photos in the gallery, or those showing every one of ``people``."""
        if not people:
            return self.db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
        if len(people) == 1:
            found = self.db.execute("SELECT photos FROM people WHERE id = ?",
                                    people).fetchone()
            return found[0] if found else 0
        return len(self._seqs_of_all(people, -1, (1 << 62,)))

    def newest_of(self, people: list[str], limit: int, before: str | None = None,
                  order: str = "added") -> list[Photo]:
        """Like :meth:`newest`, only photos that show every one of ``people``:
        a walk of the faces' (person, seq) or (person, taken_key, seq) index."""
        if before is None:
            bound = ("\uffff", 1 << 62) if order == "taken" else (1 << 62,)
        elif (bound := self._key(before, order)) is None:
            raise KeyError(before)
        seqs = self._seqs_of_all(people, limit, bound, order)
        if not seqs:
            return []
        ordering = "taken_key DESC, seq DESC" if order == "taken" else "seq DESC"
        rows = self.db.execute(
            f"SELECT {COLUMNS} FROM photos WHERE seq IN ({', '.join('?' * len(seqs))}) "
            f"ORDER BY {ordering}", seqs)
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

    def is_recognized(self, photo_id: str) -> bool:
        """Whether a photo has been through recognition (or had nothing for it)."""
        row = self.db.execute("SELECT recognized FROM photos WHERE id = ?",
                              (photo_id,)).fetchone()
        return bool(row and row[0])

    def recognized(self, photo_id: str, described: dict[int, Described]) -> None:
        """Keep each face's descriptor, quality, recognizer and crop file name,
        and mark the photo done."""
        with self._transaction():
            self.db.executemany(
                "UPDATE faces SET descriptor = ?, quality = ?, recognizer = ?, crop = ? "
                "WHERE id = ?", [(d.vector, d.quality, d.recognizer, d.crop, face_id)
                                 for face_id, d in described.items()])
            self.db.execute("UPDATE photos SET recognized = 1 WHERE id = ?", (photo_id,))
            here = self.db.execute("SELECT id, person FROM faces WHERE photo = ? AND "
                                   "person IS NOT NULL", (photo_id,)).fetchall()
            for face_id, person in here:
                self.db.execute(f"UPDATE people SET cover = ({COVER}) WHERE id = ? AND "
                                f"cover = ?", (person, face_id))  # (described again)
                self._better_cover(person, face_id)  # (a crop of theirs, or a better one)

    def descriptors(self, family: str) -> Iterator[tuple]:
        """Every face described by the recognizer ``family``: id, photo,
        descriptor, person, pinned, quality."""
        yield from self.db.execute(
            "SELECT id, photo, descriptor, person, pinned, COALESCE(quality, 1) FROM faces "
            "WHERE descriptor IS NOT NULL AND recognizer = ? ORDER BY seq, id", (family,))

    def faces_stored(self) -> int:
        """Faces in the catalogue (an index count)."""
        return self.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

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

    def face_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]

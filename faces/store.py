"""The photo store: files under ``<data_dir>/photos`` written atomically, and
a SQLite catalogue ``<data_dir>/catalogue.sqlite3`` of what they are.

File writes are safe from any thread. Catalogue calls are meant for one
thread (the IOLoop's): each is one short statement or transaction. The
schema is kept by :mod:`faces.migrations`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import migrations
from .options import ID_LENGTH

URL_PREFIX = "/uploads/"
CROP_PREFIX = "/crops/"
ORIGINAL_FILE = re.compile(rf"^([0-9a-f]{{{ID_LENGTH}}})\.(jpg|png)$")
CATALOGUE = "catalogue.sqlite3"
COLUMNS = "id, filename, created, width, height, original, annotated, thumbnail"
FACE_COLUMNS = "photo, position, x1, y1, x2, y2, score, landmarks"
FACES_PER_QUERY = 500  # photos whose faces one query reads (SQLite caps bound values)


def content_id(data: bytes, variant: str = "") -> str:
    """The photo id: a hash of the uploaded bytes (and of non-default
    processing options, so a blurred copy is a different photo)."""
    digest = hashlib.sha256(data)
    if variant:
        digest.update(b"\0" + variant.encode())
    return digest.hexdigest()[:ID_LENGTH]


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Photo:
    id: str
    filename: str
    created: str
    width: int
    height: int
    faces: list[dict]
    original: str
    annotated: str
    thumbnail: str

    def record(self) -> dict:
        """Every field, as stored in the catalogue and the metadata sidecar."""
        return dataclasses.asdict(self)

    def files(self) -> list[str]:
        return [self.original, self.annotated, self.thumbnail]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "filename": self.filename,
            "created": self.created,
            "width": self.width,
            "height": self.height,
            "faces": self.faces,
            "urls": {
                "annotated": URL_PREFIX + self.annotated,
                "original": URL_PREFIX + self.original,
                "thumbnail": URL_PREFIX + self.thumbnail,
            },
        }

    @classmethod
    def from_row(cls, row: tuple, faces: list[dict]) -> Photo:
        photo_id, filename, created, width, height, original, annotated, thumbnail = row
        return cls(photo_id, filename, created, width, height, faces, original, annotated,
                   thumbnail)


def crop_name(photo_id: str, face_id: int) -> str:
    """A face's crop file: named by its photo too, as face ids may be reused."""
    return f"{photo_id}.{face_id}.jpg"


def face_row(photo_id: str, position: int, face: dict) -> tuple:
    landmarks = face.get("landmarks")
    return (photo_id, position, *face["box"], face["score"],
            None if landmarks is None else json.dumps(landmarks, separators=(",", ":")))


def face_json(row: tuple) -> dict:
    face_id, x1, y1, x2, y2, score, landmarks, person = row
    return {"id": face_id, "box": [x1, y1, x2, y2], "score": score,
            "landmarks": None if landmarks is None else json.loads(landmarks),
            "person": person}


@dataclass(frozen=True)
class Person:
    id: str
    name: str | None
    hidden: bool
    created: str
    faces: int
    photos: int
    cover: str | None  # the crop file of the person's largest face

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, "hidden": self.hidden,
                "faces": self.faces, "photos": self.photos,
                "urls": {"cover": CROP_PREFIX + self.cover if self.cover else None,
                         "photos": f"/api/photos?person={self.id}",
                         "page": f"/?person={self.id}"}}


PERSON_QUERY = """
    SELECT p.id, p.name, p.hidden, p.created, COUNT(f.id), COUNT(DISTINCT f.photo),
           (SELECT c.crop FROM faces AS c WHERE c.person = p.id AND c.crop IS NOT NULL
            ORDER BY (c.x2 - c.x1) * (c.y2 - c.y1) DESC LIMIT 1)
    FROM people AS p LEFT JOIN faces AS f ON f.person = p.id
"""


class DataDirError(Exception):
    """The data directory cannot be used; the message says what to do."""


def _owner(path: Path) -> tuple[int, int]:
    """The uid and gid owning ``path``, or its nearest existing parent."""
    while not path.exists() and path != path.parent:
        path = path.parent
    info = path.stat()
    return info.st_uid, info.st_gid


def unwritable(folder: Path, why: str) -> DataDirError:
    uid, gid = os.geteuid(), os.getegid()
    owner, group = _owner(folder)
    other = "" if owner == 0 else \
        f", or run faces as its owner (`docker run --user {owner}:{group} ...`)"
    return DataDirError(
        f"cannot write to the data directory {folder} ({why}): it belongs to uid {owner}, "
        f"and faces runs as uid {uid}. Give it to this user (for a host folder mounted "
        f"into the container: `sudo chown -R {uid}:{gid} <the host folder>`){other}.")


class Store:
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.data_dir = Path(data_dir)
        self.photos_dir = self.data_dir / "photos"
        self.meta_dir = self.data_dir / "meta"  # one JSON per photo, for `faces reindex`
        self.crops_dir = self.data_dir / "crops"  # a small image of each recognised face
        self.tmp_dir = self.data_dir / "tmp"
        for folder in (self.data_dir, self.photos_dir, self.meta_dir, self.crops_dir,
                       self.tmp_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except PermissionError as exc:
                raise unwritable(self.data_dir, exc.strerror) from None
            if not os.access(folder, os.W_OK | os.X_OK):
                raise unwritable(self.data_dir, f"{folder.name}/ is not writable")
        for leftover in self.tmp_dir.glob("*.part"):  # from a crash mid-write
            leftover.unlink(missing_ok=True)
        path = self.data_dir / CATALOGUE
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrations.migrate(self.db, path)

    def close(self) -> None:
        self.db.close()

    # -- files ---------------------------------------------------------------

    def file_names(self, photo_id: str, extension: str) -> dict[str, str]:
        return {
            "original": f"{photo_id}{extension}",
            "annotated": f"{photo_id}.annotated{extension}",
            "thumbnail": f"{photo_id}.thumb{extension}",
        }

    def write_file(self, name: str, data: bytes, folder: Path | None = None) -> Path | None:
        """Write ``photos/<name>`` atomically (temp file, fsync, rename).

        An existing file is never replaced: names derive from content.
        Returns the path written, or None when the file was already there.
        """
        final = (folder or self.photos_dir) / name
        if final.exists():
            return None
        fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix=name + ".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    def write_files(self, files: dict[str, bytes], photo: Photo | None = None) -> None:
        """Write the image files, then the photo's metadata sidecar: all or
        nothing. On a failure the files this call created are removed again;
        files that were already there (the same photo stored before) stay.
        """
        written: list[Path] = []
        try:
            for name, data in files.items():
                written.append(self.write_file(name, data))
            if photo is not None:
                written.append(self.write_file(f"{photo.id}.json",
                                               json.dumps(photo.record()).encode(),
                                               self.meta_dir))
        except BaseException:
            for path in written:
                if path is not None:
                    path.unlink(missing_ok=True)
            raise

    def remove_files(self, photo: Photo) -> None:
        for name in photo.files():
            (self.photos_dir / name).unlink(missing_ok=True)
        for face in photo.faces:
            if face.get("id") is not None:
                (self.crops_dir / crop_name(photo.id, face["id"])).unlink(missing_ok=True)
        (self.meta_dir / f"{photo.id}.json").unlink(missing_ok=True)

    def read_sidecar(self, photo_id: str) -> Photo | None:
        try:
            return Photo(**json.loads((self.meta_dir / f"{photo_id}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    # -- catalogue -----------------------------------------------------------

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
        return [Photo.from_row(row, faces[row[0]]) for row in rows]

    def delete(self, photo_id: str) -> Photo | None:
        """Remove the catalogue row; returns the photo it described, if any."""
        photo = self.get(photo_id)
        if photo is not None:  # its faces go with it (ON DELETE CASCADE)
            self.db.execute("DELETE FROM photos WHERE id = ?", (photo_id,))
        return photo

    def all_ids(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT id FROM photos")}

    def drop_missing(self) -> list[str]:
        """Remove rows whose original file is gone (after a crash or by hand)."""
        dropped = []
        for photo in self.since(None):
            if not (self.photos_dir / photo.original).is_file():
                self.delete(photo.id)
                self.remove_files(photo)
                dropped.append(photo.id)
        return dropped

    def orphans(self) -> list[Path]:
        """Stored originals that have no catalogue row."""
        known = self.all_ids()
        return sorted(p for p in self.photos_dir.iterdir()
                      if (m := ORIGINAL_FILE.match(p.name)) and m.group(1) not in known)

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

    def recognised(self, photo_id: str, described: dict[int, tuple[bytes, str]]) -> None:
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

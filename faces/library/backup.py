"""A data directory copied whole, while the server runs (`faces backup`),
copied back (`faces restore`), and checked (`faces check`).

A copy is consistent because of how the library is kept: the catalogue is
read through SQLite's online backup API (a snapshot of every committed
row, the ``-wal`` file included: copying the file alone misses rows), and
the files are named by their content and never replaced, so the files the
snapshot names can be copied afterwards and are the ones it means. Only
what the snapshot names is copied (no orphan, no half-written temporary
file); a photo deleted while the copy ran is left out of it too. The copy
is itself a data directory: ``faces serve --data-dir COPY`` serves it.
Copying into an earlier copy only copies what is new (a file of the same
name and size is the same file), and removes what is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataDirError
from . import migrations
from .catalogue import CATALOGUE, Catalogue
from .datadir import MARKER, SQLITE_HEADER
from .files import ORIGINAL_FILE, SECRET_FILE  # (copied: a restored gallery keeps its logins)

FOLDERS = ("photos", "meta", "crops")


@dataclass
class Copied:
    """What a copy did."""

    photos: int = 0
    files: int = 0  # files the copy holds
    copied: int = 0  # of them, copied this time (the rest were there already)
    bytes: int = 0  # copied this time
    removed: int = 0  # files of an earlier copy no longer in the gallery
    left_out: list[str] = field(default_factory=list)  # photos deleted while copying
    missing: list[str] = field(default_factory=list)  # files the catalogue names, not found
    seconds: float = 0.0

    def summary(self) -> str:
        text = (f"{self.photos} photos, {self.files} files ({self.copied} copied, "
                f"{self.bytes / 2**20:.1f} MB; {self.files - self.copied} already there)")
        if self.removed:
            text += f", {self.removed} files of the earlier copy removed"
        if self.left_out:
            text += f", {len(self.left_out)} photos deleted meanwhile left out"
        return text + f" in {self.seconds:.1f} s"


def _is_catalogue(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _named(catalogue: Path) -> Iterator[tuple[str, str, str]]:
    """Each file the catalogue names: (photo id, folder, name)."""
    with contextlib.closing(_ro(catalogue)) as db:
        columns = "display, annotated, thumbnail, original" \
            if migrations.display_column(db) == "display" else \
            "original, annotated, thumbnail, NULL"  # (a catalogue from before originals)
        for photo_id, *names in db.execute(f"SELECT id, {columns} FROM photos ORDER BY seq"):
            for name in dict.fromkeys(names):
                if name:
                    yield photo_id, "photos", name
            yield photo_id, "meta", f"{photo_id}.json"
        for photo_id, crop in db.execute("SELECT photo, crop FROM faces WHERE crop IS NOT NULL"):
            yield photo_id, "crops", crop


def copy(source: Path, dest: Path, progress: Callable[[int, int], None] | None = None
         ) -> Copied:
    """Copy the data directory ``source`` (a running server's, or a backup)
    to ``dest`` (new, empty, or an earlier copy). Raises DataDirError."""
    started = time.monotonic()
    catalogue = source / CATALOGUE
    if not _is_catalogue(catalogue):
        raise DataDirError(f"{source} holds no faces catalogue ({CATALOGUE}): nothing to copy")
    if dest.resolve() == source.resolve():
        raise DataDirError("the copy must go somewhere else than the data directory itself")
    if dest.exists() and any(dest.iterdir()) and not (dest / CATALOGUE).exists():
        raise DataDirError(f"{dest} is not empty and holds no faces catalogue: give a new "
                           f"folder, or an earlier copy to bring up to date")
    for folder in ("", *FOLDERS, "tmp"):
        (dest / folder).mkdir(parents=True, exist_ok=True)
    # 1. The catalogue: a snapshot of every committed row, written beside, then in place.
    snapshot = dest / "tmp" / f"{CATALOGUE}.part"
    snapshot.unlink(missing_ok=True)
    with contextlib.closing(_ro(catalogue)) as db, \
            contextlib.closing(sqlite3.connect(snapshot)) as copied:
        db.backup(copied)
    for extra in ("-wal", "-shm"):
        Path(f"{dest / CATALOGUE}{extra}").unlink(missing_ok=True)
    os.replace(snapshot, dest / CATALOGUE)
    # 2. The files it names.
    found = Copied()
    named = list(_named(dest / CATALOGUE))
    found.photos = len({photo_id for photo_id, folder, _ in named if folder == "meta"})
    wanted: dict[str, set[str]] = {folder: set() for folder in FOLDERS}
    gone: set[str] = set()
    for done, (photo_id, folder, name) in enumerate(named, 1):
        wanted[folder].add(name)
        here, there = source / folder / name, dest / folder / name
        try:
            size = here.stat().st_size
        except FileNotFoundError:
            gone.add(photo_id)
            continue
        if not (there.is_file() and there.stat().st_size == size):
            part = dest / "tmp" / f"{name}.part"
            shutil.copyfile(here, part)
            os.replace(part, there)
            found.copied += 1
            found.bytes += size
        found.files += 1
        if progress:
            progress(done, len(named))
    # 3. Photos whose files went while copying: deleted meanwhile (left out of
    # the copy), or missing in the gallery itself (kept, and reported).
    if gone:
        with contextlib.closing(_ro(catalogue)) as db:
            still = {row[0] for row in db.execute(
                f"SELECT id FROM photos WHERE id IN ({','.join('?' * len(gone))})",
                sorted(gone))}
        found.left_out = sorted(gone - still)
        found.missing = sorted(still)
        if found.left_out:  # (as the gallery deletes them: their people's counts follow)
            copied = Catalogue(dest)
            try:
                for photo_id in found.left_out:
                    copied.delete(photo_id)
            finally:
                copied.close()
            found.photos -= len(found.left_out)
    # 4. What an earlier copy held that the gallery no longer does; the rest.
    for folder in FOLDERS:
        for path in (dest / folder).iterdir():
            if path.is_file() and path.name != MARKER and path.name not in wanted[folder]:
                path.unlink()
                found.removed += 1
    (dest / "photos" / MARKER).write_text((source / "photos" / MARKER).read_text()
                                          if (source / "photos" / MARKER).is_file() else "")
    if (source / SECRET_FILE).is_file():
        shutil.copyfile(source / SECRET_FILE, dest / SECRET_FILE)
        os.chmod(dest / SECRET_FILE, 0o600)
    found.seconds = time.monotonic() - started
    return found


@dataclass
class Checked:
    """What :func:`check` found (nothing is changed)."""

    integrity: list[str] = field(default_factory=list)  # SQLite's findings ("ok": none)
    photos: int = 0
    faces: int = 0
    people: int = 0
    missing: dict[str, list[str]] = field(default_factory=dict)  # folder -> names not there
    orphans: list[str] = field(default_factory=list)  # stored originals without a row
    marker: bool = True

    @property
    def whole(self) -> bool:
        return self.integrity == ["ok"] and not any(self.missing.values()) and \
            not self.orphans and self.marker

    def lines(self) -> list[str]:
        found = [f"catalogue: {'ok' if self.integrity == ['ok'] else 'DAMAGED'}; "
                 f"{self.photos} photos, {self.faces} faces, {self.people} people"]
        if self.integrity != ["ok"]:
            found += [f"  {line}" for line in self.integrity[:10]]
        for folder, names in self.missing.items():
            if names:
                found.append(f"{len(names)} files named by the catalogue are missing from "
                             f"{folder}/ (first: {', '.join(names[:3])})")
        if self.orphans:
            found.append(f"{len(self.orphans)} stored photos have no catalogue row (the "
                         f"server adds them back at its next start)")
        if not self.marker:
            found.append(f"photos/{MARKER} is missing (the server writes it once it finds "
                         f"the catalogue's newest photos there)")
        return found


def check(data_dir: Path) -> Checked:
    """The catalogue's integrity (SQLite's own check) and its rows against
    the files, reading only. Raises DataDirError without a catalogue."""
    catalogue = data_dir / CATALOGUE
    if not _is_catalogue(catalogue):
        raise DataDirError(f"{data_dir} holds no faces catalogue ({CATALOGUE}), or it is not "
                           f"a SQLite file")
    found = Checked()
    with contextlib.closing(_ro(catalogue)) as db:
        try:
            found.integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
            found.photos, found.faces, found.people = (
                db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("photos", "faces", "people"))
            ids = {row[0] for row in db.execute("SELECT id FROM photos")}
        except sqlite3.DatabaseError as exc:
            found.integrity = [str(exc)]
            return found
    found.missing = {folder: [] for folder in FOLDERS}
    for _, folder, name in _named(catalogue):
        if not (data_dir / folder / name).is_file():
            found.missing[folder].append(name)
    with contextlib.suppress(OSError):
        found.orphans = sorted(path.name for path in (data_dir / "photos").iterdir()
                               if (match := ORIGINAL_FILE.match(path.name))
                               and match.group(1) not in ids)
    found.marker = (data_dir / "photos" / MARKER).is_file()
    return found

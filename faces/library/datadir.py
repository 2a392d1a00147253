"""The data directory, looked at before anything in it is created or
written, so that what is missing or damaged is said in one line (what,
and the way out) instead of being taken for an empty gallery:

- ``photos/.faces-gallery``, a marker written when the gallery is made. A
  catalogue that lists photos beside a photos folder without the marker
  (or without the folder) is a volume or a network share that is not
  mounted yet, not a gallery whose photos are gone: nothing is served and
  nothing is removed (Immich guards its folders with such markers too). A
  gallery made before markers gets one once its newest photos are found.
- The catalogue: missing or empty beside stored photos, not a SQLite file,
  damaged, locked by another program, or read-only (the last three are
  found as it is opened: :class:`faces.library.catalogue.Catalogue`).
- A read-only filesystem, or a full disk where something must be created.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

from ..errors import DataDirError
from . import migrations
from .catalogue import CATALOGUE
from .files import ORIGINAL_FILE

log = logging.getLogger(__name__)

MARKER = ".faces-gallery"
SQLITE_HEADER = b"SQLite format 3\x00"
SAMPLE = 5  # newest photos looked for, where a marker is missing


def check(data_dir: Path, rebuilding: bool = False) -> None:
    """Raise DataDirError when ``data_dir`` must not be used as it is.
    ``rebuilding``: for `faces reindex`, which makes a catalogue from the
    photos (a missing or empty one is what it is for)."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"the data directory {data_dir} is not a directory")
    catalogue, photos = data_dir / CATALOGUE, data_dir / "photos"
    way_out = (f"restore a backup (`faces restore BACKUP --data-dir {data_dir}`), or rebuild "
               f"the catalogue from the photos (`faces reindex --data-dir {data_dir}`)")
    if not catalogue.exists() or catalogue.stat().st_size == 0:
        if not rebuilding and _holds_photos(photos):
            what = "is missing" if not catalogue.exists() else "is empty (0 bytes)"
            raise DataDirError(f"the catalogue {catalogue} {what}, but {photos} holds photos: "
                               f"{way_out}")
        return
    try:
        with catalogue.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DataDirError(f"cannot read the catalogue {catalogue}: {exc.strerror}") from None
    if head != SQLITE_HEADER:
        aside = way_out.replace("rebuild", "move it aside and rebuild")
        raise DataDirError(f"the catalogue {catalogue} is not a SQLite database (damaged or "
                           f"overwritten): {aside}")
    if rebuilding or (photos / MARKER).is_file():
        return
    count, newest = _listed(catalogue)
    if not count:
        return
    if not photos.is_dir():
        raise DataDirError(
            f"{photos} is missing, but the catalogue lists {count} photos: if the photos are on "
            f"a volume or network share that is not mounted yet, mount it and start again "
            f"(nothing was changed); if they are gone for good, `faces reindex --drop-missing` "
            f"removes their rows")
    if not all((photos / name).is_file() for name in newest):
        raise DataDirError(
            f"{photos} has neither the gallery's marker ({MARKER}) nor the newest of the "
            f"{count} photos the catalogue lists: if the photos are on a volume or network "
            f"share that is not mounted yet, mount it and start again (nothing was changed); "
            f"if they are gone for good, `faces reindex --drop-missing` removes their rows")
    log.info("%s holds the catalogue's newest photos: marked as this gallery's", photos)


def mark(photos: Path) -> None:
    """Write the gallery's marker into its photos folder (once it is known
    to be this gallery's)."""
    marker = photos / MARKER
    if not marker.is_file():
        marker.write_text("This folder holds a faces gallery's photos. faces checks for this "
                          "file at start: keep it.\n")


def _holds_photos(photos: Path) -> bool:
    """Whether ``photos`` holds at least one stored original (stops at the first)."""
    with contextlib.suppress(OSError), os.scandir(photos) as entries:
        return any(ORIGINAL_FILE.match(entry.name) for entry in entries)
    return False


def _listed(catalogue: Path) -> tuple[int, list[str]]:
    """The photos the catalogue lists, and the newest ones' original files
    (read only; a catalogue that cannot be read says so when it is opened)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True)) as db:
            count = db.execute("SELECT COUNT(*) FROM photos").fetchone()[0]
            newest = [row[0] for row in db.execute(
                f"SELECT {migrations.display_column(db)} FROM photos ORDER BY seq DESC "
                f"LIMIT ?", (SAMPLE,))]
    except sqlite3.Error:
        return 0, []
    return count, newest

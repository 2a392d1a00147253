"""`faces export`: the gallery's photos as plain files with the People
work beside them, readable by other tools as it is and by `faces import`.

Each stored original is copied under its own file name (its upload's name,
with the stored original's extension; a clash gets " (2)", " (3)"...), and
beside it an XMP sidecar ``<name>.xmp`` (``IMG_1234.jpg.xmp``, as digiKam
and darktable name theirs) with a MWG and a Microsoft region and
``PersonInImage`` for every face in a named person. The originals are
stored upright (the EXIF orientation applied), so the sidecar's areas need
no turning. Nothing is written into the photos themselves.

What travels: the photos, and which face is which named person. What does
not: people without a name (recognition groups them again), hidden
people's hiding, the "not this person" and "not the same person" answers,
albums of one upload's options. Read only: safe while the server runs (one
read transaction, so the export is one moment of the catalogue; a photo
deleted meanwhile is left out).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath

from ..errors import DataDirError, NotFound
from ..vision import xmp
from ..vision.probe import stored_orientation
from . import migrations
from .backup import _is_catalogue, _ro
from .catalogue import CATALOGUE
from .records import Photo


@dataclass
class Exported:
    """What an export did."""

    photos: int = 0
    named_faces: int = 0
    people: set[str] = field(default_factory=set)  # names
    bytes: int = 0
    left_out: list[str] = field(default_factory=list)  # photos deleted while exporting
    seconds: float = 0.0

    def summary(self) -> str:
        one, people = self.photos == 1, len(self.people)
        text = (f"{self.photos} photo{'' if one else 's'} ({self.bytes / 2**20:.1f} MB) with "
                f"{'its sidecar' if one else 'their sidecars'}, {self.named_faces} "
                f"face{'' if self.named_faces == 1 else 's'} of {people} named "
                f"{'person' if people == 1 else 'people'}")
        if self.left_out:
            text += f", {len(self.left_out)} photos deleted meanwhile left out"
        return text + f" in {self.seconds:.1f} s"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or "stem (2).ext", "stem (3).ext"... if a file of that
    name (case aside, for case-blind file systems) is taken; the result is
    taken too. (Its sidecar, ``name.xmp``, is then free as well: no photo's
    name ends in .xmp.)"""
    path = PurePath(name)
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{path.stem} ({n}){path.suffix}"
    taken.add(candidate.lower())
    return candidate


def _safe(name: str) -> str:
    """A stored file name as one plain file name here (the gallery keeps
    names as uploaded, within its own rules: no folder, no control
    character; this is the belt to those braces)."""
    name = name.replace("/", "_").replace("\\", "_").strip()
    return name if name not in ("", ".", "..") else "photo"


def _find_person(db: sqlite3.Connection, person: str) -> tuple[str, str | None]:
    """A person by id, else by name (case aside): id and name."""
    row = db.execute("SELECT id, name FROM people WHERE id = ?", (person,)).fetchone() or \
        db.execute("SELECT id, name FROM people WHERE name = ? COLLATE NOCASE "
                   "ORDER BY photos DESC, id LIMIT 1", (person,)).fetchone()
    if row is None:
        raise NotFound("not_found", f"no person {person!r} in this gallery (give an id from "
                       f"the People page's address, or a name)")
    return row[0], row[1]


def export(data_dir: Path, dest: Path, person: str | None = None,
           progress: Callable[[int, int], None] | None = None) -> Exported:
    """Export the gallery in ``data_dir`` (all of it, or the photos of
    ``person``, an id or a name) into ``dest``, a new or empty folder.
    Raises DataDirError, NotFound."""
    started = time.monotonic()
    catalogue = data_dir / CATALOGUE
    if not _is_catalogue(catalogue):
        raise DataDirError(f"{data_dir} holds no faces catalogue ({CATALOGUE}): nothing to "
                           f"export")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise DataDirError(f"{dest} is not an empty folder: give a new one (an export never "
                           f"overwrites files)")
    with contextlib.closing(_ro(catalogue)) as db:
        db.execute("BEGIN")  # one moment of the catalogue for all that is read
        chosen = _find_person(db, person)[0] if person else None
        where = "" if chosen is None else \
            " WHERE id IN (SELECT photo FROM faces WHERE person = ?)"
        display = migrations.display_column(db)
        kept = "original, taken, orientation" if display == "display" else "NULL, NULL, 1"
        photos = db.execute(f"SELECT id, filename, created, width, height, {display}, {kept} "
                            f"FROM photos" + where + " ORDER BY seq",
                            (() if chosen is None else (chosen,))).fetchall()
        # a library photo's original is its file, where it is (the first place there)
        places: dict[str, Path] = {}
        if migrations.version(db) >= 7:
            for photo_id, root, path in db.execute(
                    "SELECT l.photo, r.path, l.path FROM places AS l JOIN roots AS r ON "
                    "r.id = l.root WHERE l.photo IS NOT NULL AND l.online = 1 "
                    "ORDER BY r.path, l.path"):
                places.setdefault(photo_id, Path(root) / path)
        named: dict[str, list[tuple[tuple[float, ...], str]]] = defaultdict(list)
        for photo_id, x1, y1, x2, y2, name in db.execute(
                "SELECT f.photo, f.x1, f.y1, f.x2, f.y2, p.name FROM faces AS f "
                "JOIN people AS p ON p.id = f.person WHERE p.name IS NOT NULL "
                "ORDER BY f.photo, f.position"):
            named[photo_id].append(((x1, y1, x2, y2), name))
        db.rollback()
    dest.mkdir(parents=True, exist_ok=True)
    found = Exported()
    taken: set[str] = set()
    for done, (photo_id, filename, created, width, height, display, original, when_taken,
               orientation) in enumerate(photos, 1):
        # the uploaded file itself, byte for byte (or the library file); a photo
        # that kept none, its copy
        here = places.get(photo_id) if not original else None
        source = here or data_dir / "photos" / (original or display)
        record = Photo(photo_id, filename, created, width, height, [], display, "", "",
                       original, places=(str(here),) if here else ())
        name = unique(_safe(record.export_name()), taken)
        part = dest / f".{name}.part"
        try:
            shutil.copyfile(source, part)
        except OSError:  # (gone, or its folder not mounted)
            part.unlink(missing_ok=True)
            found.left_out.append(photo_id)
            continue
        faces = named.get(photo_id, [])
        # the areas as the exported file stores its pixels (an original may be
        # turned upright by its EXIF orientation; the copy is upright already)
        # (a library file may be turned by its sidecar: the catalogue knows by what)
        turn = (orientation if here and orientation != 1 else
                stored_orientation(part.read_bytes())) if original or here else 1
        across, down = (height, width) if turn >= 5 else (width, height)
        (dest / f"{name}.xmp").write_bytes(xmp.sidecar(
            across, down, [(xmp.stored(box, turn, width, height), who) for box, who in faces],
            taken=when_taken))
        os.replace(part, dest / name)
        when = _timestamp(created)
        if when is not None:
            os.utime(dest / name, (when, when))
        found.photos += 1
        found.bytes += (dest / name).stat().st_size
        found.named_faces += len(faces)
        found.people.update(face_name for _, face_name in faces)
        if progress:
            progress(done, len(photos))
    found.seconds = time.monotonic() - started
    return found


def _timestamp(created: str) -> float | None:
    try:
        return datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None

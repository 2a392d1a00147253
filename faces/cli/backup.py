"""`faces backup` (a consistent copy of the data directory, while the
server runs), `faces restore` (a copy put back into a new data directory),
`faces check` (the catalogue's integrity and its rows against the files,
reading only) and `faces export` (the photos and their face names as plain
files with XMP sidecars). The work is :mod:`faces.library.backup`'s and
:mod:`faces.library.export`'s."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DataDirError, NotFound, permission_denied
from ..library import backup, export
from ..library.catalogue import CATALOGUE
from .common import CommandError, Progress, command, config


def _copy(source: Path, dest: Path, what: str) -> int:
    try:
        found = backup.copy(source, dest, Progress(0))
    except PermissionError as exc:
        where = exc.filename or dest
        doing = "read the gallery" if str(where).startswith(str(source)) else "write the copy"
        raise CommandError(permission_denied(where, doing)) from None
    except (DataDirError, OSError) as exc:
        raise CommandError(str(exc)) from None
    print(f"{what} {source} to {dest}: {found.summary()}")
    if found.missing:
        print(f"faces: {len(found.missing)} photos have files missing in {source} itself "
              f"(copied without them): `faces check --data-dir {source}` lists them")
        return 1
    return 0


def backup_command(args: argparse.Namespace) -> int:
    found = config(args)
    return _copy(found.data_dir, Path(args.dest), "backed up")


def restore(args: argparse.Namespace) -> int:
    found = config(args)
    target = found.data_dir
    if (target / CATALOGUE).is_file() and (target / CATALOGUE).stat().st_size:
        raise CommandError(f"{target} holds a gallery already: stop its server and move it "
                           f"aside first (restore never overwrites a gallery)")
    status = _copy(Path(args.backup), target, "restored")
    print(f"serve it with: faces serve --data-dir {target}")
    return status


def check(args: argparse.Namespace) -> int:
    found = config(args)
    try:
        checked = backup.check(found.data_dir)
    except DataDirError as exc:
        raise CommandError(str(exc)) from None
    for line in checked.lines():
        print(line)
    print(f"{found.data_dir}: " + ("whole" if checked.whole else "problems found"))
    return 0 if checked.whole else 1


def export_command(args: argparse.Namespace) -> int:
    found = config(args)
    try:
        done = export.export(found.data_dir, Path(args.dest), args.person,
                             Progress(0, "photos"))
    except (DataDirError, NotFound, OSError) as exc:
        raise CommandError(str(exc)) from None
    print(f"exported {done.summary()} to {args.dest}")
    print(f"into a gallery: faces import {args.dest}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    save = command(
        commands, "backup", backup_command,
        help="copy the gallery, consistently, while the server runs",
        description="Copy the data directory to DEST: the catalogue through SQLite's online "
        "backup (every committed row), then the photos, sidecars and crops it names. The copy "
        "is a data directory (`faces serve --data-dir DEST` serves it). Into an earlier copy, "
        "only what is new is copied. Exit status 1 if files the catalogue names are missing.")
    save.add_argument("dest", help="a new or empty folder, or an earlier backup")

    back = command(
        commands, "restore", restore,
        help="put a backup back into a new data directory",
        description="Copy BACKUP (made by `faces backup`) into the data directory, which "
        "must not hold a gallery yet. Then start the server on it.")
    back.add_argument("backup", help="a folder made by `faces backup`")

    command(
        commands, "check", check,
        help="check the catalogue and the files, changing nothing",
        description="SQLite's integrity check of the catalogue, then every file it names "
        "looked for, and stored photos without a row counted. Read only: safe while the "
        "server runs. Exit status 1 if anything is wrong.")

    out = command(
        commands, "export", export_command,
        help="the photos and their face names as plain files, for other tools",
        description="Copy each stored photo into DEST under its own file name (clashes "
        "get \" (2)\"), with an XMP sidecar beside it (NAME.xmp) naming its faces: MWG and "
        "Microsoft face regions and PersonInImage, as digiKam, Lightroom and ExifTool read "
        "them. `faces import DEST` into an empty gallery gives the same photos and named "
        "people. Read only: safe while the server runs.")
    out.add_argument("dest", help="a new or empty folder")
    out.add_argument("--person", metavar="PERSON",
                     help="only the photos of this person (an id, or a name)")

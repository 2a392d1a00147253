"""A pass over a library folder, on the file system alone (no catalogue):
which photo files are there with their size and modification time, the XMP
sidecar beside each, and every file that cannot be a photo, with why.

Nothing is ever written, and nothing outside the root is read: symbolic
links are never followed (one that leads out of the root, or loops, is
reported), special files (pipes, devices, sockets) are never opened.
Hidden files and folders are skipped, and so is whatever matches a line of
a ``.faces-ignore`` file (glob patterns, for the folder it is in and every
folder below).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

IGNORE_FILE = ".faces-ignore"
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".heic", ".heif", ".webp",
                              ".avif", ".tif", ".tiff", ".bmp", ".gif"})
SIDECAR = ".xmp"
PRINT_BYTES = 64 << 10  # read from each end of a file for its fingerprint


@dataclass(frozen=True)
class Seen:
    """A photo file found: its path in the root, size, modification time
    (ns), and its sidecar's (0: none)."""

    path: str
    size: int
    mtime_ns: int
    sidecar: int = 0
    sidecar_name: str = ""


@dataclass
class Walk:
    files: dict[str, Seen] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # path -> why it is no photo
    unreadable: dict[str, str] = field(default_factory=dict)  # folder -> why it was not listed


def fingerprint(path: Path, size: int) -> str:
    """A cheap fingerprint of a file: a hash of its first and last 64 KiB
    (with its size, what a moved file is known again by)."""
    with path.open("rb") as handle:
        head = handle.read(PRINT_BYTES)
        tail = b""
        if size > PRINT_BYTES:
            handle.seek(_tail_start(size))
            tail = handle.read(PRINT_BYTES)
    return _print(head, tail)


def fingerprint_of(data: bytes) -> str:
    """:func:`fingerprint` of a file already read whole."""
    tail = data[_tail_start(len(data)):][:PRINT_BYTES] if len(data) > PRINT_BYTES else b""
    return _print(data[:PRINT_BYTES], tail)


def _tail_start(size: int) -> int:
    return max(PRINT_BYTES, size - PRINT_BYTES)


def _print(head: bytes, tail: bytes) -> str:
    digest = xxhash.xxh3_128(head)
    digest.update(tail)
    return digest.hexdigest()


def inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or in it (absolute paths)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def shown(name: str) -> str:
    """A file name as it can be stored and shown (bytes that are not UTF-8
    written as \\xNN)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _patterns(folder: Path) -> list[str]:
    try:
        text = (folder / IGNORE_FILE).read_text(errors="replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _ignored(rel: str, name: str, rules: list[tuple[str, str]]) -> bool:
    """Whether a path matches a pattern of an ignore file above it: the
    pattern against its name, or against its path from that file's folder."""
    for base, pattern in rules:
        inside = rel[len(base) + 1:] if base else rel
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(inside, pattern.strip("/")):
            return True
    return False


def _link_problem(full: str, root_real: str) -> str | None:
    """Why a symbolic link is reported (None: it leads inside the root,
    where its target is indexed in its own place)."""
    try:
        os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops: not followed"
        return "a symbolic link to nothing: not followed"
    if not inside(os.path.realpath(full), root_real):
        return "a symbolic link leading out of the library folder: not followed"
    return None


def walk(root: Path, folder: str = "", min_size: int = 1) -> Walk:
    """Everything under ``folder`` (a path in ``root``, "" for all of it)."""
    found = Walk()
    root_real = os.path.realpath(root)
    rules: list[tuple[str, str]] = []
    base = ""
    for part in [p for p in folder.split("/") if p]:  # the ignore files above the folder
        rules += [(base, pattern) for pattern in _patterns(root / base)]
        base = f"{base}/{part}" if base else part
    stack = [(folder, rules)]
    while stack:
        rel, rules = stack.pop()
        here = root / rel if rel else root
        rules = rules + [(rel, pattern) for pattern in _patterns(here)]
        try:
            with os.scandir(here) as listing:
                entries = list(listing)
        except FileNotFoundError:
            continue  # (gone since it was seen: its files are gone too)
        except OSError as exc:
            found.unreadable[rel] = f"cannot be read: {exc.strerror or exc}"
            continue
        sidecars: dict[str, tuple[str, int]] = {}
        photos = []
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            path = f"{rel}/{name}" if rel else name
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                found.problems[shown(path)] = "its name is not valid UTF-8: rename it to " \
                                              "include it"
                continue
            if _ignored(path, name, rules):
                continue
            try:
                if entry.is_symlink():
                    why = _link_problem(entry.path, root_real)
                    if why:
                        found.problems[path] = why
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                found.problems[path] = f"cannot be read: {exc.strerror or exc}"
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append((path, rules))
                continue
            extension = os.path.splitext(name)[1].lower()
            if not stat.S_ISREG(info.st_mode):
                found.problems[path] = "not a regular file (a pipe, socket or device): not read"
                continue
            if extension == SIDECAR:
                sidecars[name.lower()] = (name, info.st_mtime_ns)
            elif extension in PHOTO_EXTENSIONS:
                if info.st_size == 0:
                    found.problems[path] = "an empty file (0 bytes)"
                elif info.st_size >= min_size:
                    photos.append((path, name, info))
        for path, name, info in photos:
            side = sidecars.get(name.lower() + SIDECAR) or \
                sidecars.get(os.path.splitext(name)[0].lower() + SIDECAR)
            found.files[path] = Seen(path, info.st_size, info.st_mtime_ns,
                                     side[1] if side else 0, side[0] if side else "")
    return found


def sidecar_path(seen: Seen) -> str:
    """The path in the root of a file's sidecar ("" for none)."""
    if not seen.sidecar_name:
        return ""
    folder = seen.path.rpartition("/")[0]
    return f"{folder}/{seen.sidecar_name}" if folder else seen.sidecar_name

"""Whether a library folder can be trusted before a pass changes anything:
there, a folder, readable, on the same device as before (an unmounted mount
point is an empty folder on another device), and not empty while the
catalogue holds photos from it. And what kind of file system it is on
(network file systems send no change events: they are rescanned instead).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .walk import inside

# File systems whose changes made elsewhere send no inotify event.
NETWORK = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs",
                     "afs", "virtiofs", "fuse.sshfs", "fuse.rclone", "fuse.glusterfs",
                     "fuse.s3fs", "fuse.grpcfuse", "fakeowner", "davfs", "fuse.davfs2"})


@dataclass(frozen=True)
class Check:
    ok: bool
    why: str = ""  # what is wrong, and what to do
    device: int | None = None
    changed_device: bool = False  # (there and readable, but on another device than before)
    empty: bool = False  # (there and readable, but empty)


def check(path: Path, device: int | None, photos: int) -> Check:
    """Whether the root at ``path`` may be scanned (``device``: the one it
    was on when last seen with files; ``photos``: how many the catalogue
    holds from it)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Check(False, f"{path} is not there: mount it (or `faces library remove` it)")
    except OSError as exc:
        return Check(False, f"{path} cannot be read: {exc.strerror or exc}")
    if not stat.S_ISDIR(info.st_mode):
        return Check(False, f"{path} is not a folder")
    try:
        with os.scandir(path) as listing:
            empty = not any(not entry.name.startswith(".") for entry in listing)
    except OSError as exc:
        return Check(False, f"{path} cannot be read: {exc.strerror or exc} (faces runs as "
                     f"uid {os.geteuid()}; the folder belongs to uid {info.st_uid}, mode "
                     f"{stat.S_IMODE(info.st_mode):o})")
    if photos and device is not None and info.st_dev != device:
        return Check(False, f"{path} is on another device than before: if its disk or share "
                     f"is not mounted, mount it; if the photos moved to another disk, confirm "
                     f"(`faces library confirm {path}`)", info.st_dev, changed_device=True)
    if photos and empty:
        return Check(False, f"{path} is empty, and the catalogue holds {photos} photos from "
                     f"it: if its disk or share is not mounted, mount it; if you emptied it, "
                     f"confirm (`faces library confirm {path}`)", info.st_dev, empty=True)
    return Check(True, device=info.st_dev)


def filesystem(path: Path) -> str:
    """The type of the file system holding ``path`` ("" if unknown), from
    the longest mount point above it in /proc/self/mountinfo."""
    target = os.path.realpath(path)
    best, kind = "", ""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        fields = line.split()
        try:
            point = fields[4].encode().decode("unicode_escape")
            fstype = fields[fields.index("-") + 1]
        except (IndexError, ValueError):
            continue
        if inside(target, point) and len(point) >= len(best):
            best, kind = point, fstype
    return kind


def is_network(path: Path) -> bool:
    return filesystem(path) in NETWORK

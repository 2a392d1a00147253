"""The library's files, under the data directory: ``photos/`` (each photo's
original, annotated copy and thumbnail), ``meta/`` (one JSON sidecar per
photo, from which ``faces reindex`` can rebuild its catalogue row),
``crops/`` (a small image of each recognized face) and ``tmp/``.

Every write is atomic (a temporary file, fsync, rename) and never replaces
a file: names derive from content. Safe to call from any thread.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataDirError
from .records import ID_LENGTH, Photo, crop_name

ORIGINAL_FILE = re.compile(rf"^([0-9a-f]{{{ID_LENGTH}}})\.(jpg|png)$")  # (display copies)
ORIGINAL_MARK = ".original"  # in the name of an uploaded file kept as it came: <id>.original.heic


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


LOW_SPACE = 1 << 20  # bytes free below which a disk counts as full (1 % on a tiny one)
DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}
RESERVE = ".reserve"  # space kept aside so that a delete can be made on a full disk
SECRET_FILE = "cookie-secret"  # noqa: S105 (a file name: the web side's cookie key)


def disk_error(exc: OSError, folder: Path) -> DataDirError | None:
    """An error creating something in the data directory, said plainly."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataDirError(f"no space left on the disk holding {folder}: free some space, "
                            f"then start again")
    if exc.errno == errno.EROFS:
        return DataDirError(f"{folder} is on a read-only filesystem: mount it read-write")
    return None


def read_only(folder: Path) -> bool:
    """Whether ``folder`` (or its nearest existing parent) is on a read-only mount."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def disk_full(folder: Path) -> int | None:
    """The bytes free on the disk holding ``folder`` when it counts as full
    (under 1 MiB, or under 1 % of a disk smaller than 100 MiB); else None."""
    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return None
    return usage.free if usage.free < min(LOW_SPACE, usage.total // 100) else None


def space_left(folder: Path) -> int:
    """Bytes free for this user on the disk holding ``folder``."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


class Files:
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.data_dir = Path(data_dir)
        self.photos_dir = self.data_dir / "photos"
        self.meta_dir = self.data_dir / "meta"
        self.crops_dir = self.data_dir / "crops"
        self.tmp_dir = self.data_dir / "tmp"
        if read_only(self.data_dir):
            raise DataDirError(f"the data directory {self.data_dir} is on a read-only "
                               f"filesystem: mount it read-write")
        for folder in (self.data_dir, self.photos_dir, self.meta_dir, self.crops_dir,
                       self.tmp_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except PermissionError as exc:
                raise unwritable(self.data_dir, exc.strerror) from None
            except OSError as exc:
                raise (disk_error(exc, self.data_dir) or exc) from None
            if not os.access(folder, os.W_OK | os.X_OK):
                raise unwritable(self.data_dir, f"{folder.name}/ is not writable")
        for leftover in self.tmp_dir.glob("*.part"):  # from a crash mid-write
            leftover.unlink(missing_ok=True)

    # -- space kept aside ------------------------------------------------------------

    def reserve(self) -> bool:
        """Keep a little space aside (1 % of the disk, from 256 KiB to 8 MiB)
        in ``.reserve``, made only while the disk has room for it twice
        over: on a full disk, deleting a photo must still write the
        catalogue's journal, and deleting is how space comes back. Returns
        whether the space is kept."""
        path = self.data_dir / RESERVE
        if path.is_file():
            return True
        try:
            total = shutil.disk_usage(self.data_dir).total
        except OSError:
            return False
        size = min(8 << 20, max(256 << 10, total // 100))
        if space_left(self.data_dir) < 2 * size + LOW_SPACE:
            return False
        try:
            with path.open("wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, size)
        except OSError:
            path.unlink(missing_ok=True)
            return False
        return True

    def release(self) -> bool:
        """Give the space kept aside back to the disk; whether there was any."""
        path = self.data_dir / RESERVE
        if not path.is_file():
            return False
        path.unlink()
        return True

    @staticmethod
    def names(photo_id: str, extension: str, original: str | None = None) -> dict[str, str]:
        """The files of a photo, by kind: the three made from it (their
        ``extension``), and the uploaded file itself when it is kept (its
        own extension, ``original``). Pages are served the made ones only."""
        names = {
            "display": f"{photo_id}{extension}",
            "annotated": f"{photo_id}.annotated{extension}",
            "thumbnail": f"{photo_id}.thumb{extension}",
        }
        if original:
            names["original"] = f"{photo_id}{ORIGINAL_MARK}{original}"
        return names

    def write(self, name: str, data: bytes, folder: Path | None = None) -> Path | None:
        """Write ``photos/<name>`` (or ``folder/<name>``) atomically.

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

    def write_photo(self, files: dict[str, bytes], photo: Photo | None = None) -> None:
        """Write the image files, then the photo's metadata sidecar: all or
        nothing. On a failure the files this call created are removed again;
        files that were already there (the same photo stored before) stay.
        """
        written: list[Path | None] = []
        try:
            for name, data in files.items():
                written.append(self.write(name, data))
            if photo is not None:
                written.append(self.write(f"{photo.id}.json",
                                          json.dumps(photo.record()).encode(), self.meta_dir))
        except BaseException:
            for path in written:
                if path is not None:
                    path.unlink(missing_ok=True)
            raise

    def write_crop(self, name: str, data: bytes) -> None:
        self.write(name, data, self.crops_dir)

    def remove_crops(self, names: list[str]) -> None:
        for name in names:
            (self.crops_dir / name).unlink(missing_ok=True)

    def remove(self, photo: Photo) -> None:
        """A photo's files, its faces' crops and its sidecar."""
        for name in photo.files():
            (self.photos_dir / name).unlink(missing_ok=True)
        self.remove_crops([crop_name(photo.id, face["id"]) for face in photo.faces
                           if face.get("id") is not None])
        (self.meta_dir / f"{photo.id}.json").unlink(missing_ok=True)

    def read_display(self, photo: Photo) -> bytes:
        """The upright copy the pages show (what recognition and a drawn
        face are read from: the same pixels the boxes are in)."""
        return (self.photos_dir / photo.display).read_bytes()

    def original_path(self, photo: Photo) -> Path | None:
        """The uploaded file itself, kept byte for byte (None: none kept)."""
        return self.photos_dir / photo.original if photo.original else None

    def read_sidecar(self, photo_id: str) -> Photo | None:
        try:
            return Photo.from_record(json.loads((self.meta_dir / f"{photo_id}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def originals(self) -> Iterator[tuple[str, Path]]:
        """Every stored original: its photo id and path."""
        for path in self.photos_dir.iterdir():
            match = ORIGINAL_FILE.match(path.name)
            if match:
                yield match.group(1), path

"""The library's files, under the data directory: ``photos/`` (each photo's
original, annotated copy and thumbnail), ``meta/`` (one JSON sidecar per
photo, from which ``faces reindex`` can rebuild its catalogue row),
``crops/`` (a small image of each recognized face) and ``tmp/``.

Every write is atomic (a temporary file, fsync, rename) and never replaces
a file: names derive from content. Safe to call from any thread.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataDirError
from .records import ID_LENGTH, Photo, crop_name

ORIGINAL_FILE = re.compile(rf"^([0-9a-f]{{{ID_LENGTH}}})\.(jpg|png)$")


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


class Files:
    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.data_dir = Path(data_dir)
        self.photos_dir = self.data_dir / "photos"
        self.meta_dir = self.data_dir / "meta"
        self.crops_dir = self.data_dir / "crops"
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

    @staticmethod
    def names(photo_id: str, extension: str) -> dict[str, str]:
        """The three files of a photo, by kind."""
        return {
            "original": f"{photo_id}{extension}",
            "annotated": f"{photo_id}.annotated{extension}",
            "thumbnail": f"{photo_id}.thumb{extension}",
        }

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

    def has_original(self, photo: Photo) -> bool:
        return (self.photos_dir / photo.original).is_file()

    def read_original(self, photo: Photo) -> bytes:
        return (self.photos_dir / photo.original).read_bytes()

    def read_sidecar(self, photo_id: str) -> Photo | None:
        try:
            return Photo(**json.loads((self.meta_dir / f"{photo_id}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def originals(self) -> Iterator[tuple[str, Path]]:
        """Every stored original: its photo id and path."""
        for path in self.photos_dir.iterdir():
            match = ORIGINAL_FILE.match(path.name)
            if match:
                yield match.group(1), path

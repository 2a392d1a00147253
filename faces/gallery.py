"""The gallery's use cases, in one place: add a photo (hash, dedupe, run the
job, write the files, catalogue it, tell every browser), detect without
storing, delete, and put the catalogue right after a crash or from the files
(``faces reindex``). Front ends (the HTTP handlers, the command line) only
translate to these calls and back; the errors they raise say what went
wrong in words a user can act on.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from .backends import Backend
from .hub import Hub
from .options import ID_LENGTH, ID_PATTERN, Options, Rendered
from .probe import check_limits, probe
from .store import Photo, Store, content_id, utc_now
from .worker import DETECT, RENDER

log = logging.getLogger(__name__)

DISK_ERRORS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT}


class StorageFull(Exception):
    """The photo could not be saved: the disk is full or not writable."""


@dataclass
class Report:
    """What :meth:`Gallery.reindex` did."""

    dropped: list[str] = field(default_factory=list)   # rows whose files were gone
    restored: list[str] = field(default_factory=list)  # rows rebuilt from metadata sidecars
    detected: list[str] = field(default_factory=list)  # rows rebuilt by detecting again

    def summary(self) -> str:
        return (f"{len(self.restored)} restored from metadata, {len(self.detected)} re-detected, "
                f"{len(self.dropped)} dropped (files missing)")


class Listener(Protocol):
    """Told of each photo stored or deleted (People)."""

    def photo_added(self, photo: Photo) -> None: ...

    def photo_deleted(self, photo: Photo) -> None: ...


class Gallery:
    def __init__(self, store: Store, backend: Backend, hub: Hub, defaults: Options,
                 on_job: Callable[[float], None] | None = None,
                 listeners: list[Listener] | None = None) -> None:
        self.store = store
        self.backend = backend
        self.hub = hub
        self.defaults = defaults  # the server's processing options
        self.on_job = on_job  # told each job's seconds in the backend (metrics)
        self.listeners = listeners or []

    async def _run(self, job: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return await self.backend.run(job, *args)
        finally:
            if self.on_job is not None:
                self.on_job(time.perf_counter() - started)

    @staticmethod
    def check(data: bytes, options: Options) -> None:
        """Refuse a file that is not an image we take, or too large, from its
        header alone (cheap: run it before queueing). Raises ImageRejected."""
        check_limits(probe(data), options.max_pixels)

    async def add(self, data: bytes, filename: str, options: Options) -> tuple[Photo, bool]:
        """Store an uploaded photo; returns it and whether it is new (the same
        bytes with the same options are the same photo, stored once).

        Raises ImageRejected, the backend's errors, or StorageFull; on any of
        them nothing is stored and nothing is broadcast.
        """
        self.check(data, options)
        loop = asyncio.get_running_loop()
        variant = options.variant(self.defaults, self.backend.default_score)
        photo_id = await loop.run_in_executor(None, content_id, data, variant)
        existing = self.store.get(photo_id)
        if existing is not None:
            return existing, False
        rendered: Rendered = await self._run(RENDER, data, options)
        photo = self._photo(photo_id, filename, utc_now(), rendered)
        await self._save(photo, rendered.files(self.store.file_names(photo_id,
                                                                     rendered.extension)))
        if not self.store.add(photo):  # the same bytes finished first elsewhere
            return self.store.get(photo_id), False
        photo = self.store.get(photo_id)  # with its faces' ids
        self.hub.broadcast({"type": "photo.added", "photo": photo.to_json()})
        log.info("stored %s (%s): %d faces", photo_id, filename, len(photo.faces))
        for listener in self.listeners:
            listener.photo_added(photo)
        return photo, True

    async def detect(self, data: bytes, options: Options, annotate: bool) -> dict[str, Any]:
        """Faces in a photo, stored nowhere: ``{"width", "height", "faces"}``,
        plus ``"image"`` and ``"extension"`` (the annotated copy) with ``annotate``."""
        self.check(data, options)
        return await self._run(DETECT, data, options, annotate)

    async def delete(self, photo_id: str) -> Photo | None:
        """Remove a photo's row and files and tell every browser; None if unknown."""
        photo = self.store.delete(photo_id) if ID_PATTERN.match(photo_id) else None
        if photo is None:
            return None
        await asyncio.get_running_loop().run_in_executor(None, self.store.remove_files, photo)
        self.hub.broadcast({"type": "photo.deleted", "id": photo.id})
        for listener in self.listeners:
            listener.photo_deleted(photo)
        log.info("deleted %s (%s)", photo.id, photo.filename)
        return photo

    def reconcile(self) -> None:
        """After a crash: drop rows whose files are gone; report files without rows."""
        dropped = self.store.drop_missing()
        if dropped:
            log.warning("dropped %d catalogue rows whose files are missing", len(dropped))
        orphans = self.store.orphans()
        if orphans:
            log.warning("%d stored photos have no catalogue row; run `faces reindex` to add "
                        "them", len(orphans))

    async def reindex(self, progress: Callable[[int, int], None] | None = None) -> Report:
        """Drop rows whose original file is gone; add rows for files without one.

        A photo's metadata sidecar restores it exactly; without one, the stored
        original is run through the detector again.
        """
        report = Report(dropped=self.store.drop_missing())
        orphans = self.store.orphans()
        found: list[Photo] = []
        for done, path in enumerate(orphans, 1):
            photo_id = path.name[:ID_LENGTH]
            known = self.store.read_sidecar(photo_id)
            if known is not None and all((self.store.photos_dir / name).is_file()
                                         for name in known.files()):
                report.restored.append(photo_id)
                found.append(known)
            else:
                rendered = await self._run(RENDER, path.read_bytes(), self.defaults)
                photo = self._photo(photo_id, known.filename if known else path.name,
                                    known.created if known else _mtime(path), rendered)
                # The stored original stays as it is: existing files are never replaced.
                await self._save(photo, rendered.files(self.store.file_names(
                    photo_id, path.suffix)))
                report.detected.append(photo_id)
                found.append(photo)
            if progress:
                progress(done, len(orphans))
        for photo in sorted(found, key=lambda p: p.created):
            self.store.add(photo)
        return report

    def _photo(self, photo_id: str, filename: str, created: str, rendered: Rendered) -> Photo:
        names = self.store.file_names(photo_id, rendered.extension)
        return Photo(id=photo_id, filename=filename, created=created, width=rendered.width,
                     height=rendered.height, faces=rendered.faces, **names)

    async def _save(self, photo: Photo, files: dict[str, bytes]) -> None:
        """Write the photo's files and sidecar, all or nothing."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.store.write_files,
                                                             files, photo)
        except OSError as exc:
            if exc.errno not in DISK_ERRORS:
                raise
            log.error("cannot store %s in %s: %s", photo.id, self.store.photos_dir, exc)
            raise StorageFull("The server could not save the photo: its disk is full or "
                              "not writable.") from None


def _mtime(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

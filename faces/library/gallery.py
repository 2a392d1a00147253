"""The gallery's use cases, in one place: add a photo (hash, dedupe, run the
job, write the files, catalogue it, tell every page), detect without
storing, read photos page by page, delete, and put the catalogue right after
a crash or from the files (``faces reindex``). Front ends (the web side, the
command line) only translate to these calls and back; the errors they raise
(:mod:`faces.errors`) say what went wrong in words a user can act on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from ..backends import Backend
from ..errors import BadRequest, Conflict, FacesError, ImageRejected, NotFound, StorageFull
from ..vision import xmp
from ..vision.contract import Options, Rendered
from ..vision.jobs import DETECT, LOCATE, RENDER
from ..vision.metadata import Metadata
from ..vision.probe import check_limits, probe
from .catalogue import Catalogue
from .catalogue_places import Place
from .events import Events, PhotoAdded, PhotoChanged, PhotoDeleted
from .files import DISK_ERRORS, Files
from .records import ID_PATTERN, PAGE_SIZE, Photo, content_id, utc_now

log = logging.getLogger(__name__)

MIN_DRAWN = 8  # pixels: the smallest face a user may draw


@dataclass
class Report:
    """What :meth:`Gallery.reindex` did."""

    dropped: list[str] = field(default_factory=list)   # rows removed (their files were gone)
    restored: list[str] = field(default_factory=list)  # rows rebuilt from metadata sidecars
    detected: list[str] = field(default_factory=list)  # rows rebuilt by detecting again

    def summary(self) -> str:
        return (f"{len(self.restored)} restored from metadata, {len(self.detected)} re-detected, "
                f"{len(self.dropped)} rows removed (files missing)")


@dataclass(frozen=True)
class Audit:
    """What :meth:`Gallery.audit` found."""

    missing: list[str]  # photos in the catalogue whose original file is not there
    orphans: list[Path]  # stored originals with no catalogue row


@dataclass(frozen=True)
class Page:
    """A page of photos, newest first; ``more``: whether older ones follow."""

    photos: list[Photo]
    more: bool

    @property
    def last(self) -> str | None:
        return self.photos[-1].id if self.photos else None


class Listener(Protocol):
    """Told of each photo stored, changed or deleted (People, recognition)."""

    def photo_added(self, photo: Photo) -> None: ...

    def photo_deleted(self, photo: Photo) -> None: ...


def unknown_photo() -> NotFound:
    return NotFound("unknown_photo", "There is no photo with that id.")


class Gallery:
    def __init__(self, files: Files, catalogue: Catalogue, backend: Backend, events: Events,
                 defaults: Options, on_job: Callable[[float], None] | None = None,
                 listeners: list[Listener] | None = None,
                 namer: Callable[[dict[int, str]], Awaitable[None]] | None = None,
                 wants_recognition: Callable[[Photo], bool] | None = None,
                 describing: Callable[[], tuple[int, int] | None] | None = None,
                 prepared: Callable[[Photo, dict], None] | None = None) -> None:
        self.files = files
        self.catalogue = catalogue
        self.backend = backend
        self.events = events
        self.defaults = defaults  # the server's processing options
        self.on_job = on_job  # told each job's seconds in the backend (metrics)
        self.listeners = listeners or []
        self.namer = namer  # puts the faces an XMP names in their people (People.name_faces)
        # whether a photo has faces for recognition to describe (decided as it is
        # stored: one without goes in as done, and costs recognition nothing)
        self.wants_recognition = wants_recognition or (lambda photo: True)
        self.adding = 0  # uploads being detected and stored now (recognition waits for them)
        # People's descriptions made in the same job as detection, from the same
        # pixels: what to ask for ((min face, faces per photo), or None), and
        # who takes them (Recognition.prepare) once the photo is stored
        self.describing = describing or (lambda: None)
        self.prepared = prepared

    async def _run(self, job: str, *args: Any, pixels: int = 0) -> Any:
        started = time.perf_counter()
        try:
            return await self.backend.run(job, *args, pixels=pixels)
        finally:
            if self.on_job is not None:
                self.on_job(time.perf_counter() - started)

    # -- reading ---------------------------------------------------------------

    def photo(self, photo_id: str) -> Photo:
        """One photo; raises NotFound."""
        photo = self.catalogue.get(photo_id) if ID_PATTERN.match(photo_id) else None
        if photo is None:
            raise unknown_photo()
        return photo

    def page(self, limit: int = PAGE_SIZE, before: str | None = None,
             people: list[str] | None = None, order: str = "taken",
             since: str | None = None, until: str | None = None,
             folder: tuple[int, str] | None = None) -> Page:
        """Up to ``limit`` photos (that show every one of ``people``, if
        given), newest first by date taken (``order`` "added": as they came
        in), after the photo ``before``; by date taken, only those taken from
        ``since`` to ``until`` (date prefixes); or those in a ``folder`` of
        the library ((root id, path in it)). Raises NotFound for an unknown
        ``before``."""
        try:
            if folder is not None:  # (one library folder, newest taken first)
                ids = self.catalogue.in_folder(*folder, limit, before)
                photos = [photo for photo in map(self.catalogue.get, ids) if photo]
            elif people:
                photos = self.catalogue.newest_of(people, limit, before, order)
            else:
                photos = self.catalogue.newest(limit, before, order, since, until)
        except KeyError:
            raise NotFound("unknown_photo",
                           "No photo has the id given in 'before'.") from None
        return Page(photos, len(photos) == limit)

    def count(self, people: list[str] | None = None) -> int:
        return self.catalogue.count(people)

    def face_count(self) -> int:
        return self.catalogue.face_count()

    def since(self, after: str | None) -> list[Photo] | None:
        """Every photo newer than ``after`` (all if None), oldest first; None
        for an id that is not (or no longer) in the gallery."""
        if after is not None and not ID_PATTERN.match(after):
            return None
        try:
            return list(self.catalogue.since(after))
        except KeyError:
            return None

    # -- adding ------------------------------------------------------------------

    @staticmethod
    def check(data: bytes, options: Options) -> None:
        """Refuse a file that is not an image we take, or too large, from its
        header alone (cheap: run it before queueing). Raises ImageRejected."""
        check_limits(probe(data), options.max_pixels)

    async def add(self, data: bytes, filename: str, options: Options,
                  sidecar: bytes | None = None, modified: str | None = None
                  ) -> tuple[Photo, bool]:
        """Store an uploaded photo; returns it and whether it is new (the same
        bytes with the same options are the same photo, stored once). The
        people its XMP (or ``sidecar``) names are put on its faces. The file
        is kept exactly as it came (unless its faces are blurred: then no
        unblurred pixel is kept); ``modified`` (ISO 8601, the file's own
        modification time) is its date taken when the file holds none.

        Raises ImageRejected, the backend's errors, or StorageFull; on any of
        them nothing is stored and nothing is broadcast.
        """
        self.check(data, options)
        self.adding += 1
        try:
            return await self._add(data, filename, options, sidecar, modified)
        finally:
            self.adding -= 1

    async def _add(self, data: bytes, filename: str, options: Options,
                   sidecar: bytes | None, modified: str | None,
                   photo_id: str | None = None, place: tuple[int, Place] | None = None
                   ) -> tuple[Photo, bool]:
        loop = asyncio.get_running_loop()
        if photo_id is None:
            variant = options.variant(self.defaults, self.backend.default_score)
            photo_id = await loop.run_in_executor(None, content_id, data, variant)
        existing = self.catalogue.get(photo_id)
        if existing is not None:
            return existing, False
        # (the worker describes nothing of a blurred photo: its pixels are hidden)
        rendered: Rendered = await self._run(RENDER, data, options, sidecar,
                                             self.describing(), pixels=pixels(data))
        # (a library file is its own original: nothing of it is copied)
        keep = options.mode != "blur" and place is None
        photo = self._photo(photo_id, filename, utc_now(), rendered, keep, modified)
        await self._save(photo, self._files(photo, rendered, data if keep else None))
        try:
            added = await self.catalogue.write(self.catalogue.add, photo,
                                               not self.wants_recognition(photo), place)
        except FacesError:  # (the disk, the catalogue) not stored: no file is left behind
            await loop.run_in_executor(None, self.files.remove, photo)
            raise
        if not added:  # the same bytes finished first elsewhere
            if place is not None:
                await self.catalogue.write(self.catalogue.put_places, place[0], [place[1]])
            return self.catalogue.get(photo_id), False
        photo = self.catalogue.get(photo_id)  # with its faces' ids
        if rendered.described and self.prepared is not None:
            self.prepared(photo, rendered.described)
        if rendered.names and self.namer is not None:
            ids = [face["id"] for face in photo.faces]
            try:
                await self.namer({ids[n]: name for n, name in rendered.names.items()
                                  if n < len(ids)})
            except FacesError as exc:  # (stored all the same: the names can be imported again)
                log.error("the names in %s's XMP could not be stored: %s", filename, exc)
            photo = self.catalogue.get(photo_id)
        self.events.publish(PhotoAdded(photo))
        log.info("stored %s (%s): %d faces", photo_id, filename, len(photo.faces))
        for listener in self.listeners:
            listener.photo_added(photo)
        return photo, True

    async def add_from_folder(self, data: bytes, photo_id: str, filename: str,
                              sidecar: bytes | None, modified: str,
                              place: tuple[int, Place]) -> tuple[Photo, bool]:
        """Store a photo found in a library folder (``place``: its root and
        place there; ``photo_id``: its bytes' hash): the same as an upload,
        except that the file itself stays its original (nothing is copied
        from it), and it is not counted as an upload (uploads go first).
        Raises ImageRejected, the backend's errors, or StorageFull."""
        self.check(data, self.defaults)
        return await self._add(data, filename, self.defaults, sidecar, modified, photo_id,
                               place)

    async def detect(self, data: bytes, options: Options, annotate: bool) -> dict[str, Any]:
        """Faces in a photo, stored nowhere: ``{"width", "height", "faces"}``,
        plus ``"image"`` and ``"extension"`` (the annotated copy) with ``annotate``."""
        self.check(data, options)
        return await self._run(DETECT, data, options, annotate, pixels=pixels(data))

    async def add_face(self, photo_id: str, box: list[float]) -> Photo:
        """A face the detector missed, drawn by the user (``[x1, y1, x2, y2]``
        in the photo's pixels): stored as one of the photo's faces, then
        described in the background like the others (and can be named).
        Raises NotFound, or BadRequest for a box outside the photo."""
        photo = self.photo(photo_id)
        x1, y1, x2, y2 = box
        if not (0 <= x1 < x2 <= photo.width and 0 <= y1 < y2 <= photo.height):
            raise BadRequest("bad_box", f"The box must lie inside the photo "
                             f"({photo.width} x {photo.height} pixels).")
        if min(x2 - x1, y2 - y1) < MIN_DRAWN:
            raise BadRequest("bad_box", f"A face is at least {MIN_DRAWN} pixels wide and high.")
        data = await asyncio.get_running_loop().run_in_executor(None, self.files.read_display,
                                                                photo)
        face = await self._run(LOCATE, data, [float(v) for v in box], self.defaults.max_pixels,
                               pixels=photo.width * photo.height)
        await self.catalogue.write(self.catalogue.add_face, photo.id, face)
        photo = self.catalogue.get(photo.id)
        self.events.publish(PhotoChanged(photo))
        log.info("face drawn on %s at %s", photo.id, face["box"])
        for listener in self.listeners:
            listener.photo_added(photo)
        return photo

    def years(self) -> list[tuple[str, int]]:
        """The years photos were taken in, newest first, with how many."""
        return self.catalogue.years()

    def months(self, year: str) -> list[tuple[str, int]]:
        """The months of ``year`` photos were taken in, newest first."""
        return self.catalogue.months(year)

    async def original(self, photo: Photo) -> bytes:
        """The photo as it was uploaded; NotFound when none is kept (a
        blurred upload, or a photo stored before originals were kept)."""
        path = self.files.original_path(photo)
        if path is None and photo.places:
            return await asyncio.get_running_loop().run_in_executor(None, self._from_folder,
                                                                    photo)
        if path is None:
            raise NotFound("no_original", "This photo keeps no original: its faces were "
                           "blurred as it was uploaded, or it was stored before faces kept "
                           "originals (its copy is the display image).")
        try:
            return await asyncio.get_running_loop().run_in_executor(None, path.read_bytes)
        except FileNotFoundError:
            raise NotFound("no_original", "The original file is missing from the data "
                           "directory (`faces check` lists what is missing).") from None

    def _from_folder(self, photo: Photo) -> bytes:
        """A library photo's file, read where it is (the first of its places
        that is there and still holds the same bytes)."""
        for root, path, online in self.catalogue.photo_places(photo.id):
            if not online:
                continue
            try:
                data = (Path(root) / path).read_bytes()
            except OSError:
                continue
            if content_id(data) == photo.id:
                return data
        raise NotFound("offline", "This photo's file is not in its library folder now (the "
                       "folder is not mounted, or the file was moved or changed); its copy is "
                       "shown until it is back.")

    async def set_taken(self, photo_id: str, taken: str) -> Photo:
        """The user's date taken (kept as theirs, written into the photo's
        XMP sidecar); told to every page. Raises NotFound."""
        self.photo(photo_id)
        await self.catalogue.write(self.catalogue.set_taken, photo_id, taken)
        photo = self.photo(photo_id)
        self.events.publish(PhotoChanged(photo))
        return photo

    def xmp(self, photo_id: str) -> tuple[str, bytes]:
        """An XMP sidecar naming the photo's faces that are in a named person
        (MWG and Microsoft regions, PersonInImage), for its stored original;
        and the sidecar's file name. Raises NotFound."""
        photo = self.photo(photo_id)
        named = self.catalogue.named_faces(photo.id)
        # (the original's stored frame: the kept upload's, or the library file's)
        turn = photo.orientation if photo.original or photo.places else 1
        across, down = (photo.height, photo.width) if turn >= 5 else (photo.width, photo.height)
        faces = [(xmp.stored(box, turn, photo.width, photo.height), name) for box, name in named]
        return photo.export_name() + ".xmp", xmp.sidecar(across, down, faces, taken=photo.taken)

    # -- deleting ----------------------------------------------------------------

    async def delete(self, photo_id: str, library: bool = False) -> Photo:
        """Remove a photo's row and files and tell every page; raises NotFound.
        On a full disk too: deleting is how space comes back (the space kept
        aside is given back for it if the catalogue needs it). A photo in a
        library folder is not deleted (its file is not ours to delete, and
        the next scan would bring it back): Conflict; unless ``library``
        (its folder was removed from the library)."""
        if not ID_PATTERN.match(photo_id):
            raise unknown_photo()
        found = self.catalogue.get(photo_id)
        if found is not None and found.places and found.online and not library:
            raise Conflict("in_library", f"This photo is a file in a library folder "
                           f"({found.places[0]}): faces never changes those folders. Delete "
                           f"or move the file there; once it is gone (offline here) it can "
                           f"be deleted from the gallery.")
        try:
            photo = await self.catalogue.write(self.catalogue.delete, photo_id)
        except StorageFull:
            if not self.files.release():
                raise
            log.warning("the disk is full: the space kept aside was given back to delete %s",
                        photo_id)
            photo = await self.catalogue.write(self.catalogue.delete, photo_id)
        if photo is None:
            raise unknown_photo()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.files.remove, photo)
        await loop.run_in_executor(None, self.files.reserve)  # (again, if there is room now)
        self.events.publish(PhotoDeleted(photo.id))
        for listener in self.listeners:
            listener.photo_deleted(photo)
        log.info("deleted %s (%s)", photo.id, photo.filename)
        return photo

    # -- putting the catalogue right ------------------------------------------

    def missing(self) -> list[tuple[str, str]]:
        """Rows whose original file is not there: (photo id, file name)."""
        return [(photo_id, filename) for photo_id, original, filename in
                self.catalogue.originals() if not (self.files.photos_dir / original).is_file()]

    async def drop(self, photo_ids: list[str]) -> list[str]:
        """Remove these rows and whatever files of theirs are left (what
        `faces reindex --drop-missing` does once the user has seen the count)."""
        dropped = []
        for photo_id in photo_ids:
            photo = await self.catalogue.write(self.catalogue.delete, photo_id)
            if photo is not None:
                self.files.remove(photo)
                dropped.append(photo_id)
        return dropped

    def orphans(self) -> list[Path]:
        """Stored originals that have no catalogue row."""
        known = self.catalogue.all_ids()
        return sorted(path for photo_id, path in self.files.originals() if photo_id not in known)

    def audit(self) -> Audit:
        """The catalogue against the files, at start, on another thread:
        rows whose original is missing, files without a row. Changes
        nothing (a volume not mounted yet must not cost the catalogue its
        rows); says what it found in the log."""
        with self.catalogue.reader() as reader:
            stored = dict(reader.db.execute("SELECT id, display FROM photos"))
        present = {path.name for path in self.files.photos_dir.iterdir()}
        found = Audit(missing=sorted(i for i, name in stored.items() if name not in present),
                      orphans=sorted(path for i, path in self.files.originals()
                                     if i not in stored))
        if found.missing:
            log.warning("%d of the %d photos in the catalogue have no original file in %s; "
                        "nothing was removed. If a volume or share is not mounted, mount it "
                        "and restart; `faces reindex --drop-missing` removes those rows",
                        len(found.missing), len(stored), self.files.photos_dir)
        if found.orphans:
            log.warning("%d stored photos have no catalogue row: they are added back in the "
                        "background", len(found.orphans))
        return found

    async def reindex(self, progress: Callable[[int, int], None] | None = None,
                      drop: list[str] = ()) -> Report:
        """Add rows for stored photos without one; remove the rows ``drop``
        (photos whose files are gone, as the user decided)."""
        report = Report(dropped=await self.drop(list(drop)))
        found = await self.adopt(self.orphans(), progress, report)
        for photo in sorted(found, key=lambda p: p.created):
            await self.catalogue.write(self.catalogue.add, photo,
                                       not self.wants_recognition(photo))
        return report

    async def adopt_in_background(self, orphans: list[Path]) -> None:
        """Stored photos without a row (a crash between the files and the
        catalogue), found at start: back in the gallery, told to every page."""
        report = Report()
        for photo in sorted(await self.adopt(orphans, None, report), key=lambda p: p.created):
            if await self.catalogue.write(self.catalogue.add, photo,
                                          not self.wants_recognition(photo)):
                stored = self.catalogue.get(photo.id)
                self.events.publish(PhotoAdded(stored))
                for listener in self.listeners:
                    listener.photo_added(stored)
        log.warning("adopted %d stored photos that had no catalogue row: %s", len(orphans),
                    report.summary())

    async def adopt(self, orphans: list[Path], progress: Callable[[int, int], None] | None,
                    report: Report) -> list[Photo]:
        """The photos of stored originals without a row: a photo's metadata
        sidecar restores it exactly; without one, the stored original is run
        through the detector again (its files written as an upload's)."""
        found: list[Photo] = []
        for done, path in enumerate(orphans, 1):
            photo_id = path.name.split(".")[0]
            known = self.files.read_sidecar(photo_id)
            if known is not None and all((self.files.photos_dir / name).is_file()
                                         for name in known.files()):
                report.restored.append(photo_id)
                found.append(known)
            else:
                data = path.read_bytes()
                rendered = await self._run(RENDER, data, self.defaults, pixels=pixels(data))
                photo = self._photo(photo_id, known.filename if known else path.name,
                                    known.created if known else _mtime(path), rendered,
                                    keep=False)
                # The stored copy stays as it is: existing files are never replaced.
                await self._save(photo, self._files(photo, rendered, None))
                report.detected.append(photo_id)
                found.append(photo)
            if progress:
                progress(done, len(orphans))
        return found

    def _photo(self, photo_id: str, filename: str, created: str, rendered: Rendered,
               keep: bool = True, modified: str | None = None) -> Photo:
        """The record of a photo just rendered: its files' names (the
        original's when it is kept), and its date taken: the file's own, else
        its modification time, else when it was uploaded."""
        names = self.files.names(photo_id, rendered.extension,
                                 rendered.source_extension if keep else None)
        found = rendered.metadata or Metadata()
        taken, source = found.taken, found.taken_source
        if taken is None and modified:
            taken, source = modified, "file"
        if taken is None:
            taken, source = created[:19] + "+00:00", "upload"
        return Photo(id=photo_id, filename=filename, created=created, width=rendered.width,
                     height=rendered.height, faces=rendered.faces, taken=taken,
                     taken_source=source, make=found.make, model=found.model,
                     latitude=found.latitude, longitude=found.longitude,
                     orientation=found.orientation, **names)

    @staticmethod
    def _files(photo: Photo, rendered: Rendered, data: bytes | None) -> dict[str, bytes]:
        """File name -> bytes: the made files, and the uploaded ``data``
        itself as the original (when it is kept)."""
        files = {photo.display: rendered.display, photo.annotated: rendered.annotated,
                 photo.thumbnail: rendered.thumbnail}
        if data is not None and photo.original:
            files[photo.original] = data
        return files

    async def _save(self, photo: Photo, files: dict[str, bytes]) -> None:
        """Write the photo's files and sidecar, all or nothing."""
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.files.write_photo,
                                                             files, photo)
        except OSError as exc:
            if exc.errno not in DISK_ERRORS:
                raise
            log.error("cannot store %s in %s: %s", photo.id, self.files.photos_dir, exc)
            raise StorageFull("The server could not save the photo: its disk is full or "
                              "not writable.") from None


def pixels(data: bytes) -> int:
    """How many pixels an image decodes to, from its header (0 if unreadable:
    the worker says why)."""
    try:
        info = probe(data)
    except ImageRejected:
        return 0
    return info.width * info.height


def _mtime(path: Path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

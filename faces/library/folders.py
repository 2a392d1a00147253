"""The library in place: folders of photos (``FACES_LIBRARY``, `faces library
add`) indexed where they are, watched, and never written to.

A photo is its content (its id is its bytes' hash); a file is one of its
places. A pass over a root (:mod:`.walk`) is compared with the places the
catalogue holds (:mod:`.catalogue_places`):

- a file whose size and modification time are unchanged is not read at all;
- a file at a new path whose size, modification time and fingerprint (a
  hash of its head and tail) are those of a place gone or offline is that
  file moved: its place moves, its photo, faces and names stay, nothing is
  detected again;
- any other new or changed file is read whole once it has stopped changing
  (``settle`` seconds), hashed, and either is a photo already known (one
  more place) or goes through the same workers as an upload, in the
  background, after uploads;
- a place whose file is gone is marked offline, never deleted; a pass that
  would mark more than ``HOLD_FILES`` files or ``HOLD_SHARE`` of a root
  offline is held until the user confirms.

Before a pass changes anything the root is checked (:mod:`.roots`): one
that is not there, not readable, on another device or empty while photos
came from it changes nothing, and says why. Local folders are watched
(inotify through ``watchfiles``: one watch per folder); network ones, which
send no events, are rescanned on a schedule, and every root is rescanned
now and then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import (
    BackendUnavailable,
    Conflict,
    FacesError,
    ImageRejected,
    NotFound,
    StorageFull,
)
from ..vision import metadata, tagging, xmp
from . import roots as checks
from .catalogue import Catalogue
from .catalogue_places import Place, Root
from .events import Events, LibraryChanged, PhotoChanged
from .files import Files
from .gallery import Gallery
from .records import content_id
from .walk import Seen, Walk, fingerprint, fingerprint_of, inside, sidecar_path, walk

log = logging.getLogger(__name__)

HOLD_FILES = 50  # a pass marking more files than this offline waits for the user...
HOLD_SHARE = 0.05  # ... or more than this share of a root's files
CHECK_EVERY = 10.0  # seconds between two looks at whether each root is still the same
PROGRESS_EVERY = 0.5  # seconds between two progress messages to the pages
MAX_FILE = 200 << 20  # bytes: a larger file is not read (no photo we take is that large)
MAX_SIDECAR = 4 << 20


@dataclass(frozen=True)
class FolderConfig:
    roots: tuple[str, ...] = ()  # FACES_LIBRARY
    min_size: int = 1024  # bytes: smaller files are skipped (icons, previews)
    settle: float = 2.0  # seconds a new or changed file must stay unchanged to be read
    rescan: float = 3600.0  # seconds between scheduled rescans of every root (0: never)
    watch: bool = True  # watch local roots for changes (inotify)

    @classmethod
    def from_settings(cls, settings: Any) -> FolderConfig:
        return cls(roots=tuple(folders_of(settings.library)),
                   min_size=settings.library_min_size, settle=settings.library_settle,
                   rescan=settings.library_rescan * 60, watch=settings.library_watch)


def folders_of(text: str) -> list[str]:
    """The folders of FACES_LIBRARY (separated as in PATH), absolute."""
    return [absolute(part) for part in text.split(os.pathsep) if part.strip()]


def absolute(path: str) -> str:
    """A folder as roots are named: absolute, ``~`` expanded, no trailing slash."""
    return os.path.abspath(os.path.expanduser(path)).rstrip("/") or "/"


@dataclass
class RootStatus:
    """What the pages and the API say about a root."""

    root: Root
    state: str = "waiting"  # "ok", "unavailable", "held", "waiting" (not scanned yet)
    why: str = ""
    watching: str = "off"  # "events", "scheduled", "off"
    scanning: bool = False
    done: int = 0  # files read in the pass under way
    total: int = 0  # files it has to read
    last_scan: str | None = None
    passes: int = 0  # passes over the whole root finished since start
    held: int = 0  # files a held pass would mark offline
    waiting: int = 0  # files still being written, looked at again once they settle
    photos: int = 0  # photos there, offline places and files that are no photo, as of
    offline: int = 0  # the last pass (counted off the event loop)
    problems: int = 0
    problem_files: list[tuple[str, str]] = field(default_factory=list)  # the first few
    folder_problems: dict[str, str] = field(default_factory=dict)
    confirmed: bool = False  # the user confirmed: the next pass may do what was held


@dataclass
class Pass:
    """What one pass over (a folder of) a root found to do."""

    put: list[Place] = field(default_factory=list)
    moved: list[tuple[int, str]] = field(default_factory=list)  # old places, (root, path)
    online: list[str] = field(default_factory=list)
    offline: list[str] = field(default_factory=list)
    read: list[Seen] = field(default_factory=list)  # files to read whole
    sidecars: list[tuple[Seen, Place]] = field(default_factory=list)  # (file, its place)
    waiting: int = 0  # files still being written (looked at again later)
    changed: set[str] = field(default_factory=set)  # photos whose places changed


class Folders:
    def __init__(self, catalogue: Catalogue, gallery: Gallery, files: Files, events: Events,
                 config: FolderConfig, workers: Callable[[], int] = lambda: 1) -> None:
        self.catalogue = catalogue
        self.gallery = gallery
        self.files = files
        self.events = events
        self.config = config
        self.workers = workers  # how many files may be in the workers at once
        self.status: dict[int, RootStatus] = {}
        self._pending: dict[int, set[str]] = {}  # folders asked to be looked at, by root
        self._runners: dict[int, asyncio.Task] = {}
        self._tasks: set[asyncio.Future] = set()
        self._later: dict[tuple[int, str], asyncio.TimerHandle] = {}
        self._watchers: dict[int, tuple[asyncio.Task, asyncio.Event]] = {}
        self._seen_root: dict[int, tuple[int, int] | None] = {}
        self._told = 0.0
        self._closed = False

    # -- roots -------------------------------------------------------------------

    async def start(self) -> None:
        """The roots of the settings known to the catalogue; each checked
        and scanned in the background, then watched."""
        for path in self.config.roots:
            await self.catalogue.write(self.catalogue.add_root, path, "settings")
        for root in self.catalogue.roots():
            self._open(root)
        self._spawn(self._monitor())

    def _open(self, root: Root) -> None:
        status = self.status[root.id] = RootStatus(root)
        configured = root.source == "added" or root.path in self.config.roots
        if not configured:
            status.state, status.why = "unavailable", (
                f"{root.path} is no longer in FACES_LIBRARY: its photos stay as they are "
                f"(`faces library remove {root.path}` forgets it)")
            return
        self.request(root.id, {""})

    def list(self) -> list[RootStatus]:
        return [self.status[root.id] for root in self.catalogue.roots()
                if root.id in self.status]

    def find(self, path: str) -> RootStatus:
        """The root at ``path``; raises NotFound."""
        wanted = absolute(path)
        for status in self.status.values():
            if status.root.path == wanted:
                return status
        raise NotFound("unknown_root", f"{wanted} is not a library folder.")

    async def add(self, path: str) -> RootStatus:
        """A folder added to the library (scanned at once). Raises
        BadRequest-like Conflict when it overlaps the data directory or
        another root."""
        wanted = absolute(path)
        real = os.path.realpath(wanted)
        data = os.path.realpath(self.files.data_dir)
        if not os.path.isdir(wanted):
            raise NotFound("no_folder", f"There is no folder at {wanted} on the server.")
        if inside(real, data) or inside(data, real):
            raise Conflict("overlaps_data", f"{wanted} holds or is inside the data directory "
                           f"{data}: choose a folder of photos outside it.")
        for status in self.status.values():
            other = os.path.realpath(status.root.path)
            if status.root.path != wanted and (inside(real, other) or inside(other, real)):
                raise Conflict("overlaps_root", f"{wanted} overlaps the library folder "
                               f"{status.root.path}.")
        root = await self.catalogue.write(self.catalogue.add_root, wanted, "added")
        if root.id not in self.status or self.status[root.id].state == "unavailable":
            self._open(root)
        self._tell()
        return self.status[root.id]

    async def remove(self, path: str) -> int:
        """Forget a root: it is no longer scanned or watched; its photos
        that are nowhere else leave the gallery. Returns how many left."""
        status = self.find(path)
        if status.root.path in self.config.roots:
            raise Conflict("root_in_settings", f"{status.root.path} is set in FACES_LIBRARY: "
                           f"take it out of the setting to remove it.")
        self._stop_watching(status.root.id)
        runner = self._runners.pop(status.root.id, None)
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
        self._pending.pop(status.root.id, None)
        gone = await self.catalogue.write(self.catalogue.remove_root, status.root.id)
        del self.status[status.root.id]
        for photo_id in gone:
            with contextlib.suppress(NotFound):
                await self.gallery.delete(photo_id, library=True)
        log.info("library folder %s removed: %d photos were only there", status.root.path,
                 len(gone))
        self._tell()
        return len(gone)

    async def confirm(self, path: str) -> RootStatus:
        """The user's yes to what a pass held back (files gone, a new
        device, an emptied folder): the next pass does it."""
        status = self.find(path)
        status.confirmed = True
        self.request(status.root.id, {""})
        return status

    def scan(self, path: str | None = None) -> list[RootStatus]:
        """Look at every root (or one) again now."""
        chosen = [self.find(path)] if path else list(self.status.values())
        for status in chosen:
            self.request(status.root.id, {""})
        return chosen

    # -- passes ---------------------------------------------------------------

    def request(self, root: int, folders: Iterable[str]) -> None:
        """Look at these folders of a root (and everything in them) soon."""
        if self._closed or root not in self.status:
            return
        self._pending.setdefault(root, set()).update(folders)
        runner = self._runners.get(root)
        if runner is None or runner.done():
            self.status[root].scanning = True
            self._runners[root] = asyncio.ensure_future(self._run(root))

    async def _run(self, root: int) -> None:
        try:
            while self._pending.get(root) and not self._closed:
                folders = _outermost(self._pending.pop(root))
                for folder in folders:
                    try:
                        await self._pass(root, folder)
                    except asyncio.CancelledError:
                        raise
                    except StorageFull as exc:
                        self._set(root, "unavailable", str(exc))
                        return
                    except Exception:  # (a bug: said, and the next pass tries again)
                        log.exception("a pass over %s failed", self.status[root].root.path)
        finally:
            if root in self.status:
                self.status[root].scanning = False
                self._tell(force=True)

    async def _pass(self, root_id: int, folder: str) -> None:
        loop = asyncio.get_running_loop()
        status = self.status[root_id]
        root = status.root
        photos, found = await loop.run_in_executor(None, self._check, root)
        confirmed = status.confirmed
        status.scanning = True
        if not found.ok and not (confirmed and (found.changed_device or found.empty)):
            status.confirmed = False  # (a yes is to what the user saw: asked again)
            self._set(root_id, "unavailable", found.why)
            self._stop_watching(root_id)
            return
        if found.device is not None and found.device != root.device:
            await self.catalogue.write(self.catalogue.set_device, root_id, found.device)
            root = status.root = Root(root.id, root.path, found.device, root.source)
        status.done, status.total = 0, 0
        if status.state in ("waiting", "unavailable"):
            status.state, status.why = "ok", ""
        self._tell()
        started = time.perf_counter()
        try:
            seen = await loop.run_in_executor(None, walk, Path(root.path), folder,
                                              self.config.min_size)
            work = await loop.run_in_executor(None, self._compare, root, folder, seen)
            status.folder_problems = {**{k: v for k, v in status.folder_problems.items()
                                         if not _inside_rel(k, folder)}, **seen.unreadable}
            for path, why in seen.unreadable.items():
                log.warning("library %s: %s %s", root.path, path or "(the folder itself)", why)
            status.total = len(work.read) + len(work.sidecars)
            gone = len(work.offline)
            share = gone / max(1, photos)
            # (one file gone is someone deleting a photo: never held)
            if (gone > HOLD_FILES or (gone > 1 and share > HOLD_SHARE)) and not confirmed:
                status.state, status.held = "held", gone
                status.why = (f"{gone} files of {root.path} are gone ({share:.0%} of its "
                              f"photos): nothing was marked offline. If that is right, "
                              f"confirm (`faces library confirm {root.path}`); if a disk "
                              f"or share is missing, mount it")
                log.warning("library: %s", status.why)
                work.offline, work.changed = [], set()
            elif status.state == "held" and not folder:  # (what was gone is back)
                status.state, status.why, status.held = "ok", "", 0
            if confirmed:
                status.confirmed, status.held = False, 0
                if status.state == "held":
                    status.state, status.why = "ok", ""
            await self.catalogue.write(self.catalogue.apply_scan, root_id, work.put,
                                       work.moved, work.online, work.offline)
            self._changed(work.changed)
            if work.offline:
                log.info("library %s: %d files gone, marked offline", root.path, gone)
            await self._read_all(root, work)
            await self._sidecars(root, work.sidecars)
            status.waiting = work.waiting
            if work.waiting:
                self.request_later(root_id, folder)
            await loop.run_in_executor(None, self._count, status)
        finally:
            status.passes += not folder
            status.last_scan = datetime.now().astimezone().isoformat(timespec="seconds")
            if status.state == "ok" and status.root.id in self.status and \
                    root_id not in self._watchers:
                self._watch(root_id)
            self._tell(force=True)
        did = (len(work.read), len(work.moved), len(work.online), len(work.offline))
        log.log(logging.INFO if any(did) or not folder else logging.DEBUG,
                "library %s%s: looked at in %.1f s (%d read, %d moved, %d back, %d gone)",
                root.path, f"/{folder}" if folder else "", time.perf_counter() - started, *did)

    def _check(self, root: Root) -> tuple[int, checks.Check]:
        """How many photo files the catalogue holds from a root, and whether
        the root may be scanned (on another thread: the count reads its places)."""
        with self.catalogue.reader() as reader:
            photos = reader.place_count(root.id)
        return photos, checks.check(Path(root.path), root.device, photos)

    def _compare(self, root: Root, folder: str, seen: Walk) -> Pass:
        """The files found against the places known (on another thread)."""
        work = Pass()
        with self.catalogue.reader() as reader:
            known = reader.places_under(root.id, folder)
            settled_before = time.time_ns() - int(self.config.settle * 1e9)
            blocked = list(seen.unreadable)
            vanished = {path: place for path, place in known.items()
                        if path not in seen.files and path not in seen.problems and
                        not any(_inside_rel(path, b) for b in blocked)}
            for path, why in seen.problems.items():
                place = known.get(path)
                if place is None or place.error != why:
                    log.warning("library %s: %s is not read: %s", root.path, path, why)
                    work.put.append(Place.problem(path, why))
            for path in list(vanished):
                if vanished[path].error is not None:  # (a bad file gone: nothing to keep)
                    work.moved.append((root.id, path))
                    del vanished[path]
            claimed: set[tuple[int, str]] = set()
            for path, file in seen.files.items():
                place = known.get(path)
                if place is not None and place.same_file(file.size, file.mtime_ns):
                    if place.error is not None:
                        continue  # (a bad file, unchanged: reported once)
                    if not place.online:
                        work.online.append(path)
                        work.changed.add(place.photo)
                    if place.sidecar != file.sidecar and place.photo:
                        work.sidecars.append((file, replace(place, sidecar=file.sidecar,
                                                            online=True)))
                    continue
                if file.mtime_ns > settled_before:
                    work.waiting += 1  # (still being written, maybe)
                    continue
                try:
                    print_ = fingerprint(Path(root.path) / path, file.size)
                except OSError as exc:
                    why = f"cannot be read: {exc.strerror or exc}"
                    if place is None or place.error != why:
                        log.warning("library %s: %s %s", root.path, path, why)
                        work.put.append(Place.problem(path, why, file.size, file.mtime_ns))
                    continue
                origin = self._moved_from(reader, root.id, file, print_, vanished, claimed)
                if origin is not None:
                    old_root, old = origin
                    claimed.add((old_root, old.path))
                    if old_root == root.id:
                        vanished.pop(old.path, None)
                    work.moved.append((old_root, old.path))
                    moved = Place(path, old.photo, file.size, file.mtime_ns, print_, True,
                                  old.sidecar, None)
                    work.put.append(moved)
                    work.changed.add(old.photo)
                    if old.sidecar != file.sidecar:
                        work.sidecars.append((file, replace(moved, sidecar=file.sidecar)))
                    continue
                work.read.append(file)
            for path, place in vanished.items():
                if place.online:
                    work.offline.append(path)
                    work.changed.add(place.photo)
        return work

    @staticmethod
    def _moved_from(reader: Catalogue, root: int, file: Seen, print_: str,
                    vanished: dict[str, Place], claimed: set[tuple[int, str]]
                    ) -> tuple[int, Place] | None:
        """The place a file at a new path was moved from: one gone in this
        pass, or offline, with its size, modification time and fingerprint."""
        for place_root, place in reader.with_print(file.size, print_):
            if (place_root, place.path) in claimed or place.mtime_ns != file.mtime_ns:
                continue
            if (place_root == root and place.path in vanished) or not place.online:
                return place_root, place
        return None

    async def _read_all(self, root: Root, work: Pass) -> None:
        """Read, hash and add the new and changed files, two per worker at
        once, after uploads."""
        queue = list(work.read)
        queue.reverse()

        async def reader() -> None:
            while queue and not self._closed:
                file = queue.pop()
                while self.gallery.adding:  # (uploads first)
                    await asyncio.sleep(0.1)
                await self._read_one(root, file, work)
                self.status[root.id].done += 1
                self._tell()

        # two files per worker: one in the worker while the other is read, hashed
        # and stored (the workers are never left waiting for the files)
        await asyncio.gather(*(reader() for _ in range(2 * max(1, self.workers()))))

    async def _read_one(self, root: Root, file: Seen, work: Pass) -> None:
        loop = asyncio.get_running_loop()
        full = Path(root.path) / file.path
        try:
            data, print_, sidecar = await loop.run_in_executor(None, _read, full, file)
        except _Changing:
            work.waiting += 1
            self.request_later(root.id, file.path.rpartition("/")[0])
            return
        except OSError as exc:
            await self._bad(root, file, f"cannot be read: {exc.strerror or exc}")
            return
        photo_id = await loop.run_in_executor(None, content_id, data, "")
        place = Place(file.path, photo_id, file.size, file.mtime_ns, print_, True,
                      file.sidecar, None)
        if self.catalogue.get(photo_id) is not None:  # (the same bytes, another place)
            await self.catalogue.write(self.catalogue.put_places, root.id, [place])
            self._changed({photo_id})
            return
        modified = datetime.fromtimestamp(file.mtime_ns / 1e9).isoformat(timespec="seconds")
        try:
            await self.gallery.add_from_folder(data, photo_id, full.name, sidecar, modified,
                                               (root.id, place))
        except ImageRejected as exc:
            await self._bad(root, file, exc.message)
            return
        except BackendUnavailable as exc:  # (busy, restarting: tried again later)
            log.warning("library %s: %s waits: %s", root.path, file.path, exc)
            self.request_later(root.id, file.path.rpartition("/")[0])
            return

    def request_later(self, root: int, folder: str) -> None:
        """Look at a folder again once what is being written there may have
        settled (one timer per folder)."""
        key = (root, folder)
        if key in self._later:
            return

        def due() -> None:
            self._later.pop(key, None)
            self.request(root, {folder})

        self._later[key] = asyncio.get_running_loop().call_later(
            max(self.config.settle, 0.5), due)

    async def _bad(self, root: Root, file: Seen, why: str) -> None:
        log.warning("library %s: %s is not read: %s", root.path, file.path, why)
        await self.catalogue.write(self.catalogue.put_places, root.id, [
            Place.problem(file.path, why, file.size, file.mtime_ns)])

    async def _sidecars(self, root: Root, files: list[tuple[Seen, Place]]) -> None:
        """Sidecars that appeared or changed beside files already known: the
        people they name put on the photo's faces, their date taken used
        (unless the user gave one)."""
        loop = asyncio.get_running_loop()
        for file, place in files:
            photo_id = place.photo
            name = sidecar_path(file)
            data = None
            if name:
                try:
                    data = await loop.run_in_executor(None, _small, Path(root.path) / name)
                except OSError as exc:
                    log.warning("library %s: the sidecar %s cannot be read: %s", root.path,
                                name, exc.strerror or exc)
            if data:
                await self._apply_sidecar(photo_id, data)
            await self.catalogue.write(self.catalogue.put_places, root.id, [place])
            self.status[root.id].done += 1

    async def _apply_sidecar(self, photo_id: str, data: bytes) -> None:
        photo = self.catalogue.get(photo_id)
        if photo is None:
            return
        tags, found = await asyncio.get_running_loop().run_in_executor(None, _sidecar_says,
                                                                       data)
        names = _names(photo, tags)
        if names and self.gallery.namer is not None:
            try:
                await self.gallery.namer(names)
            except FacesError as exc:
                log.error("the names in a sidecar of %s could not be stored: %s", photo_id,
                          exc)
        if found.taken and photo.taken_source != "user" and found.taken != photo.taken:
            await self.catalogue.write(self.catalogue.set_taken, photo_id, found.taken,
                                       found.taken_source)
        self.events.publish(PhotoChanged(self.catalogue.get(photo_id)))

    # -- watching ------------------------------------------------------------------

    def _watch(self, root_id: int) -> None:
        status = self.status[root_id]
        path = Path(status.root.path)
        if not self.config.watch or checks.is_network(path):
            status.watching = "scheduled" if self.config.rescan else "off"
            return
        stop = asyncio.Event()
        task = asyncio.ensure_future(self._watching(root_id, path, stop))
        self._watchers[root_id] = (task, stop)
        status.watching = "events"

    def _stop_watching(self, root_id: int) -> None:
        found = self._watchers.pop(root_id, None)
        if found is not None:
            found[1].set()
            found[0].cancel()
        if root_id in self.status:
            self.status[root_id].watching = "off"

    async def _watching(self, root_id: int, path: Path, stop: asyncio.Event) -> None:
        from watchfiles import awatch  # (its Rust extension only where folders are watched)
        try:
            async for changes in awatch(path, stop_event=stop, recursive=True,
                                        watch_filter=_interesting, debounce=400, step=100,
                                        ignore_permission_denied=True):
                folders = set()
                for _, changed in changes:
                    rel = os.path.relpath(changed, path)
                    if rel.startswith(".."):
                        continue
                    folders.add("" if rel == "." else rel.replace(os.sep, "/")
                                .rpartition("/")[0])
                if folders:
                    self.request(root_id, folders)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # (the folder went, or inotify refused)
            log.warning("library %s: no longer watched (%s); it is looked at every %.0f s "
                        "until it can be", path, exc, CHECK_EVERY)
        finally:
            if self._watchers.get(root_id, (None,))[0] is asyncio.current_task():
                del self._watchers[root_id]
                if root_id in self.status:
                    self.status[root_id].watching = "off"

    async def _monitor(self) -> None:
        """Every few seconds: has a root gone, come back, or been swapped
        (its folder another one)? Then look at it again. And the scheduled
        rescans."""
        loop = asyncio.get_running_loop()
        last_full = time.monotonic()
        while not self._closed:
            await asyncio.sleep(CHECK_EVERY)
            for root_id, status in list(self.status.items()):
                if status.state == "unavailable" and status.root.path not in \
                        self.config.roots and status.root.source != "added":
                    continue
                now = await loop.run_in_executor(None, _identity, status.root.path)
                before = self._seen_root.get(root_id)
                self._seen_root[root_id] = now
                if before is not None and now != before:
                    self._stop_watching(root_id)
                    self.request(root_id, {""})
                elif status.state == "unavailable" or (status.watching == "off" and
                                                       status.state == "ok"):
                    self.request(root_id, {""})
            if self.config.rescan and time.monotonic() - last_full >= self.config.rescan:
                last_full = time.monotonic()
                for root_id in list(self.status):
                    self.request(root_id, {""})

    # -- telling -------------------------------------------------------------------

    def _set(self, root_id: int, state: str, why: str) -> None:
        status = self.status[root_id]
        if why and (status.state, status.why) != (state, why):
            log.error("library folder %s: %s", status.root.path, why)
        status.state, status.why = state, why
        self._tell(force=True)

    def _changed(self, photo_ids: set[str]) -> None:
        """Photos whose places changed: told to the pages one by one, up to
        100 at once (a folder of thousands moved is not sent photo by photo:
        pages see the new places when they next load them)."""
        if len(photo_ids) <= 100:
            for photo_id in photo_ids:
                photo = self.catalogue.get(photo_id)
                if photo is not None:
                    self.events.publish(PhotoChanged(photo))

    def _tell(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._told >= PROGRESS_EVERY:
            self._told = now
            self.events.publish(LibraryChanged(self.list()))

    def _count(self, status: RootStatus) -> None:
        """A root's counts, on another thread (they read all its places)."""
        with self.catalogue.reader() as reader:
            photos, offline, problems = reader.root_counts(status.root.id)
            status.problem_files = reader.errors(status.root.id)
        status.photos, status.offline, status.problems = photos or 0, offline or 0, \
            problems or 0

    @property
    def busy(self) -> bool:
        """A pass is running or asked for, or files wait to settle."""
        return any(status.scanning or status.waiting for status in self.status.values()) or \
            any(self._pending.values()) or bool(self._later)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        self._closed = True
        for root_id in list(self._watchers):
            self._stop_watching(root_id)
        for task in [*self._runners.values(), *self._tasks, *self._later.values()]:
            task.cancel()


class _Changing(Exception):
    """The file changed while it was read."""


def _read(path: Path, file: Seen) -> tuple[bytes, str, bytes | None]:
    """A file's bytes (whole, and the same from start to end), its
    fingerprint and its sidecar's bytes."""
    if file.size > MAX_FILE:
        raise OSError(f"larger than {MAX_FILE >> 20} MB")
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE + 1)
        after = os.fstat(handle.fileno())
    if len(data) != file.size or after.st_mtime_ns != file.mtime_ns:
        raise _Changing()
    sidecar = None
    if file.sidecar_name:
        try:
            sidecar = _small(path.parent / file.sidecar_name)
        except OSError:
            sidecar = None
    return data, fingerprint_of(data), sidecar


def _sidecar_says(data: bytes) -> tuple[xmp.Tags, metadata.Metadata]:
    """A sidecar's face regions and names, and its dates."""
    return xmp.read(b"", data), metadata.read(b"", data)


def _small(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_SIDECAR)


def _names(photo: Any, tags: xmp.Tags | None) -> dict[int, str]:
    """The faces of a stored photo (face id -> name) a sidecar names, matched
    as at upload (:mod:`faces.vision.tagging`), in the photo's upright pixels."""
    if not tags:
        return {}
    regions = tagging.placed(tags, photo.orientation, photo.width, photo.height)
    names, _ = tagging.assign(regions, [tuple(face["box"]) for face in photo.faces])
    if not names and len(tags.names) == 1 and len(photo.faces) == 1:
        names = {0: tags.names[0]}
    return {photo.faces[n]["id"]: name for n, name in names.items()}


def _identity(path: str) -> tuple[int, int] | None:
    """A folder's device and inode (None: not there)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _interesting(change: Any, path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") or name == ".faces-ignore"


def _inside_rel(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder + "/")


def _outermost(folders: set[str]) -> list[str]:
    """The folders not inside another one of them."""
    found: list[str] = []
    for folder in sorted(folders, key=lambda f: (f.count("/"), f)):
        if not any(_inside_rel(folder, outer) for outer in found):
            found.append(folder)
    return found

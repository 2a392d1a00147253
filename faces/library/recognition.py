"""Recognition in the background: each stored photo's faces described by a
worker, then grouped into people (:meth:`People.group`).

Recognition never slows an upload: ``photo.added`` goes out when detection
is done, as before; the photo then waits in a queue (the backlog, oldest
first, also what a restart resumes: the catalogue marks photos done), and
a job is sent to the workers only while one of them is idle, a few faces at
a time, so an upload never waits long behind it. Its results go out
gathered, at most once a second: ``photos.recognized`` (the photos, with
their faces' people), the people they changed, and the backlog.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..backends import Backend
from ..errors import BackendUnavailable, CatalogueError, ModelError, StorageFull
from ..vision.contract import FaceDescription
from ..vision.jobs import DESCRIBE
from .catalogue import Catalogue
from .events import Events, PhotosRecognized, RecognitionState
from .files import DISK_ERRORS, Files
from .grouping import Changes, quality
from .people import People
from .records import Described, Photo, crop_name

log = logging.getLogger(__name__)

FACES_PER_JOB = 8  # about 0.6 s of one worker: an upload waits at most that long
MAX_PREPARED = 2000  # photos whose descriptions wait in memory for their turn (~10 KB each)
# Background recognition's own changes (people, faces, the backlog) go out
# gathered, at most this often: with a thousand pages open, one event per
# recognized photo and kind was thousands of WebSocket writes a second.
# The user's own edits go out at once.
GATHER_SECONDS = 1.0
IDLE_POLL = 0.05  # seconds between looks for an idle worker
# A photo whose results cannot be written (a full disk, a locked or read-only
# catalogue) is tried again after these many seconds, doubling up to the last.
STALL_RETRY = (2.0, 60.0)


@dataclass(frozen=True)
class RecognitionConfig:
    enabled: bool
    min_face: int = 50  # faces at least this many pixels high are recognized
    max_faces: int = 50  # per photo, largest first
    max_pixels: int = 50_000_000

    @classmethod
    def from_settings(cls, settings: object, enabled: bool) -> RecognitionConfig:
        return cls(enabled=enabled, min_face=settings.recognition_min_face,
                   max_faces=settings.recognition_max_faces, max_pixels=settings.max_pixels)


def eligible(photo: Photo, config: RecognitionConfig, added: set[int] = frozenset()
             ) -> list[dict]:
    """The photo's faces that get a descriptor: with landmarks, large
    enough, the largest ``max_faces`` of them; and every face the user
    added by hand (``added``)."""
    faces = [f for f in photo.faces if f.get("landmarks") and (
        f["box"][3] - f["box"][1] >= config.min_face or f.get("id") in added)]
    faces.sort(key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1]),
               reverse=True)
    chosen = faces[: config.max_faces]
    return chosen + [f for f in faces[config.max_faces:] if f.get("id") in added]


class Recognition:
    def __init__(self, files: Files, catalogue: Catalogue, backend: Backend | None,
                 people: People, events: Events, config: RecognitionConfig) -> None:
        self.files = files
        self.catalogue = catalogue
        self.backend = backend
        self.people = people
        self.events = events
        self.config = config
        self.queue: deque[str] = deque()
        self.busy: str | None = None  # the photo being recognized now
        # photo -> face id -> description made in its own detection job
        self.prepared: dict[str, dict[int, FaceDescription]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.failed: str = ""  # why recognition stopped, if it did
        self.stalled: str = ""  # why its results cannot be written now, if so
        self.off: str = "" if config.enabled else "recognition is off"  # why it is off
        self.family: str = ""  # the recognizer family describing faces
        self.redescribing = 0  # photos queued again for a new recognizer
        self._gathered = Changes()  # changes not announced yet
        self._recognized: list[str] = []  # photos recognized, not announced yet
        self._told: tuple[str, int, int] = ("", -1, -1)
        self._flush: asyncio.TimerHandle | None = None
        self.uploading: Callable[[], bool] = lambda: False  # uploads in progress (they go first)
        self._telling: asyncio.Future | None = None  # the last gathered announcement

    # -- life cycle ------------------------------------------------------------

    def load(self, family: str, off: str = "") -> None:
        """Queue the photos not recognized yet, with ``family`` the recognizer
        the workers run (``off``: why there is none). Faces another
        recognizer described are queued again (what the user decided of
        them stays)."""
        self.family = family
        if off or not family:
            self.off = off or self.off or "no recognizer"
            self.config = RecognitionConfig(enabled=False)
        if not self.config.enabled:
            log.info("recognition is off: %s", self.off)
            return
        self.off = ""
        stale = self.catalogue.stale(family)
        if stale:
            self.redescribing = self.catalogue.redescribe(family)
            log.warning("the recognizer is now %s: %d photos' faces are described again in "
                        "the background (names, hidden people and faces placed by hand stay)",
                        family, self.redescribing)
        self.queue.extend(self.catalogue.waiting())
        log.info("recognition: %s, %d photos waiting", family, len(self.queue))

    def start(self, family: str, off: str = "") -> None:
        self.load(family, off)
        self.run()

    def run(self) -> None:
        """Recognize the queue in the background (from the event loop)."""
        if self.config.enabled and self._task is None:
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._flush is not None:
            self._flush.cancel()

    @property
    def all_told(self) -> bool:
        """Whether every change recognition made has been told to the pages
        (none gathered and waiting, none being read out on the writer)."""
        return self._flush is None and (self._telling is None or self._telling.done())

    @property
    def backlog(self) -> int:
        """Photos waiting for recognition (the one in progress included)."""
        return len(self.queue) + (self.busy is not None)

    @property
    def state(self) -> str:
        """"on", "off" (not configured), "stopped" (for good: the recognizer
        failed) or "stalled" (its results cannot be written now; it goes on
        by itself once they can)."""
        if not self.config.enabled:
            return "off"
        return "stopped" if self.failed else "stalled" if self.stalled else "on"

    @property
    def why(self) -> str:
        """Why recognition is off, stopped or stalled ("" while it is on)."""
        return self.failed or self.stalled or self.off

    # -- photos come and go ----------------------------------------------------

    def wants(self, photo: Photo) -> bool:
        """Whether a photo has faces to describe (decided where its faces
        are known, as it is stored: one without costs recognition nothing).
        With recognition off, every photo waits for the day it is on (its
        settings are known then)."""
        return not self.config.enabled or bool(eligible(photo, self.config))

    def describing(self) -> tuple[int, int] | None:
        """What a new photo's job should describe along with detecting it
        (its min face height and faces per photo), while recognition runs
        with a known recognizer; None: nothing (recognition describes it
        later, in a job of its own)."""
        if not self.config.enabled or not self.family or self.failed:
            return None
        return self.config.min_face, self.config.max_faces

    def prepare(self, photo: Photo, described: dict[int, FaceDescription]) -> None:
        """Descriptions made in a new photo's own job (face position ->
        description): kept until the photo's turn comes, when they are used
        instead of a job."""
        if not self.config.enabled or len(self.prepared) >= MAX_PREPARED:
            return
        by_id = {photo.faces[n]["id"]: found for n, found in described.items()
                 if n < len(photo.faces) and found.family == self.family}
        if by_id:
            self.prepared[photo.id] = by_id

    def photo_added(self, photo: Photo) -> None:
        """A new photo, or one with a face drawn on it (described again even
        when it is the one being described now)."""
        if self.catalogue.is_recognized(photo.id):
            return  # (stored as done: it has nothing to describe)
        if self.config.enabled and not self.failed and photo.id not in self.queue:
            self.queue.append(photo.id)
            self._wake.set()
            self._later()

    def photo_deleted(self, photo: Photo) -> None:
        self.prepared.pop(photo.id, None)
        if photo.id in self.queue:
            self.queue.remove(photo.id)

    # -- the background queue -------------------------------------------------

    async def _run(self) -> None:
        wait = STALL_RETRY[0]
        while True:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            photo_id = self.queue.popleft()
            self.busy = photo_id
            try:
                await self.recognize(photo_id)
                if self.stalled:
                    log.warning("recognition goes on: its results can be written again")
                    self.stalled, wait = "", STALL_RETRY[0]
            except (StorageFull, CatalogueError) as exc:  # the disk, the catalogue: wait
                if not self.stalled:
                    log.error("recognition is stalled: %s It goes on by itself once this "
                              "is put right.", exc)
                    wait = STALL_RETRY[0]
                self.stalled = str(exc)
                self.queue.appendleft(photo_id)
                self.busy = None
                self._later()
                await asyncio.sleep(wait)
                wait = min(2 * wait, STALL_RETRY[1])
            except BackendUnavailable as exc:  # workers restarting: try again soon
                log.warning("recognition of %s postponed: %s", photo_id, exc)
                self.queue.appendleft(photo_id)
                await asyncio.sleep(1.0)
            except ModelError as exc:
                self.failed = str(exc)
                log.error("recognition stopped: %s", exc)
                self.queue.appendleft(photo_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recognition of photo %s failed; it is left out of People",
                              photo_id)
                await self.catalogue.write(self.catalogue.recognized, photo_id, {})
            finally:
                self.busy = None
                self._later()

    async def _idle_worker(self) -> None:
        """Wait until no upload is being detected and a worker has nothing
        to do: uploads go first, always."""
        while self.uploading() or self.backend.pending >= self.backend.workers:
            await asyncio.sleep(IDLE_POLL)

    async def recognize(self, photo_id: str) -> None:
        """Describe a stored photo's faces (those not described by this
        recognizer yet), group them, tell every page."""
        photo = self.catalogue.get(photo_id)
        if photo is None:
            return
        state = self.catalogue.description_state(photo_id)
        added = {face for face, (_, _, _, was_added) in state.items() if was_added}
        faces = [f for f in eligible(photo, self.config, added)
                 if state[f["id"]][0] != self.family]
        described: dict[int, Described] = {}
        ready = self.prepared.pop(photo_id, {})
        while ready and self.uploading():  # (uploads first, even with no job to run)
            await asyncio.sleep(IDLE_POLL)
        if faces:
            loop = asyncio.get_running_loop()
            # (the faces described in the photo's own job first: no job for them)
            faces.sort(key=lambda f: f["id"] not in ready)
            data = None
            for start in range(0, len(faces), FACES_PER_JOB):
                chunk = faces[start:start + FACES_PER_JOB]
                wanted = [f for f in chunk if f["id"] not in ready]
                chunk = [f for f in chunk if f["id"] in ready] + wanted
                results: list[FaceDescription] = [ready[f["id"]] for f in chunk
                                                  if f["id"] in ready]
                if wanted:
                    if data is None:
                        data = await loop.run_in_executor(None, self.files.read_display,
                                                          photo)
                    await self._idle_worker()
                    results += await self.backend.run(
                        DESCRIBE, data, [{"box": f["box"], "landmarks": f["landmarks"]}
                                         for f in wanted], self.config.max_pixels,
                        pixels=photo.width * photo.height)
                scores = quality(self.family, [r.norm for r in results],
                                 np.array([f["landmarks"] for f in chunk], np.float32))
                for face, result, score in zip(chunk, results, scores, strict=True):
                    if result.family != self.family:
                        raise ModelError(f"a worker describes faces with {result.family}, "
                                         f"not {self.family}: restart every worker with the "
                                         f"same FACES_RECOGNITION_MODEL")
                    name = crop_name(photo_id, face["id"])
                    try:
                        await loop.run_in_executor(None, self.files.write_crop, name,
                                                   result.crop)
                    except OSError as exc:
                        if exc.errno not in DISK_ERRORS:
                            raise
                        raise StorageFull(f"A face's crop could not be written in "
                                          f"{self.files.crops_dir}: {exc.strerror}.") from None
                    described[face["id"]] = Described(result.vector, float(score),
                                                      self.family, name)
        if self.catalogue.get(photo_id) is None:  # deleted meanwhile: its crops go too
            self.files.remove_crops([d.crop for d in described.values()])
            return
        placed = {face: (person, pinned) for face, (_, person, pinned, _) in state.items()}
        changes = await self.people.recognized(photo_id, described, placed)
        if self.redescribing:
            self.redescribing = max(0, self.redescribing - 1)
        self._recognized.append(photo_id)
        self._later(changes)

    # -- telling, gathered ----------------------------------------------------

    def _later(self, changes: Changes | None = None) -> None:
        """Announce recognition's changes and the backlog soon, gathered."""
        if changes:
            gathered = self._gathered
            gathered.faces.update(changes.faces)
            gathered.created += changes.created
            gathered.emptied += changes.emptied
            gathered.left |= changes.left
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(GATHER_SECONDS,
                                                               self._announce)

    def _announce(self) -> None:
        self._flush = None
        gathered, self._gathered = self._gathered, Changes()
        recognized, self._recognized = self._recognized, []
        photos = [photo for photo in map(self.catalogue.get, recognized) if photo is not None]
        if photos:
            self.events.publish(PhotosRecognized(photos))
        if gathered:
            self._telling = asyncio.ensure_future(self._tell(gathered, set(recognized)))
        else:
            self._tell_state()

    async def _tell(self, gathered: Changes, recognized: set[str]) -> None:
        try:
            await self.people.announce(gathered, told=recognized)
        finally:
            self._tell_state()

    def _tell_state(self) -> None:
        state = (self.state, self.backlog, self.redescribing)
        if state != self._told:
            self._told = state
            self.events.publish(RecognitionState(*state))

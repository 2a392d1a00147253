"""The local backend: spawn-started worker processes on this machine, each
its own one-process ``ProcessPoolExecutor`` (a *slot*). Each worker loads
the models once and is warmed before the server reports ready.

A slot per worker is what keeps one photo's trouble its own: a pool of
several processes breaks as a whole when one of them dies, failing every
job in it, and a hung job can only be stopped by killing them all. Here a
worker that dies costs only the job it had, which is run once more on a
fresh worker (then failed: it may be the photo that kills it); a job past
its time limit has only its own worker killed and replaced; every other
job goes on. Jobs wait for a free worker in arrival order, up to a bounded
queue. Memory is bounded two ways: jobs are admitted by the pixels they
decode (``pixel_budget`` in flight at once: two 49-megapixel photos go one
after the other, a small one passes beside a large one), and a worker whose
memory has grown past a budget (``recycle_mb``) is replaced after its job,
warm before it takes the next.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..errors import BackendBusy, BackendUnavailable, JobTimeout, ModelError
from ..vision import worker
from ..vision.worker import WorkerConfig, WorkerInfo
from .base import Backend

log = logging.getLogger(__name__)

RETRIES = 1  # a job whose worker died is run again this many times
REWARM_DELAY = 5.0  # seconds between attempts to start a replacement that failed


def rss_mb(pid: int) -> float:
    """A process's resident memory in MB (0 if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class Slot:
    """One worker process, in a ``ProcessPoolExecutor`` of its own."""

    def __init__(self, config: WorkerConfig) -> None:
        self.executor = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.start_process, initargs=(config,))
        self.pid = 0
        self.jobs = 0
        self.pixels = 0  # the decoded size of the photo it works on now (0: none, or unknown)

    def stop(self, kill: bool = False) -> None:
        if kill and self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.executor.shutdown(wait=False, cancel_futures=True)


class _WorkerDied(Exception):
    pass


class LocalBackend(Backend):
    def __init__(self, config: WorkerConfig, workers: int, timeout: float = 30.0,
                 max_queue: int = 32, recycle_mb: float = 0.0, pixel_budget: int = 0) -> None:
        self.config = config
        self.size = workers
        self.timeout = timeout
        self.max_queue = max_queue
        self.recycle_mb = recycle_mb  # 0: never
        self.pixel_budget = pixel_budget  # decoded pixels in flight at once (0: no limit)
        self._pixels = 0  # decoded pixels of the jobs admitted now
        self._admitting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self.ready = False
        self.pending = 0  # jobs running or waiting
        self.restarts = 0
        self.recycled = 0
        self._slots: list[Slot] = []  # every warm worker, busy or not
        self._idle: list[Slot] = []
        self._waiting: deque[asyncio.Future[Slot]] = deque()
        self._tasks: set[asyncio.Future] = set()  # replacements being warmed
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> LocalBackend:
        values = {"config": WorkerConfig.from_settings(settings),
                  "workers": settings.worker_count, "timeout": settings.detect_timeout,
                  "max_queue": settings.max_queue,
                  "recycle_mb": settings.worker_recycle_mb,
                  "pixel_budget": int(settings.max_megapixels_in_flight * 1e6), **overrides}
        return cls(**values)

    @property
    def workers(self) -> int:
        """Warm workers (fewer than configured while one is being replaced)."""
        return len(self._slots) if self.ready else 0

    def worker_pids(self) -> list[int]:
        return [slot.pid for slot in self._slots if slot.pid]

    # -- starting and replacing workers -------------------------------------------

    async def _warm(self, slot: Slot) -> WorkerInfo:
        loop = asyncio.get_running_loop()
        about = await loop.run_in_executor(slot.executor, worker.warm_process)
        slot.pid = about.pid
        return about

    async def start(self) -> None:
        """Start every worker, load the models in each and run one detection."""
        self._closed = False
        slots = [Slot(self.config) for _ in range(self.size)]
        try:
            started = await asyncio.gather(*(self._warm(slot) for slot in slots))
        except BaseException:
            for slot in slots:
                slot.stop(kill=True)
            raise
        self.info = about = started[0]
        self._slots = list(slots)
        for slot in slots:
            self._release(slot)
        log.info("detector pool ready: %d workers, %s %s, first pass %s (pids %s); %s",
                 self.size, about.family, about.precision, about.first_pass or "fixed",
                 ", ".join(str(pid) for pid in sorted(s.pid for s in started)),
                 about.precision_reason or about.precision)
        self.ready = True

    def _replace(self, slot: Slot, kill: bool, why: str) -> None:
        """Take ``slot`` out and start a fresh worker in its place (it takes
        jobs once warm)."""
        if slot in self._slots:
            self._slots.remove(slot)
        slot.stop(kill=kill)
        log.warning("replacing detector worker %s: %s", slot.pid or "(starting)", why)
        task = asyncio.ensure_future(self._rewarm())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _rewarm(self) -> None:
        while not self._closed:
            fresh = Slot(self.config)
            try:
                await self._warm(fresh)
            except (ModelError, BrokenProcessPool, OSError) as exc:
                fresh.stop(kill=True)
                log.error("a replacement detector worker did not start (%s); trying again "
                          "in %.0f s", exc, REWARM_DELAY)
                await asyncio.sleep(REWARM_DELAY)
                continue
            except asyncio.CancelledError:
                fresh.stop(kill=True)
                raise
            if self._closed:
                fresh.stop(kill=True)
                return
            self._slots.append(fresh)
            self._release(fresh)
            return

    # -- handing out workers --------------------------------------------------------

    async def _acquire(self) -> Slot:
        if self._idle:
            return self._idle.pop()
        waiter: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        return await waiter

    def _release(self, slot: Slot) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._idle.append(slot)

    # -- running jobs -------------------------------------------------------------------

    async def _admit(self, pixels: int) -> None:
        """Wait until ``pixels`` more fit in the budget (in arrival order; a
        job alone always fits)."""
        if not (self.pixel_budget and pixels):
            return
        if self._admitting or (self._pixels and self._pixels + pixels > self.pixel_budget):
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._admitting.append((pixels, turn))
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._admitted(-pixels)  # (admitted just as it was cancelled)
                else:
                    self._admitting = deque(e for e in self._admitting if e[1] is not turn)
                raise
        else:
            self._pixels += pixels

    def _admitted(self, change: int) -> None:
        """The pixels in flight changed by ``change``: admit whoever now fits."""
        self._pixels += change
        while self._admitting:
            pixels, turn = self._admitting[0]
            if turn.cancelled():
                self._admitting.popleft()
                continue
            if self._pixels and self._pixels + pixels > self.pixel_budget:
                return
            self._admitting.popleft()
            self._pixels += pixels
            turn.set_result(None)

    async def run(self, job: str, *args: Any, pixels: int = 0) -> Any:
        if self._closed or (not self._slots and not self._tasks):
            raise BackendUnavailable("the detector pool is not running")
        if self.pending >= self.size + self.max_queue:
            raise BackendBusy("the detector is busy")
        # Alone, a detection may spread over several threads; with company,
        # each job keeps to one, as that gets the most photos through.
        threads = self.config.solo_threads if self.pending == 0 else 1
        self.pending += 1
        admitted = False
        try:
            await self._admit(pixels)
            admitted = True
            for attempt in range(RETRIES + 1):
                try:
                    return await self._run_once(threads, job, args, pixels)
                except _WorkerDied:
                    if attempt == RETRIES:
                        raise BackendUnavailable(
                            "a detector worker stopped unexpectedly, twice, while processing "
                            "this photo") from None
                    log.warning("a detector worker died during a job; running it again on "
                                "another worker")
                threads = 1
        finally:
            self.pending -= 1
            if admitted and self.pixel_budget and pixels:
                self._admitted(-pixels)

    async def _run_once(self, threads: int, job: str, args: tuple, pixels: int = 0) -> Any:
        slot = await self._acquire()
        if self._closed:
            raise BackendUnavailable("the detector pool is shutting down")
        loop = asyncio.get_running_loop()
        slot.pixels = pixels
        try:
            future = loop.run_in_executor(slot.executor, worker.run_in_process, threads, job,
                                          *args)
            result = await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            log.error("a job ran past %.0fs; its worker is stopped", self.timeout)
            self.restarts += 1
            self._replace(slot, kill=True, why="a job ran past its time limit")
            raise JobTimeout("the photo took too long to process") from None
        except BrokenProcessPool:
            self.restarts += 1
            self._replace(slot, kill=False, why=f"it died working on a photo of "
                          f"{pixels / 1e6:.1f} megapixels" if pixels else "it died")
            raise _WorkerDied() from None
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Our caller was cancelled: the job may still be running; its
                # worker is stopped so it cannot take another meanwhile.
                self._replace(slot, kill=True, why="its job was abandoned")
                raise
            # The worker's executor was shut down under the job (the server is stopping).
            raise BackendUnavailable("the detector pool is shutting down") from None
        except BaseException:
            self._after(slot)  # the job's own error: the worker is fine
            raise
        self._after(slot)
        return result

    def _after(self, slot: Slot) -> None:
        """A job is done on ``slot``: hand it on, or replace it if it has
        grown past the memory budget."""
        slot.jobs += 1
        slot.pixels = 0
        if self._closed:
            return
        if self.recycle_mb and slot.pid and rss_mb(slot.pid) > self.recycle_mb:
            self.recycled += 1
            self._replace(slot, kill=False,
                          why=f"its memory grew past {self.recycle_mb:.0f} MB")
            return
        self._release(slot)

    def shutdown(self) -> None:
        self.ready = False
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(BackendUnavailable("the detector pool is shutting down"))
        for slot in self._slots:
            slot.executor.shutdown(wait=True, cancel_futures=True)
        self._slots, self._idle = [], []

"""The detector process pool: spawn-started workers, each loading the model
once, warmed before the server reports ready, with a bounded queue, a time
limit per job, and rebuilt by itself if a worker dies or hangs."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from . import pipeline

log = logging.getLogger(__name__)


class PoolUnavailable(Exception):
    """The pool could not run a job (a worker died, or it is shut down)."""


class PoolBusy(PoolUnavailable):
    """Too many jobs are already waiting."""


class JobTimeout(PoolUnavailable):
    """A job ran past the time limit; its worker was replaced."""


def _exit_with_parent(parent: int) -> None:
    """Stop this worker once the server process is gone, even after a SIGKILL
    or an out-of-memory kill, so no worker (and its model) is left behind."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def init_worker(*args: Any) -> None:
    """Pool initializer: watch the parent process, then load the model."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()
    pipeline.init_worker(*args)


class DetectorPool:
    def __init__(self, model_path: str | os.PathLike, workers: int, det_size: int,
                 max_pixels: int, timeout: float = 30.0, max_queue: int = 32,
                 solo_threads: int = 1) -> None:
        self.model_path = str(model_path)
        self.workers = workers
        self.det_size = det_size
        self.max_pixels = max_pixels
        self.timeout = timeout
        self.max_queue = max_queue
        self.solo_threads = solo_threads  # threads for a job that has the pool to itself
        self.ready = False
        self.pending = 0  # jobs running or waiting
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        # Read by OpenCV when a worker imports cv2: a second guard behind our
        # own header check, far below OpenCV's default of 2**30 pixels.
        os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(self.max_pixels)
        context = multiprocessing.get_context("spawn")
        # Warm-up jobs meet at this barrier, so each one runs in its own worker.
        barrier = context.Barrier(self.workers)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=init_worker,
            initargs=(self.model_path, self.det_size, barrier, self.solo_threads),
        )

    async def start(self) -> None:
        """Start every worker, load the model in each and run one detection."""
        self._executor = self._new_executor()
        await self.warm()

    async def warm(self) -> None:
        loop = asyncio.get_running_loop()
        executor = self._executor
        assert executor is not None
        pids = await asyncio.gather(
            *(loop.run_in_executor(executor, pipeline.warm) for _ in range(self.workers)))
        log.info("detector pool ready: %d workers (pids %s)", self.workers,
                 ", ".join(str(p) for p in sorted(set(pids))))
        self.ready = True

    def worker_pids(self) -> list[int]:
        executor = self._executor
        # ProcessPoolExecutor keeps its processes in a private dict; reading it
        # is the only way to stop a hung worker.
        processes = getattr(executor, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid]

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker; exceptions from ``fn`` propagate.

        Raises PoolBusy when the queue is full, JobTimeout past the time limit,
        and PoolUnavailable when a worker died (the pool is rebuilt at once).
        """
        if self._executor is None:
            raise PoolUnavailable("the detector pool is not running")
        if self.pending >= self.workers + self.max_queue:
            raise PoolBusy("the detector is busy")
        executor = self._executor
        # Alone, a detection may spread over several threads; with company,
        # each job keeps to one, as that gets the most photos through.
        threads = self.solo_threads if self.pending == 0 else 1
        self.pending += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, pipeline.job, threads, fn, *args)
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            log.error("a detection ran past %.0fs; replacing the workers", self.timeout)
            self._rebuild(executor, kill=True)
            raise JobTimeout("the photo took too long to process") from None
        except BrokenProcessPool:
            log.error("a detector worker died; rebuilding the pool")
            self._rebuild(executor)
            raise PoolUnavailable("a detector worker stopped unexpectedly") from None
        finally:
            self.pending -= 1

    def _rebuild(self, broken: ProcessPoolExecutor, kill: bool = False) -> None:
        if self._executor is not broken:
            return  # another job already rebuilt it
        if kill:
            for pid in self.worker_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        broken.shutdown(wait=False, cancel_futures=True)
        self.restarts += 1
        self._executor = self._new_executor()

    def shutdown(self) -> None:
        self.ready = False
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

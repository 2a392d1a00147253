"""The local backend: a spawn-started process pool on this machine. Each
worker loads the model once, all are warmed before the server reports
ready; the queue is bounded, each job has a time limit, and the pool
rebuilds itself if a worker dies or hangs."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..errors import BackendBusy, BackendUnavailable, JobTimeout
from ..vision import worker
from ..vision.worker import WorkerConfig
from .base import Backend

log = logging.getLogger(__name__)


class LocalBackend(Backend):
    def __init__(self, config: WorkerConfig, workers: int, timeout: float = 30.0,
                 max_queue: int = 32) -> None:
        self.config = config
        self.size = workers
        self.timeout = timeout
        self.max_queue = max_queue
        self.ready = False
        self.pending = 0  # jobs running or waiting
        self.restarts = 0
        self._executor: ProcessPoolExecutor | None = None

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> LocalBackend:
        values = {"config": WorkerConfig.from_settings(settings),
                  "workers": settings.worker_count, "timeout": settings.detect_timeout,
                  "max_queue": settings.max_queue, **overrides}
        return cls(**values)

    @property
    def workers(self) -> int:
        return self.size if self.ready else 0

    def _new_executor(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        # Warm-up jobs meet at this barrier, so each one runs in its own worker.
        barrier = context.Barrier(self.size)
        return ProcessPoolExecutor(max_workers=self.size, mp_context=context,
                                   initializer=worker.start_process,
                                   initargs=(self.config, barrier))

    async def start(self) -> None:
        """Start every worker, load the model in each and run one detection."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        try:
            started = await asyncio.gather(*(
                loop.run_in_executor(self._executor, worker.warm_process)
                for _ in range(self.size)))
        except BaseException:
            self.shutdown()
            raise
        self.info = about = started[0]
        log.info("detector pool ready: %d workers, %s %s, first pass %s (pids %s); %s",
                 self.size, about.family, about.precision, about.first_pass or "fixed",
                 ", ".join(str(pid) for pid in sorted(s.pid for s in started)),
                 about.precision_reason or about.precision)
        self.ready = True

    def worker_pids(self) -> list[int]:
        executor = self._executor
        # ProcessPoolExecutor keeps its processes in a private dict; reading it
        # is the only way to stop a hung worker.
        processes = getattr(executor, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid]

    async def run(self, job: str, *args: Any) -> Any:
        if self._executor is None:
            raise BackendUnavailable("the detector pool is not running")
        if self.pending >= self.size + self.max_queue:
            raise BackendBusy("the detector is busy")
        executor = self._executor
        # Alone, a detection may spread over several threads; with company,
        # each job keeps to one, as that gets the most photos through.
        threads = self.config.solo_threads if self.pending == 0 else 1
        self.pending += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, worker.run_in_process, threads, job, *args)
            return await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            log.error("a detection ran past %.0fs; replacing the workers", self.timeout)
            self._rebuild(executor, kill=True)
            raise JobTimeout("the photo took too long to process") from None
        except BrokenProcessPool:
            log.error("a detector worker died; rebuilding the pool")
            self._rebuild(executor)
            raise BackendUnavailable("a detector worker stopped unexpectedly") from None
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

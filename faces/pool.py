"""The detector process pool: spawn-started workers, each loading the model
once, warmed before the server reports ready, rebuilt if a worker dies."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from . import pipeline

log = logging.getLogger(__name__)


class PoolUnavailable(Exception):
    """The pool could not run a job (a worker died, or it is shut down)."""


class DetectorPool:
    def __init__(self, model_path: str | os.PathLike, workers: int, det_size: int,
                 max_pixels: int) -> None:
        self.model_path = str(model_path)
        self.workers = workers
        self.det_size = det_size
        self.max_pixels = max_pixels
        self.ready = False
        self._executor: ProcessPoolExecutor | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        # Read by OpenCV when a worker imports cv2: a second guard behind our
        # own header check, far below OpenCV's default of 2**30 pixels.
        os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(self.max_pixels)
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=pipeline.init_worker,
            initargs=(self.model_path, self.det_size),
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

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a worker; exceptions from ``fn`` propagate."""
        if self._executor is None:
            raise PoolUnavailable("the detector pool is not running")
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            log.error("a detector worker died; rebuilding the pool")
            self._rebuild(executor)
            raise PoolUnavailable("a detector worker stopped unexpectedly") from None

    def _rebuild(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is not broken:
            return  # another job already rebuilt it
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    def shutdown(self) -> None:
        self.ready = False
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

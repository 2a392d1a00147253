"""The worker side of every backend: one :class:`Worker` object per worker
process holds what it keeps between jobs (the detector sessions and the
recognizer); jobs (:mod:`faces.vision.jobs`) are called with it.

This module is light (numpy, OpenCV and onnxruntime are imported by
:class:`Worker` itself), so the server process can start workers without
loading any of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ModelError
from .jobs import call

TRIM_ABOVE_MB = 64  # memory past the worker's at rest after which a job gives it back

if TYPE_CHECKING:
    from .detectors.base import Detector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """What a worker needs to load its detector (picklable, sent at start)."""

    model: str
    detector: str = "auto"  # family, or "auto" to identify it from the file
    precision: str = "auto"  # auto, fp32 or int8
    model_cache: str = ""  # where the int8 copy is kept ("": beside the model)
    det_size: int = 0  # first pass's long side (0: by precision)
    detail_scale: float = 0.0  # the detail pass, a multiple of the first (1: none; 0: by precision)
    solo_threads: int = 1  # threads for a job that has the workers to itself
    max_pixels: int = 50_000_000
    recognition_model: str = ""  # the face recognizer (People), loaded on first use
    recognizer: str = "auto"  # its family, or "auto" to identify it from the file

    @classmethod
    def from_settings(cls, settings: Any) -> WorkerConfig:
        return cls(model=str(settings.model), detector=settings.detector,
                   precision=settings.precision, model_cache=settings.model_cache,
                   det_size=settings.det_size, detail_scale=settings.detail_scale,
                   solo_threads=settings.solo_thread_count, max_pixels=settings.max_pixels,
                   recognition_model=str(settings.recognition_model),
                   recognizer=settings.recognizer)

    def load(self, family: str, threads: int, lean: bool = False) -> Detector:
        from . import detectors

        return detectors.load(self.model, family, threads=threads, det_size=self.det_size,
                              lean=lean, precision=self.precision, cache=self.model_cache,
                              detail_scale=self.detail_scale)


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker loaded, as the server reports it."""

    pid: int
    family: str
    model: str  # the configured model file's name
    default_score: float  # the family's own score threshold (what 0 means)
    precision: str  # "fp32" or "int8"
    precision_reason: str
    first_pass: int  # long side of the first pass (0: the model's fixed input)
    detail_pass: int  # long side of the detail pass for large photos (0: none)
    recognizer: str = ""  # the recognizer family People's jobs use ("": none usable)
    recognizer_error: str = ""  # why there is none
    # no recognition model file here (People simply off, as on a server
    # without one), rather than a file that cannot be used (a fault)
    recognizer_missing: bool = False


class Worker:
    """One worker's state: a one-thread detector and, when ``solo_threads``
    is above 1, a second one that spreads a lone photo over that many
    threads. :meth:`use_threads` picks the one the next job uses. Both are
    lean (no onnxruntime memory arena kept between runs): 60 MB less per
    worker at rest and after large photos, measured no slower (a 512-pixel
    photo 21-24 ms either way, 12 megapixels 80-82 ms against 88)."""

    def __init__(self, config: WorkerConfig) -> None:
        # Read by OpenCV when it is imported: a second guard behind our own
        # header check, far below OpenCV's default of 2**30 pixels.
        os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] = str(config.max_pixels)
        import cv2

        cv2.setNumThreads(1)
        self.config = config
        self.detectors: dict[int, Detector] = {1: config.load(config.detector, threads=1,
                                                              lean=True)}
        if config.solo_threads > 1:
            self.detectors[config.solo_threads] = config.load(
                self.family, config.solo_threads, lean=True)
        self.detector: Detector = self.detectors[1]
        self._recognizer: Any = None

    @property
    def recognizer(self) -> Any:
        """The face recognizer, loaded by the first People job."""
        if self._recognizer is None:
            from . import recognizers

            self._recognizer = recognizers.load(self.config.recognition_model,
                                                self.config.recognizer, self.config.model_cache)
        return self._recognizer

    @property
    def family(self) -> str:
        return self.detectors[1].family

    def recognizer_family(self) -> tuple[str, str]:
        """The recognizer family People's jobs use (loading it now), or why
        there is none: ("", reason) for a missing file or one that is no
        recognizer."""
        path = self.config.recognition_model
        if not path or path == ".":
            return "", "no recognition model is set"
        try:
            return self.recognizer.family, ""
        except ModelError as exc:
            return "", str(exc)

    def use_threads(self, threads: int) -> None:
        """Detect with the session for ``threads`` threads (else the 1-thread
        one); 0: with the most this worker has (a photo with the worker to itself)."""
        if threads == 0:
            threads = max(self.detectors)
        self.detector = self.detectors.get(threads) or self.detectors[1]

    def warm(self) -> None:
        """One detection on every session, so the first real upload is not the slow one."""
        import numpy as np

        for detector in self.detectors.values():
            detector.detect(np.zeros((64, 64, 3), np.uint8))


class Process:
    """A worker process's own state, for backends whose workers are plain
    processes (the local pool): its Worker, or why it could not load one,
    and its memory at rest (after warming)."""

    worker: Worker | None = None
    error: Exception | None = None
    rest_mb: float = 0.0


def _exit_with_parent(parent: int) -> None:
    """Stop this worker once the server process is gone, even after a SIGKILL
    or an out-of-memory kill, so no worker (and its model) is left behind."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def start_process(config: WorkerConfig) -> None:
    """Initializer of a pool process: watch the parent, load the Worker.

    A model that cannot be loaded is kept as the process's error and raised
    by :func:`warm_process`, so the server sees the reason, not a broken pool.
    """
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()
    try:
        Process.worker = Worker(config)
    except ModelError as exc:
        Process.error = exc


def warm_process() -> WorkerInfo:
    """Warm this process's Worker. Returns what :func:`about` does."""
    if Process.error is not None:
        raise Process.error
    worker = _process_worker()
    worker.warm()
    _trim()  # (what warming every session at its full input size took and freed: 60 MB)
    Process.rest_mb = _rss_mb()
    return about(worker)


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _give_back() -> None:
    """After a job that grew the process well past its memory at rest (a
    large photo), hand the freed memory back to the system: the C
    allocator keeps it otherwise. Not after small jobs, where taking it
    again costs more than it saves (measured: up to 65 % slower)."""
    if Process.rest_mb and _rss_mb() > Process.rest_mb + TRIM_ABOVE_MB:
        _trim()


def _trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def about(worker: Worker) -> WorkerInfo:
    """A job: what this worker loaded."""
    detector = worker.detectors[1]
    family, error = worker.recognizer_family()
    return WorkerInfo(os.getpid(), worker.family, os.path.basename(worker.config.model),
                      detector.default_score, detector.precision, detector.precision_reason,
                      max(detector.input_size) if detector.dynamic else 0,
                      detector.detail_size if detector.dynamic else 0, family, error,
                      not family and not os.path.isfile(worker.config.recognition_model or ""))


def run_in_process(threads: int, job: str, *args: Any) -> Any:
    """A pool job: ``job`` with detection on ``threads`` threads."""
    worker = _process_worker()
    worker.use_threads(threads)
    try:
        return call(worker, job, *args)
    finally:
        _give_back()


def run_batch_in_process(threads: int, jobs: list[tuple[str, tuple]]) -> list[tuple[bool, Any]]:
    """A cluster job carrying several jobs, run one after another: each
    one's result (True, value) or its exception (False, error), so one
    photo's refusal is not its neighbours'."""
    worker = _process_worker()
    worker.use_threads(threads)
    out: list[tuple[bool, Any]] = []
    for job, args in jobs:
        try:
            out.append((True, call(worker, job, *args)))
        except Exception as exc:  # handed back to that job's caller
            out.append((False, exc))
    return out


def _process_worker() -> Worker:
    if Process.worker is None:
        raise RuntimeError(f"worker used before its model loaded: {Process.error}")
    return Process.worker

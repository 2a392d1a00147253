"""Jobs for tests, run in real workers like the pipeline's own (named
``"tests.support.jobs:<function>"``, called as ``function(worker, *args)``)."""

from __future__ import annotations

import time

NAP = "tests.support.jobs:nap"
SPAN = "tests.support.jobs:span"
THREADS = "tests.support.jobs:threads"


def nap(worker: object, seconds: float) -> float:
    """Keep a worker busy for ``seconds``."""
    time.sleep(seconds)
    return seconds


def span(worker: object, seconds: float) -> tuple[float, float]:
    """Keep a worker busy for ``seconds``; when it started and ended."""
    started = time.time()
    time.sleep(seconds)
    return started, time.time()


def threads(worker) -> int:
    """Threads the current job's detection uses."""
    return worker.detector.threads


def pid(worker) -> int:
    """The worker process's id."""
    import os

    return os.getpid()


def slow_render(worker, seconds: float, data: bytes, options):
    """The upload's job, after a pause (time to do something to its worker)."""
    from faces.vision import pipeline

    time.sleep(seconds)
    return pipeline.render(worker, data, options)


def die(worker) -> None:
    """A job that kills whatever worker runs it, as a poisonous photo would."""
    import os

    os._exit(3)


def timed_render(worker, data: bytes, options) -> float:
    """The upload's job, returning only the seconds it took in the worker."""
    from faces.vision import pipeline

    started = time.perf_counter()
    pipeline.render(worker, data, options)
    return time.perf_counter() - started

"""Jobs for tests, run in real workers like the pipeline's own (named
``"tests.jobs:<function>"``, called as ``function(worker, *args)``)."""

from __future__ import annotations

import time

NAP = "tests.jobs:nap"
THREADS = "tests.jobs:threads"


def nap(worker: object, seconds: float) -> float:
    """Keep a worker busy for ``seconds``."""
    time.sleep(seconds)
    return seconds


def threads(worker) -> int:
    """Threads the current job's detection uses."""
    return worker.detector.threads

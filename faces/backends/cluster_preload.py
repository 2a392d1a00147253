"""Loaded into every Dask worker process (``dask worker --preload
faces.backends.cluster_preload``, which `faces worker` runs): builds this
process's :class:`faces.vision.worker.Worker` once, from the FACES_* settings in
the environment, so jobs run exactly as in the local pool's workers. The
model lives in the worker; only photo bytes and results cross the network.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

from .. import settings
from ..vision import worker

log = logging.getLogger(__name__)


# glibc's mallopt parameters, and values near its own dynamic ceilings.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD, MMAP_THRESHOLD = 64 << 20, 32 << 20


def undo_malloc_trim() -> bool:
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which
    makes glibc give memory back after every image and map each large buffer
    afresh: measured here, a 512² photo's job took 64 ms in a Dask worker
    against about 30 ms in the local pool. Put the thresholds back near
    glibc's own; returns whether it could (glibc only)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def dask_setup(dask_worker: Any) -> None:
    """Dask's preload hook: load and warm the model before serving tasks.
    A model that cannot be loaded stops the worker with the reason."""
    undo_malloc_trim()
    config = worker.WorkerConfig.from_settings(settings.from_sources())
    worker.Process.worker = worker.Worker(config)
    worker.Process.worker.warm()
    about = worker.about(worker.Process.worker)
    log.info("faces worker ready: %s %s, model %s; %s", about.family, about.precision,
             config.model, about.precision_reason or about.precision)

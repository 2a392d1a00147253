"""Loaded into every Dask worker process (``dask worker --preload
faces.backends.cluster_preload``, which `faces worker` runs): builds this
process's :class:`faces.worker.Worker` once, from the FACES_* settings in
the environment, so jobs run exactly as in the local pool's workers. The
model lives in the worker; only photo bytes and results cross the network.
"""

from __future__ import annotations

import logging
from typing import Any

from .. import settings, worker

log = logging.getLogger(__name__)


def dask_setup(dask_worker: Any) -> None:
    """Dask's preload hook: load and warm the model before serving tasks.
    A model that cannot be loaded stops the worker with the reason."""
    config = worker.WorkerConfig.from_settings(settings.from_sources())
    worker.Process.worker = worker.Worker(config)
    worker.Process.worker.warm()
    log.info("faces worker ready: %s, model %s", worker.Process.worker.family, config.model)

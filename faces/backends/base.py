"""The interface every backend (where jobs run) implements. Its errors are
faces' own (:mod:`faces.errors`): BackendUnavailable, BackendBusy and
JobTimeout."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..vision.worker import WorkerInfo


class Backend(ABC):
    """Runs named jobs (``"module:function"``, called in a worker as
    ``function(worker, *args)``; see :mod:`faces.vision.jobs`) somewhere
    else than the server's event loop.

    Life cycle: :meth:`start` (raises ``ModelError`` if the model cannot be
    loaded), :attr:`ready` once every worker is warm, :meth:`run` any
    number of times, :meth:`shutdown`. Only picklable arguments and results
    cross; the server process never loads the model.
    """

    ready: bool = False
    info: WorkerInfo | None = None  # what the workers loaded, once one has
    restarts: int = 0  # workers replaced after a crash or a timeout
    pending: int = 0  # jobs running or waiting

    @property
    def family(self) -> str:
        """The detector family the workers loaded ('' before)."""
        return self.info.family if self.info else ""

    @property
    def model(self) -> str:
        """The model file's name, as the workers loaded it."""
        return self.info.model if self.info else ""

    @property
    def default_score(self) -> float:
        """The family's own score threshold (what a threshold of 0 means)."""
        return self.info.default_score if self.info else 0.0

    @property
    @abstractmethod
    def workers(self) -> int:
        """Workers that can take jobs now."""

    @abstractmethod
    async def start(self) -> None:
        """Start the workers, load the model in each, warm them."""

    @abstractmethod
    async def run(self, job: str, *args: Any, pixels: int = 0) -> Any:
        """Run one job and return its result; its own exceptions propagate.
        ``pixels``: how many the job decodes (what memory it needs), for a
        backend that admits jobs by the pixels in flight.

        Raises BackendBusy when too many jobs wait, JobTimeout past the time
        limit, BackendUnavailable when no worker could run it.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Stop the workers; jobs still waiting fail with BackendUnavailable."""

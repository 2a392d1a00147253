"""The cluster backend: jobs run on a Dask distributed cluster (FACES_CLUSTER
= the scheduler's address). Workers are `faces worker` processes, each with
the model loaded once by a preload (faces.backends.cluster_preload); only
the photo's bytes and the result cross the network, and the web process
writes files and the catalogue as with the local pool.

Dask is imported only here, so a server without FACES_CLUSTER never loads
it. Faults become the same three errors as the local pool's: no worker or
no scheduler is BackendUnavailable at once (a watcher reconnects by itself),
a photo that kills every worker it reaches is BackendUnavailable once Dask
gives up on it, and a job past the time limit is JobTimeout, with the worker
running it restarted (cancelling a Dask future does not stop a running task).

When photos queue up, several travel in one Dask task (Dask's own cost per
task, in the scheduler and the comms, is then shared): each photo's result
or error is its own, and a task that went wrong (a photo that kills its
worker, one past the time limit) sends its other photos again, one per task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from distributed import Client
from distributed.client import FutureCancelledError
from distributed.comm.addressing import get_address_host_port
from distributed.comm.core import CommClosedError
from distributed.scheduler import KilledWorker

from ..errors import BackendBusy, BackendUnavailable, JobTimeout
from ..vision import worker
from ..vision.jobs import ABOUT
from .base import Backend

log = logging.getLogger(__name__)

WATCH_SECONDS = 1.0  # how often the watcher counts workers and reconnects
CALL_SECONDS = 3.0  # longest wait for one call to the scheduler
NANNY_SECONDS = 1.0  # longest wait to reach a worker's nanny
# Dask spends a few milliseconds of CPU per task (scheduler, comms): when
# photos queue up, up to MAX_BATCH of them travel as one task, with at most
# DEPTH tasks per worker in flight. A light load still sends one per task.
MAX_BATCH = 4
DEPTH = 2


class Entry:
    """A job waiting for, or riding in, a Dask task."""

    def __init__(self, job: str, args: tuple, done: asyncio.Future) -> None:
        self.job, self.args, self.done = job, args, done
        self.carrier: Any = None  # the Dask future carrying it
        self.alone = False  # after a batch went wrong: retried on its own

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        if not self.done.done():
            if error is not None:
                self.done.set_exception(error)
            else:
                self.done.set_result(value)


class ClusterBackend(Backend):
    def __init__(self, address: str, timeout: float = 30.0, max_queue: int = 32) -> None:
        self.address = address
        self.timeout = timeout
        self.max_queue = max_queue
        self.pending = 0
        self.restarts = 0
        self._workers = 0
        self._known: set[str] = set()  # the workers' addresses, last counted
        self._nannies: set[str] = set()  # their nannies' addresses
        self._client: Client | None = None
        self._watcher: asyncio.Task | None = None
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Future] = set()  # restarts and closes under way
        self._waiting: list[Entry] = []  # jobs not yet sent to Dask
        self._riding: list[tuple[Any, list[Entry]]] = []  # Dask tasks sent, not back
        self._flying = 0  # Dask tasks sent, not back
        self.batches = 0  # Dask tasks that carried more than one job

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ClusterBackend:
        values = {"address": settings.cluster, "timeout": settings.detect_timeout,
                  "max_queue": settings.max_queue, **overrides}
        return cls(**values)

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def ready(self) -> bool:
        """Healthy while at least one worker with the model is connected."""
        return self._ready.is_set() and self._workers > 0

    async def start(self) -> None:
        """Watch the cluster; return once a worker with the model has joined
        (/healthz is 503 until then)."""
        self._watcher = asyncio.ensure_future(self._watch())
        await self._ready.wait()

    async def _watch(self) -> None:
        while True:
            try:
                await self._check()
            except Exception:  # never let the watcher die; say why and go on
                log.exception("checking the cluster at %s failed", self.address)
            await asyncio.sleep(WATCH_SECONDS)

    async def _check(self) -> None:
        client = self._client
        if client is None or client.status not in ("running", "connecting"):
            if client is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), CALL_SECONDS)
            self._client = client = None
            self._workers = 0
            try:
                # Results come straight from the worker, not through the scheduler.
                client = await asyncio.wait_for(
                    Client(self.address, asynchronous=True, timeout=CALL_SECONDS,
                           set_as_default=False, direct_to_workers=True), CALL_SECONDS + 1)
            except (OSError, asyncio.TimeoutError) as exc:
                log.warning("no Dask scheduler at %s yet (%s)", self.address, exc)
                return
            self._client = client
            log.info("connected to the Dask scheduler at %s", self.address)
        await self._count()
        if self._workers and not self._ready.is_set():
            self.info = about = await asyncio.wait_for(self._submit(ABOUT), self.timeout)
            log.info("Dask workers run %s %s, first pass %s; %s", about.family,
                     about.precision, about.first_pass or "fixed",
                     about.precision_reason or about.precision)
            self._ready.set()

    async def _count(self) -> None:
        """Ask the scheduler how many workers it has (0 when it does not answer)."""
        try:
            nthreads = await asyncio.wait_for(self._client.nthreads(), CALL_SECONDS)
        except (OSError, asyncio.TimeoutError, CommClosedError):
            self._workers = 0
            return
        if len(nthreads) != self._workers:
            log.info("%d faces workers on the cluster", len(nthreads))
        self._workers = len(nthreads)
        if set(nthreads) != self._known:
            self._known = set(nthreads)
            with contextlib.suppress(OSError, asyncio.TimeoutError, CommClosedError):
                found = await asyncio.wait_for(self._client.scheduler.identity(n_workers=-1),
                                               CALL_SECONDS)
                self._nannies |= {info["nanny"] for info in found["workers"].values()
                                  if info.get("nanny")}
        if not self._workers and (self._waiting or self._riding) and \
                not await self._restarting():
            self._no_workers()

    async def _restarting(self) -> bool:
        """Whether a nanny of the workers seen so far is still there (its
        worker is being restarted: a photo that kills its workers leaves
        none for that moment, which is not "no worker")."""
        for nanny in list(self._nannies):
            host, port = get_address_host_port(nanny)
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                   NANNY_SECONDS)
            except (OSError, asyncio.TimeoutError):
                self._nannies.discard(nanny)  # gone with its worker
                continue
            writer.close()
            return True
        return False

    def _no_workers(self) -> None:
        """No worker left: every job waiting or sent is answered now (Dask
        would keep them until a worker comes, past their time limit)."""
        log.error("no detector worker is connected to the cluster: %d photos answered 503",
                  len(self._waiting) + sum(len(batch) for _, batch in self._riding))
        error = BackendUnavailable("no detector worker is connected to the cluster")
        for entry in self._waiting:
            entry.settle(error=error)
        self._waiting.clear()
        for carrier, batch in self._riding:
            for entry in batch:
                entry.settle(error=error)
            if self._client is not None:  # forgotten, or it would run when a worker comes
                self._background(self._client.cancel([carrier], force=True))

    def _submit(self, job: str, *args: Any) -> Any:
        # Alone, a photo may use every thread its worker has (0); with company,
        # each keeps to one. pure=False: identical uploads are separate jobs,
        # never merged by Dask.
        threads = 0 if self.pending <= 1 else 1
        return self._client.submit(worker.run_in_process, threads, job, *args, pure=False)

    async def run(self, job: str, *args: Any, pixels: int = 0) -> Any:
        # (``pixels`` is not needed here: a Dask worker runs one job at a time)
        if self._client is not None and self._client.status == "running" and not self._workers:
            await self._count()  # workers may have come back since the watcher looked
        if self._client is None or self._client.status != "running" or not self._workers:
            raise BackendUnavailable("no detector worker is connected to the cluster")
        if self.pending >= self._workers + self.max_queue:
            raise BackendBusy("the detector is busy")
        self.pending += 1
        entry = Entry(job, args, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        self._pump()
        try:
            return await asyncio.wait_for(asyncio.shield(entry.done), self.timeout)
        except asyncio.TimeoutError:
            log.error("a detection ran past %.0fs on the cluster; restarting its worker",
                      self.timeout)
            entry.done.cancel()  # settled: never sent again
            if entry in self._waiting:
                self._waiting.remove(entry)
            elif entry.carrier is not None:
                await self._restart_holder(entry.carrier)
            raise JobTimeout("the photo took too long to process") from None
        finally:
            self.pending -= 1

    def _pump(self) -> None:
        """Send waiting jobs to Dask: one per task under a light load, up to
        MAX_BATCH per task when they queue up."""
        room = max(1, self._workers) * DEPTH
        while self._waiting and self._flying < room:
            client = self._client
            if client is None or client.status != "running":
                for entry in self._waiting:
                    entry.settle(error=BackendUnavailable("the detector cluster is unreachable"))
                self._waiting.clear()
                return
            size = 1 if self._waiting[0].alone else \
                min(MAX_BATCH, -(-len(self._waiting) // (room - self._flying)))
            batch = [self._waiting.pop(0)]
            while len(batch) < size and not self._waiting[0].alone:
                batch.append(self._waiting.pop(0))
            if len(batch) == 1:
                carrier = self._submit(batch[0].job, *batch[0].args)
            else:
                carrier = client.submit(worker.run_batch_in_process, 1,
                                        [(e.job, e.args) for e in batch], pure=False)
                self.batches += 1
            for entry in batch:
                entry.carrier = carrier
            self._flying += 1
            self._riding.append((carrier, batch))
            self._background(self._collect(carrier, batch))

    async def _collect(self, carrier: Any, batch: list[Entry]) -> None:
        """Hand a Dask task's results to the jobs it carried."""
        try:
            found = await carrier
        except KilledWorker:
            if len(batch) == 1:
                log.error("a photo stopped every worker it reached; giving up on it")
                batch[0].settle(error=BackendUnavailable("the photo stopped the detector "
                                                         "workers"))
            else:  # which photo did it? each goes again on its own
                log.warning("a batch of %d photos stopped its workers; trying them one by "
                            "one", len(batch))
                self._again(batch)
        except (FutureCancelledError, asyncio.CancelledError):
            self._again(batch)  # cancelled for one job's time limit: the others go again
        except (CommClosedError, OSError) as exc:
            log.error("lost the cluster while photos were processed: %s", exc)
            for entry in batch:
                entry.settle(error=BackendUnavailable("the detector cluster is unreachable"))
        except Exception as exc:  # a lone job's own error (a batch hands back its own)
            batch[0].settle(error=exc)
        else:
            if len(batch) == 1:
                batch[0].settle(found)
            else:
                for entry, (ok, value) in zip(batch, found, strict=True):
                    entry.settle(value if ok else None, None if ok else value)
        finally:
            self._flying -= 1
            self._riding = [(c, b) for c, b in self._riding if c is not carrier]
            self._pump()

    def _again(self, batch: list[Entry]) -> None:
        for entry in reversed(batch):
            if not entry.done.done():
                entry.alone, entry.carrier = True, None
                self._waiting.insert(0, entry)

    async def _restart_holder(self, future: Any) -> None:
        """Restart the worker running ``future`` and forget the job."""
        client = self._client
        try:
            processing = await asyncio.wait_for(client.processing(), CALL_SECONDS)
            holders = [address for address, keys in processing.items() if future.key in keys]
            # Forget the job first, or Dask would run it again on another worker
            # once its worker is gone.
            await asyncio.wait_for(client.cancel([future], force=True), CALL_SECONDS)
            if holders:
                self.restarts += 1
                self._background(client.restart_workers(holders, raise_for_error=False))
        except (OSError, asyncio.TimeoutError, CommClosedError) as exc:
            log.warning("could not restart the worker of a stuck job: %s", exc)

    def shutdown(self) -> None:
        self._ready.clear()
        for entry in self._waiting:
            entry.settle(error=BackendUnavailable("the server is shutting down"))
        self._waiting.clear()
        if self._watcher is not None:
            self._watcher.cancel()
        client, self._client = self._client, None
        if client is not None:
            self._background(client.close())

    def _background(self, call: Any) -> None:
        task = asyncio.ensure_future(call)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

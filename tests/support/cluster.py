"""A real Dask cluster on 127.0.0.1 for tests: Dask's own scheduler and
`faces worker` processes, started as subprocesses in their own sessions and
killed with everything they started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT
from tests.support.process import free_port

BIN = Path(sys.executable).parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # the workers can run tests.jobs too


def start_scheduler(port: int, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard", "--dashboard-address", "127.0.0.1:0"],
        stdout=open(log, "a"), stderr=subprocess.STDOUT, env=ENV,
        start_new_session=True)


def start_workers(address: str, model: Path, count: int, log: Path,
                  extra: tuple[str, ...] = ()) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "faces", "worker", address, "--nworkers", str(count),
         "--model", str(model), *extra, "--", "--host", "127.0.0.1"],
        stdout=open(log, "a"), stderr=subprocess.STDOUT, env=ENV, start_new_session=True)


def stop(process: subprocess.Popen | None) -> None:
    """Kill a process and everything it started."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


@contextmanager
def cluster(model: Path, workers: int, logs: Path) -> Iterator[dict]:
    """A scheduler and ``workers`` faces workers; yields {"address", "port",
    "scheduler", "workers"} (processes may be replaced by the test)."""
    port = free_port()
    state = {"address": f"tcp://127.0.0.1:{port}", "port": port, "logs": logs,
             "scheduler": start_scheduler(port, logs / "scheduler.log"), "workers": None}
    try:
        time.sleep(0.5)
        if workers:
            state["workers"] = start_workers(state["address"], model, workers,
                                             logs / "workers.log")
        yield state
    finally:
        stop(state["workers"])
        stop(state["scheduler"])

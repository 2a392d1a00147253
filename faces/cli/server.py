"""`faces serve` (the web server), `faces worker` (detection workers for a
Dask cluster) and `faces token`."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path

from .. import settings
from ..errors import DataDirError, ModelAccess, ModelError
from ..vision import fetch
from .common import CommandError, command, config


def serve(args: argparse.Namespace) -> int:
    found = config(args)
    from ..web.app import serve as run  # imports tornado; kept out of `faces fetch-model`

    try:
        asyncio.run(run(found))
    except ModelAccess as exc:  # (it says what to do already)
        raise CommandError(str(exc)) from None
    except ModelError as exc:  # found by the workers as they load it
        raise CommandError(f"{exc}. {fetch.hint()}") from None
    except DataDirError as exc:
        raise CommandError(str(exc)) from None
    return 0


def worker(args: argparse.Namespace) -> int:
    """Become a Dask worker with the model preloaded (never returns)."""
    found = config(args)
    dask = Path(sys.executable).with_name("dask")
    if not dask.is_file():
        raise CommandError("Dask is not installed: pip install 'faces[cluster]'")
    # Dask's own options first: what follows --preload is the preload's.
    command = [str(dask), "worker", args.scheduler, "--nthreads", "1",
               "--nworkers", str(args.nworkers or found.worker_count), "--no-dashboard",
               *args.dask_args, "--preload", "faces.backends.cluster_preload"]
    env = {**os.environ, **settings.environment(found, "worker")}
    os.execve(dask, command, env)  # noqa: S606 (our own Dask, with our settings)
    return 0  # not reached


def token(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(32))
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    command(commands, "serve", serve, help="run the web server",
            description="Run the web server. Every option is also an environment variable.")

    work = command(
        commands, "worker", worker,
        help="run detection workers for a Dask cluster",
        description="Start Dask worker processes (one thread each) that load the model once "
        "and take the server's detection jobs. The scheduler is Dask's own `dask scheduler`; "
        "the server points at it with FACES_CLUSTER. Arguments after -- go to `dask worker` "
        "(for example --tls-ca-file ...).")
    work.add_argument("scheduler", help="the scheduler's address, e.g. tcp://10.0.0.5:8786")
    work.add_argument("--nworkers", type=int, default=0,
                      help="worker processes (default: one per CPU core)")

    command(
        commands, "token", token, settings_of="",
        help="print a strong random access token",
        description="Print a random access token (256 bits, URL-safe) for FACES_TOKEN.")

"""Detection on a real Dask cluster (scheduler and `faces worker` processes
on 127.0.0.1): the same API and events as the local pool, and every fault
provoked for real."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed
import pytest

from faces.backends.cluster import ClusterBackend
from faces.errors import BackendUnavailable, JobTimeout
from faces.vision.contract import Options
from faces.vision.jobs import RENDER
from tests.conftest import photo_bytes
from tests.support.cluster import cluster, start_scheduler, start_workers, stop
from tests.support.process import get_json, server, upload

OPTIONS = Options(max_pixels=50_000_000)
# A job's time limit in these tests: what "answered at once" is measured against
# (a refusal that waited for it would take all of it).
LIMIT = 120.0


async def started(address: str, timeout: float = 30.0, limit: float = 60.0) -> ClusterBackend:
    backend = ClusterBackend(address, timeout=timeout)
    await asyncio.wait_for(backend.start(), limit)
    return backend


async def holder(address: str, spy: distributed.Client) -> tuple[str, int]:
    """The worker (address, pid) running the one job under way."""
    for _ in range(100):
        busy = [w for w, keys in (await spy.processing()).items() if keys]
        if busy:
            pids = await spy.run(os.getpid)
            return busy[0], pids[busy[0]]
        await asyncio.sleep(0.05)
    raise AssertionError("no job was running")


def test_uploads_through_a_cluster_then_it_goes_and_comes_back(
        tmp_path: Path, model_path: Path, images: Path) -> None:
    with cluster(model_path, 2, tmp_path) as state:
        log = open(tmp_path / "server.log", "w")
        with server(tmp_path / "data", model_path, log=log,
                    extra=("--cluster", state["address"], "--detect-timeout",
                           str(LIMIT))) as (_, base):
            health = get_json(base + "/healthz")[1]
            assert health["workers"] == 2 and health["detector"] == "scrfd"
            assert health["model"] == model_path.name  # as the workers loaded it
            status, photo = upload(base, "t1.jpg")
            assert status == 201 and len(photo["faces"]) == 6
            assert upload(base, "t1.jpg") == (200, photo)  # the same photo, stored once
            # The workers go, the scheduler stays: an upload is answered 503 as
            # soon as that is seen (long before its time limit), and the health
            # check says so.
            stop(state["workers"])
            started_at = time.monotonic()
            answer = refused(base, "kit_with_rose.jpg")
            assert answer[0] == 503 and answer[1]["Retry-After"]
            assert answer[2]["error"]["code"] == "detector_unavailable"
            assert time.monotonic() - started_at < LIMIT / 4, time.monotonic() - started_at
            assert get_json(base + "/healthz")[0] == 503
            # The scheduler goes too: uploads answer 503 at once.
            stop(state["workers"])
            stop(state["scheduler"])
            started_at = time.monotonic()
            answer = refused(base, "coffee.jpg")
            assert answer[0] == 503 and answer[1]["Retry-After"]
            assert time.monotonic() - started_at < LIMIT / 4  # never hangs till the limit
            assert answer[2]["error"]["code"] == "detector_unavailable"
            deadline = time.monotonic() + 10  # and the health check says so
            while get_json(base + "/healthz")[0] != 503:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            # They come back on the same address: the server reconnects by itself.
            state["scheduler"] = start_scheduler(state["port"], tmp_path / "scheduler.log")
            time.sleep(0.5)
            state["workers"] = start_workers(state["address"], model_path, 1,
                                             tmp_path / "workers.log")
            deadline = time.monotonic() + 60
            while get_json(base + "/healthz")[1].get("workers") != 1:
                assert time.monotonic() < deadline, "did not reconnect"
                time.sleep(0.5)
            status, again = upload(base, "coffee.jpg")
            assert status == 201 and again["faces"] == []


def test_people_on_the_cluster(tmp_path: Path, model_path: Path, images: Path,
                               recognition_model: Path) -> None:
    """Recognition jobs run on the Dask workers too (the model loaded there)."""
    people = ("--recognition-model", str(recognition_model))
    with cluster(model_path, 0, tmp_path) as state:
        state["workers"] = start_workers(state["address"], model_path, 1,
                                         tmp_path / "workers.log", people)
        log = open(tmp_path / "server.log", "w")
        with server(tmp_path / "data", model_path, log=log,
                    extra=("--cluster", state["address"], *people)) as (_, base):
            for name in ("people/obama/obama.jpg", "people/obama/obama2.jpg"):
                assert upload(base, name)[0] == 201
            deadline = time.monotonic() + 60
            while not (found := get_json(base + "/api/people")[1]["people"]):
                assert time.monotonic() < deadline, "no person formed on the cluster"
                time.sleep(0.3)
            assert [(p["photos"], p["faces"]) for p in found] == [(2, 2)]
            assert get_json(base + "/healthz")[1]["recognition_backlog"] == 0


def refused(base: str, name: str) -> tuple[int, dict, dict]:
    import urllib.error
    import urllib.request

    from tests.support.helpers import multipart

    body, kind = multipart([("file", name, photo_bytes(name))])
    request = urllib.request.Request(base + "/api/photos", data=body, method="POST",
                                     headers={"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_faults_on_the_cluster(tmp_path: Path, model_path: Path, images: Path) -> None:
    """A killed worker, a photo that kills every worker it lands on, a job
    past its time limit. The waits are derived from what this machine
    measures first (one photo's time, one worker's restart), so the test
    proves the same on a slow machine as on a fast one."""
    data = photo_bytes("t1.jpg")

    async def scenario(address: str) -> dict:
        found = {}
        backend = await started(address, timeout=120.0)
        async with distributed.Client(address, asynchronous=True) as spy:
            while len(await spy.nthreads()) < 2:
                await asyncio.sleep(0.2)
            begun = time.monotonic()
            await backend.run(RENDER, data, OPTIONS)
            found["render_seconds"] = render = time.monotonic() - begun
            # A worker killed while it holds a job: the job runs again elsewhere.
            job = asyncio.ensure_future(backend.run("tests.support.jobs:slow_render",
                                                    1.5 + render, data, OPTIONS))
            _, victim = await holder(address, spy)
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()
            found["rerun_faces"] = len((await job).faces)
            while len(await spy.nthreads()) < 2:  # its nanny brings it back
                await asyncio.sleep(0.1)
            found["restart_seconds"] = restart = time.monotonic() - killed_at
            # A photo that kills every worker it lands on: 503 after a few tries
            # (each one a restart), and every other job is answered with its own
            # result. Not within a few restarts: a job done on a worker the poison
            # kills before its result is fetched is lost with it and done again
            # (Dask recomputes lost results), so it can wait for every try and
            # for the restarts after them, two at once on a small machine. The
            # limit is there so a hang fails the test, not to time the wait.
            backend.timeout = LIMIT
            started_at = time.monotonic()
            poison = asyncio.ensure_future(backend.run("tests.support.jobs:die"))
            found["meanwhile"] = len((await backend.run(RENDER, data,
                                                        OPTIONS)).faces)
            found["meanwhile_seconds"] = time.monotonic() - started_at
            with pytest.raises(BackendUnavailable, match="stopped the detector workers"):
                await poison
            found["poison_seconds"] = time.monotonic() - started_at
            while len(await spy.nthreads()) < 2:  # the nannies bring them back
                await asyncio.sleep(0.2)
            # A job past the time limit: JobTimeout, and its worker is restarted.
            backend.timeout = 4 * render + 2
            job = asyncio.ensure_future(backend.run("tests.support.jobs:nap",
                                                    10 * backend.timeout))
            _, stuck = await holder(address, spy)
            with pytest.raises(JobTimeout):
                await job
            deadline = time.monotonic() + 10 * restart + 10
            while stuck in (await spy.run(os.getpid)).values():
                assert time.monotonic() < deadline, "the stuck worker was not restarted"
                await asyncio.sleep(0.2)
            found["after_timeout"] = len((await backend.run(RENDER, data,
                                                            OPTIONS)).faces)
        backend.shutdown()
        return found

    with cluster(model_path, 2, tmp_path) as state:
        found = asyncio.run(scenario(state["address"]))
    print("cluster faults:", found)
    assert found["rerun_faces"] == 6 and found["meanwhile"] == 6
    assert found["after_timeout"] == 6


def test_queued_photos_travel_together_and_fail_alone(tmp_path: Path, model_path: Path,
                                                      images: Path) -> None:
    """Many photos at once go in batches; a refused photo and a photo that
    kills its worker fail on their own, every other photo is stored."""
    from faces.errors import ImageRejected

    data = photo_bytes("t1.jpg")

    async def scenario(address: str) -> tuple[list, int]:
        # The limit only catches a hang: the photos done on a worker the bad one
        # kills are done again (23 s for the last one here with the cores busy).
        backend = await started(address, timeout=LIMIT)
        async with distributed.Client(address, asynchronous=True) as spy:
            while len(await spy.nthreads()) < 2:
                await asyncio.sleep(0.2)
            jobs = [backend.run(RENDER, data, OPTIONS) for _ in range(9)]
            jobs.insert(4, backend.run(RENDER, b"not an image", OPTIONS))
            jobs.insert(7, backend.run("tests.support.jobs:die"))
            found = await asyncio.gather(*jobs, return_exceptions=True)
        backend.shutdown()
        return found, backend.batches

    with cluster(model_path, 2, tmp_path) as state:
        found, batches = asyncio.run(scenario(state["address"]))
    assert batches >= 1
    assert isinstance(found[4], ImageRejected)
    assert isinstance(found[7], BackendUnavailable) and "stopped" in str(found[7])
    assert [len(r.faces) for i, r in enumerate(found) if i not in (4, 7)] == [6] * 9


def test_no_worker_at_all_answers_at_once(tmp_path: Path, model_path: Path) -> None:
    async def scenario(address: str) -> float:
        backend = ClusterBackend(address, timeout=LIMIT)
        await backend._check()  # one look, as the watcher does: no worker yet
        assert not backend.ready and backend.workers == 0
        started_at = time.monotonic()
        with pytest.raises(BackendUnavailable, match="no detector worker"):
            await backend.run(RENDER, b"", OPTIONS)
        backend.shutdown()
        return time.monotonic() - started_at

    with cluster(model_path, 0, tmp_path) as state:
        assert asyncio.run(scenario(state["address"])) < LIMIT / 4  # not at the time limit


def test_without_a_cluster_dask_is_never_imported(tmp_path: Path, model_path: Path) -> None:
    code = ("import sys; from faces import backends, settings; from faces.web import app; "
            f"backends.create(settings.Settings(model={str(model_path)!r})); "
            "print('distributed' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr

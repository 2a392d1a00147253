"""Faults provoked for real: a killed worker, a job past its time limit, a
full queue, a full or read-only disk, a slow WebSocket client, and start-up
after a crash."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
from tornado.iostream import IOStream
from tornado.testing import gen_test

from faces.library.catalogue import Catalogue
from faces.library.events import Silent
from faces.library.files import Files
from faces.library.gallery import Gallery
from faces.vision.contract import Options
from faces.web import live
from tests.conftest import photo_bytes
from tests.support.disk import OnTmpfs, mount_tmpfs
from tests.support.helpers import stored
from tests.support.jobs import NAP, SPAN
from tests.support.server import FacesTestCase


class TestWorkerFaults(FacesTestCase):
    async def occupy_workers(self, seconds: float) -> list[asyncio.Future]:
        busy = [asyncio.ensure_future(self.pool.run(NAP, seconds))
                for _ in range(self.pool.workers)]
        await asyncio.sleep(0.3)
        return busy

    PHOTOS = ["t1.jpg", "kit_with_rose.jpg", "obama_small.jpg", "two_people.jpg",
              "coffee.jpg", "obama_and_biden.jpg", "biden.jpg", "obama.jpg"]

    async def uploads_under_way(self) -> list[asyncio.Future]:
        """Eight uploads at once; returns once every worker has one."""
        uploads = [asyncio.ensure_future(self.upload(name)) for name in self.PHOTOS]
        while self.pool.pending < len(uploads) or self.pool._idle:
            await asyncio.sleep(0.002)
        return uploads

    async def replaced(self, *victims: int) -> None:
        """Wait until every worker is back, none of ``victims`` among them
        (the pool is shared by the tests: each leaves it whole)."""
        for _ in range(600):
            pids = self.pool.worker_pids()
            if len(pids) == self.pool.size and not set(victims) & set(pids):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the workers were not replaced")

    @gen_test(timeout=120)
    async def test_a_killed_worker_costs_no_upload(self) -> None:
        """kill -9 of a worker while eight uploads run: the job it had runs
        again on another worker, and every upload is answered 201."""
        uploads = await self.uploads_under_way()
        victim = self.pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        answers = await asyncio.gather(*uploads)
        assert [a.code for a in answers] == [201] * len(uploads), [a.body for a in answers]
        await self.replaced(victim)
        assert self.services.gallery.count() == len(uploads)
        with pytest.raises(ProcessLookupError):
            os.kill(victim, 0)

    @gen_test(timeout=120)
    async def test_a_photo_that_kills_its_worker_fails_alone(self) -> None:
        """An upload whose photo kills every worker it runs on (here the test
        kills the worker the moment it takes that photo, as a decoder crash
        would) is run twice, then answered 503 over HTTP, in the page's JSON
        form; the uploads meanwhile are all answered 201, and the pool works."""
        image = cv2.imdecode(np.frombuffer(photo_bytes("obama_and_biden.jpg"), np.uint8),
                             cv2.IMREAD_COLOR)
        victim = cv2.imencode(".jpg", cv2.resize(image, (3999, 2999)))[1].tobytes()
        pixels = 3999 * 2999
        restarts = self.pool.restarts
        answer = asyncio.ensure_future(self.upload("victim.jpg", victim))
        uploads = [asyncio.ensure_future(self.upload(name)) for name in self.PHOTOS[:4]]
        killed: list[int] = []
        while len(killed) < 2 and not answer.done():  # (bounded by the test's timeout)
            for slot in list(self.pool._slots):
                if slot.pixels == pixels and slot.pid and slot.pid not in killed:
                    os.kill(slot.pid, signal.SIGKILL)
                    killed.append(slot.pid)
            await asyncio.sleep(0.002)
        response = await answer
        assert len(killed) == 2 and response.code == 503, response.body
        error = json.loads(response.body)["error"]
        assert error["code"] == "detector_unavailable" and "twice" in error["message"]
        answers = await asyncio.gather(*uploads)
        assert [a.code for a in answers] == [201] * 4, [a.body for a in answers]
        assert self.pool.restarts == restarts + 2  # the two workers it ran on
        await self.replaced(*killed)
        assert self.services.gallery.count() == 4  # nothing of the photo stored
        assert (await self.upload("t1.jpg")).code == 200  # (stored already: the pool works)

    @gen_test(timeout=120)
    async def test_a_hung_worker_times_out_its_own_job_only(self) -> None:
        """SIGSTOP of a worker while eight uploads run: its job is answered
        503 detector_timeout once the time limit passes, the worker is
        killed and replaced; the other seven are answered 201, no 500."""
        self.pool.timeout = 5.0  # (far more than any of these photos takes)
        try:
            uploads = await self.uploads_under_way()
            victim = self.pool.worker_pids()[0]
            os.kill(victim, signal.SIGSTOP)
            answers = await asyncio.gather(*uploads)
        finally:
            self.pool.timeout = 30.0
        codes = sorted(a.code for a in answers)
        assert codes == [201] * 7 + [503], [a.body for a in answers]
        [stopped] = [a for a in answers if a.code == 503]
        assert json.loads(stopped.body)["error"]["code"] == "detector_timeout"
        await self.replaced(victim)
        with pytest.raises(ProcessLookupError):
            os.kill(victim, 0)
        assert (await self.upload(self.PHOTOS[[a.code for a in answers].index(503)])
                ).code == 201

    @gen_test(timeout=60)
    async def test_large_photos_take_turns_small_ones_pass(self) -> None:
        """Jobs are admitted by the pixels they decode: two 40-megapixel
        jobs never run at once (64 in flight at most), two 10-megapixel
        ones do, and a small one passes beside a large one."""
        assert self.pool.pixel_budget == 64_000_000

        async def spans(*sizes: float) -> list[tuple[float, float]]:
            return await asyncio.gather(*(self.pool.run(SPAN, 0.4, pixels=int(size * 1e6))
                                          for size in sizes))

        def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
            return a[0] < b[1] and b[0] < a[1]

        big = await spans(40, 40)
        assert not overlap(*big)
        assert overlap(*await spans(10, 10))
        assert overlap(*await spans(40, 12))
        assert self.pool._pixels == 0 and not self.pool._admitting

    @gen_test(timeout=60)
    async def test_a_worker_grown_past_its_budget_is_replaced_after_its_job(self) -> None:
        before = set(self.pool.worker_pids())
        budget, self.pool.recycle_mb = self.pool.recycle_mb, 1.0  # (every worker is past this)
        try:
            first = await self.upload("t1.jpg")
        finally:
            self.pool.recycle_mb = budget
        assert first.code == 201
        assert self.pool.recycled >= 1
        for _ in range(600):
            pids = set(self.pool.worker_pids())
            if len(pids) == self.pool.size and pids != before:
                break
            await asyncio.sleep(0.05)
        assert len(before - set(self.pool.worker_pids())) >= 1
        assert (await self.upload("kit_with_rose.jpg")).code == 201

    @gen_test(timeout=60)
    async def test_full_queue_answers_503_with_retry_after(self) -> None:
        self.pool.max_queue = 0
        try:
            busy = await self.occupy_workers(1.5)
            response = await self.upload("obama_small.jpg")
            assert response.code == 503
            assert response.headers["Retry-After"] == "5"
            assert json.loads(response.body)["error"]["code"] == "busy"
            health = await self.http_client.fetch(self.get_url("/healthz"))
            assert health.code == 200
            await asyncio.gather(*busy)
        finally:
            self.pool.max_queue = 32
        assert (await self.upload("obama_small.jpg")).code == 201


class TestDiskFaults(OnTmpfs, FacesTestCase):

    def leftovers(self) -> list[str]:
        files = self.services.files
        return [p.name for d in (files.photos_dir, files.meta_dir, files.tmp_dir)
                for p in stored(d)]

    @gen_test(timeout=30)
    async def test_full_disk_gives_507_and_leaves_nothing(self) -> None:
        response = await self.upload("obama_and_biden.jpg")  # ~1 MB of output > 400 KB
        assert response.code == 507
        assert json.loads(response.body)["error"]["code"] == "insufficient_storage"
        assert self.leftovers() == [] and self.services.gallery.count() == 0
        small = await self.upload("obama_small.jpg")  # still fits: the server carries on
        assert small.code == 201

    @gen_test(timeout=30)
    async def test_read_only_disk_gives_507(self) -> None:
        # Every file is written in tmp/ first: make that a read-only file system.
        mount_tmpfs(self.files.tmp_dir, "64k", "ro")
        response = await self.upload("obama_small.jpg")
        assert response.code == 507
        assert self.services.gallery.count() == 0
        assert (await self.http_client.fetch(self.get_url("/healthz"))).code == 200


class TestSlowWebSocketClient(FacesTestCase):
    @gen_test(timeout=60)
    async def test_a_client_that_never_reads_is_dropped_and_delays_nobody(self) -> None:
        live.MAX_BUFFER, saved = 256 * 1024, live.MAX_BUFFER
        try:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled = IOStream(sock)
            await stalled.connect(("127.0.0.1", self.get_http_port()))
            await stalled.write(
                b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n")
            await stalled.read_until(b"\r\n\r\n")  # handshake done; now it never reads
            healthy = await self.ws()
            hub = self.web.hub
            assert len(hub.clients) == 2
            payload = {"type": "test", "blob": "x" * 200_000}
            loop = asyncio.get_running_loop()
            for n in range(60):  # 12 MB to each client
                started = loop.time()
                hub.broadcast({**payload, "n": n})
                assert loop.time() - started < 0.5  # a broadcast never waits for a client
                message = json.loads(await asyncio.wait_for(healthy.read_message(), 5))
                assert message["n"] == n
            assert len(hub.clients) == 1  # the stalled one was dropped
            healthy.close()
            stalled.close()
        finally:
            live.MAX_BUFFER = saved


def test_start_up_after_a_crash_removes_nothing_and_says_what_it_found(
        tmp_path: Path, caplog) -> None:
    """A half-written file is cleaned up; a row whose file is missing (a
    volume not mounted yet?) stays, and the log says how to drop it; a file
    without a row is reported."""
    files, catalogue = Files(tmp_path), Catalogue(tmp_path)
    (files.tmp_dir / "abc.jpg.123.part").write_bytes(b"half a file")
    from tests.test_catalogue import photo

    kept, lost = photo(1), photo(2)
    for item in (kept, lost):
        catalogue.add(item)
    for name in kept.files():
        (files.photos_dir / name).write_bytes(b"x")
    orphan = "f" * 24 + ".jpg"
    (files.photos_dir / orphan).write_bytes(b"x")
    catalogue.close()
    files, catalogue = Files(tmp_path), Catalogue(tmp_path)  # what start-up does
    assert list(files.tmp_dir.iterdir()) == []
    with caplog.at_level("WARNING"):
        found = Gallery(files, catalogue, backend=None, events=Silent(),
                        defaults=Options(max_pixels=1)).audit()
    assert [p.id for p in catalogue.since(None)] == [kept.id, lost.id]  # nothing dropped
    assert found.missing == [lost.id] and [p.stem for p in found.orphans] == ["f" * 24]
    assert "1 of the 2 photos in the catalogue have no original file" in caplog.text
    assert "nothing was removed" in caplog.text and "--drop-missing" in caplog.text
    assert "1 stored photos have no catalogue row: they are added back" in caplog.text
    assert photo_bytes  # the shared photos are not needed here

"""Hostile files and abusive requests: a clear 4xx every time, the server
still healthy, and nothing written or broadcast."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from tornado.iostream import IOStream
from tornado.testing import gen_test

from tests.conftest import photo_bytes
from tests.support import hostile
from tests.support.helpers import multipart, stored
from tests.support.server import FacesTestCase


class HostileCase(FacesTestCase):
    async def assert_untouched(self, listener) -> None:
        """Healthy, nothing stored, nothing broadcast."""
        health = await self.http_client.fetch(self.get_url("/healthz"))
        assert json.loads(health.body)["status"] == "ok"
        files = self.services.files
        assert self.services.gallery.count() == 0
        assert stored(files.photos_dir) == [] and list(files.meta_dir.iterdir()) == []
        assert list(files.tmp_dir.iterdir()) == []
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(listener.read_message(), 0.3)

    async def raw(self, request: bytes, read_timeout: float = 5) -> bytes:
        """Send raw bytes on a new connection; return what comes back."""
        stream = IOStream(socket.socket())
        await stream.connect(("127.0.0.1", self.get_http_port()))
        await stream.write(request)
        try:
            return await asyncio.wait_for(stream.read_until_close(), read_timeout)
        finally:
            stream.close()


class TestRefusedFiles(HostileCase):
    @gen_test(timeout=60)
    async def test_every_refused_file(self) -> None:
        listener = await self.ws()
        for case, (filename, make, status, code) in hostile.REFUSED.items():
            for path in ("/api/photos", "/api/detect"):
                response = await self.upload(filename, make(), path=path)
                assert response.code == status, (case, path, response.body)
                error = json.loads(response.body)["error"]
                assert error["code"] == code, case
                assert error["message"] and "Traceback" not in error["message"], case
            page = await self.form_upload(filename, make())
            assert page.code == status, case
            assert error["message"].split(" ")[0].encode() in page.body, case
        await self.assert_untouched(listener)
        listener.close()

    @gen_test(timeout=30)
    async def test_awkward_requests(self) -> None:
        listener = await self.ws()
        body, content_type = multipart([("file", "a.jpg", photo_bytes("obama_small.jpg")),
                                        ("file", "b.jpg", photo_bytes("coffee.jpg"))])
        cases = [
            (body, content_type, 400, "too_many_files"),
            (b"file=abc", "application/x-www-form-urlencoded", 415, "not_multipart"),
            (photo_bytes("obama_small.jpg"), "image/jpeg", 415, "not_multipart"),
            (b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
             "multipart/form-data", 400, "bad_multipart"),
            (*multipart([("photo", "a.jpg", photo_bytes("obama_small.jpg"))]), 400,
             "missing_file"),
            (*multipart([("file", "a\x00b.jpg", photo_bytes("obama_small.jpg"))]), 400,
             "bad_multipart"),
        ]
        for data, ctype, status, code in cases:
            response = await self.http_client.fetch(
                self.get_url("/api/photos"), method="POST", body=data,
                headers={"Content-Type": ctype}, raise_error=False)
            assert (response.code, json.loads(response.body)["error"]["code"]) == (status, code)
        await self.assert_untouched(listener)
        listener.close()

    @gen_test(timeout=30)
    async def test_oversize_body_is_refused_from_the_headers(self) -> None:
        listener = await self.ws()
        answer = await self.raw(
            b"POST /api/photos HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 900000000\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n\r\n")  # and no body at all
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413")
        assert json.loads(body)["error"]["code"] == "file_too_large"
        await self.assert_untouched(listener)
        listener.close()


class TestSmallUploadCap(HostileCase):
    overrides = {"max_upload_mb": 0.05}

    @gen_test(timeout=30)
    async def test_file_over_the_cap(self) -> None:
        response = await self.upload("t1.jpg")  # 125 KB > 50 KB
        assert response.code == 413
        assert json.loads(response.body)["error"]["message"] == \
            "The upload is larger than the 0.05 MB limit."


class TestStalledClient(HostileCase):
    overrides = {"request_timeout": 0.5}

    def get_http_server(self):
        from faces.web.app import make_server

        return make_server(self._app, self.settings)

    @gen_test(timeout=30)
    async def test_client_that_stalls_after_headers_is_closed(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await self.raw(b"POST /api/photos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                b"Content-Length: 5000\r\n"
                                b"Content-Type: multipart/form-data; boundary=x\r\n\r\npartial",
                                read_timeout=10)
        assert loop.time() - started < 5  # closed by the server, not by our read timeout
        assert b"201" not in answer and self.web.inflight == 0
        assert self.services.gallery.count() == 0


class TestAcceptedOddFiles(FacesTestCase):
    @gen_test(timeout=60)
    async def test_odd_but_valid_files_are_handled(self) -> None:
        for case, (filename, make, faces, extension) in hostile.ACCEPTED.items():
            response = await self.upload(filename, make())
            assert response.code == 201, (case, response.body)
            photo = json.loads(response.body)
            assert len(photo["faces"]) == faces, case
            assert (photo["width"], photo["height"]) == (320, 240), case
            assert photo["urls"]["display"].endswith(extension), case

    @gen_test(timeout=30)
    async def test_hostile_file_names(self) -> None:
        for raw, shown in [("../../../../etc/passwd.jpg", "passwd.jpg"),
                           ("x" * 1000 + ".jpg", None),
                           ("evil\u202egnp.jpg", "evilgnp.jpg"),
                           ("日本語の写真.jpg", "日本語の写真.jpg")]:
            data = photo_bytes("obama_small.jpg") + raw.encode()[:8]  # distinct bytes each time
            photo = json.loads((await self.upload(raw, data)).body)
            if shown:
                assert photo["filename"] == shown
            else:
                assert len(photo["filename"]) <= 120 and photo["filename"].endswith(".jpg")
        names = {p.name for p in stored(self.files.photos_dir)}
        assert all(len(n) < 50 and "/" not in n for n in names)

"""The server over real HTTP and WebSockets, with the real model in a real
process pool (tornado.testing, not pytest-tornado)."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.testing import gen_test

from faces.services import Services
from faces.web.app import make_app
from faces.web.hub import Hub
from faces.web.state import Web
from tests.conftest import photo_bytes
from tests.support.helpers import multipart, stored
from tests.support.jobs import NAP
from tests.support.server import FacesTestCase


class TestUploadAndLive(FacesTestCase):
    @gen_test(timeout=30)
    async def test_upload_is_pushed_to_every_open_gallery(self) -> None:
        first, second = await self.ws(), await self.ws()
        response = await self.upload("t1.jpg")
        assert response.code == 201
        photo = json.loads(response.body)
        assert response.headers["Location"] == f"/api/photos/{photo['id']}"
        assert len(photo["faces"]) == 6
        for client in (first, second):
            event = json.loads(await asyncio.wait_for(client.read_message(), 10))
            assert event.pop("seq") == 1  # (numbered: a page replays what it missed)
            assert event == {"type": "photo.added", "photo": photo}
        first.close()
        second.close()

    @gen_test(timeout=30)
    async def test_photo_json_and_files(self) -> None:
        photo = json.loads((await self.upload("two_people.jpg")).body)
        assert set(photo) == {"id", "filename", "created", "taken", "taken_source", "width",
                              "height", "faces", "original_kept", "paths", "online", "camera",
                              "place", "urls"}
        assert photo["paths"] == [] and photo["online"] is True  # (an upload alone)
        assert (photo["filename"], photo["width"], photo["height"]) == ("two_people.jpg",
                                                                        1126, 661)
        assert photo["created"].endswith("Z")
        face = photo["faces"][0]
        assert len(face["box"]) == 4 and 0.5 <= face["score"] <= 1 and len(face["landmarks"]) == 5
        files = {kind: url for kind, url in photo["urls"].items()
                 if kind not in ("xmp", "original")}
        # the upload itself, byte for byte, as a download
        assert photo["original_kept"] and \
            photo["urls"]["original"] == f"/api/photos/{photo['id']}/original"
        original = await self.http_client.fetch(self.get_url(photo["urls"]["original"]))
        assert original.body == photo_bytes("two_people.jpg")
        assert original.headers["Content-Type"] == "image/jpeg"
        assert original.headers["Content-Disposition"].startswith(
            'attachment; filename="two_people.jpg"')
        assert original.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in original.headers["Content-Security-Policy"]
        kept = [p.name for p in self.files.photos_dir.iterdir() if ".original." in p.name]
        assert kept == [f"{photo['id']}.original.jpg"]
        hidden = await self.http_client.fetch(self.get_url(f"/uploads/{kept[0]}"),
                                              raise_error=False)
        assert hidden.code == 404  # (never served as an image: it carries EXIF and GPS)
        assert photo["urls"]["xmp"] == f"/api/photos/{photo['id']}/xmp"
        names = await self.http_client.fetch(self.get_url(photo["urls"]["xmp"]))
        assert names.headers["Content-Type"] == "application/rdf+xml"  # (nobody named yet)
        assert b"<mwg-rs:Regions" not in names.body and b"x:xmpmeta" in names.body
        for kind, url in files.items():
            assert url.startswith("/uploads/") and photo["id"] in url, kind
            served = await self.http_client.fetch(self.get_url(url))
            assert served.headers["Content-Type"] == "image/jpeg"
            assert "immutable" in served.headers["Cache-Control"]
            assert served.headers["X-Content-Type-Options"] == "nosniff"
        again = await self.http_client.fetch(self.get_url(f"/api/photos/{photo['id']}"))
        assert json.loads(again.body) == photo

    @gen_test(timeout=30)
    async def test_duplicate_upload_returns_the_same_photo(self) -> None:
        first = await self.upload("obama_small.jpg")
        listener = await self.ws()
        second = await self.upload("obama_small.jpg", path="/api/photos")
        assert (first.code, second.code) == (201, 200)
        assert json.loads(first.body) == json.loads(second.body)
        assert self.services.gallery.count() == 1
        with pytest.raises(asyncio.TimeoutError):  # nothing new to announce
            await asyncio.wait_for(listener.read_message(), 0.5)
        listener.close()

    @gen_test(timeout=30)
    async def test_same_filename_different_photos_both_kept(self) -> None:
        a = await self.upload("photo.jpg", photo_bytes("obama.jpg"))
        b = await self.upload("photo.jpg", photo_bytes("biden.jpg"))
        assert (a.code, b.code) == (201, 201)
        assert json.loads(a.body)["id"] != json.loads(b.body)["id"]
        assert self.services.gallery.count() == 2

    @gen_test(timeout=30)
    async def test_photo_without_faces_is_kept(self) -> None:
        response = await self.upload("coffee.jpg")
        assert response.code == 201 and json.loads(response.body)["faces"] == []
        page = await self.http_client.fetch(self.get_url("/"))
        assert b"0 faces" in page.body

    @gen_test(timeout=60)
    async def test_catch_up_with_after(self) -> None:
        ids = []
        for name in ("obama_small.jpg", "kit_with_rose.jpg", "coffee.jpg"):
            ids.append(json.loads((await self.upload(name)).body)["id"])
        client = await self.ws(f"?after={ids[0]}")
        replay = [json.loads(await client.read_message()) for _ in range(2)]
        assert [m["photo"]["id"] for m in replay] == ids[1:]  # oldest first
        live = await self.upload("astronaut.png")
        pushed = json.loads(await asyncio.wait_for(client.read_message(), 10))
        assert pushed["photo"]["id"] == json.loads(live.body)["id"]
        client.close()
        everything = await self.ws("?after=")
        assert [json.loads(await everything.read_message())["photo"]["id"]
                for _ in range(4)][:3] == ids
        everything.close()
        unknown = await self.ws("?after=" + "0" * 24)
        assert json.loads(await unknown.read_message()) == {"type": "resync"}
        unknown.close()
        # A page rendered at message N (People's way) hears every message after N.
        since = await self.ws("?since=2")
        assert [json.loads(await since.read_message())["seq"] for _ in range(2)] == [3, 4]
        since.close()
        for stale in ("?since=99", "?since=x"):  # from before a restart, or garbled
            page = await self.ws(stale)
            assert json.loads(await page.read_message()) == {"type": "resync"}
            page.close()

    @gen_test(timeout=60)
    async def test_listing_newest_first_with_pages(self) -> None:
        ids = [json.loads((await self.upload(n)).body)["id"]
               for n in ("obama_small.jpg", "coffee.jpg", "astronaut.png")]
        page = json.loads((await self.http_client.fetch(
            self.get_url("/api/photos?limit=2"))).body)
        assert [p["id"] for p in page["photos"]] == ids[::-1][:2]
        rest = json.loads((await self.http_client.fetch(self.get_url(page["next"]))).body)
        assert [p["id"] for p in rest["photos"]] == ids[:1] and rest["next"] is None
        bad = await self.http_client.fetch(self.get_url("/api/photos?limit=0"),
                                           raise_error=False)
        assert bad.code == 400 and json.loads(bad.body)["error"]["code"] == "bad_limit"


class TestUploadAndLiveWithYuNet(TestUploadAndLive):
    """The same, on the licence-clean YuNet detector."""

    family = "yunet"


class TestHealth(FacesTestCase):
    @gen_test(timeout=60)
    async def test_healthz_answers_while_every_worker_is_busy(self) -> None:
        workers = self.pool.workers
        busy = [asyncio.ensure_future(self.pool.run(NAP, 2)) for _ in range(workers)]
        queued = asyncio.ensure_future(self.upload("t1.jpg"))
        await asyncio.sleep(0.3)
        answers = []
        for _ in range(5):
            response = await self.http_client.fetch(self.get_url("/healthz"))
            answers.append((response.code, json.loads(response.body)["status"]))
            page = await self.http_client.fetch(self.get_url("/"))
            assert page.code == 200
        assert not any(job.done() for job in busy)  # the workers really were busy
        assert not queued.done()
        assert answers == [(200, "ok")] * 5
        assert (await queued).code == 201
        await asyncio.gather(*busy)

    def test_every_worker_was_warmed(self) -> None:
        assert len(self.pool.worker_pids()) == self.pool.workers

    def test_healthz_reports_model_and_workers(self) -> None:
        body = json.loads(self.fetch("/healthz").body)
        about = self.pool.info
        assert about.precision in ("fp32", "int8")
        assert body == {"status": "ok", "model": self.settings.model.name,
                        "detector": "scrfd", "precision": about.precision,
                        "first_pass": {"fp32": 640, "int8": 1024}[about.precision],
                        "workers": self.pool.workers, "recognition": "off",
                        "recognizer": None, "recognition_backlog": 0,
                        "recognition_redescribing": 0}


class TestHealthBeforeWarm(FacesTestCase):
    def get_app(self):
        from faces.backends.local import LocalBackend
        from faces.vision.worker import WorkerConfig
        cold = LocalBackend(WorkerConfig(model=str(self.settings.model)), workers=1)
        hub = Hub()
        self.services = Services.create(self.settings, events=hub, backend=cold)
        self.web = Web(self.services, hub)
        return make_app(self.web)

    def test_503_until_the_pool_is_warm(self) -> None:
        response = self.fetch("/healthz")
        assert response.code == 503 and json.loads(response.body)["status"] == "starting"


class TestPagesAndErrors(FacesTestCase):
    def test_gallery_page_has_form_and_empty_state(self) -> None:
        page = self.fetch("/")
        assert page.code == 200
        html = page.body.decode()
        assert 'action="/upload?_xsrf=' in html and 'enctype="multipart/form-data"' in html
        assert "No photos yet" in html
        assert "Content-Security-Policy" in page.headers

    @gen_test(timeout=30)
    async def test_form_upload_without_javascript(self) -> None:
        response = await self.form_upload("kit_with_rose.jpg")
        assert response.code == 303
        assert response.headers["Location"].startswith("/?uploaded=")
        page = await self.http_client.fetch(self.get_url(response.headers["Location"]))
        html = page.body.decode()
        assert "Uploaded kit_with_rose.jpg: 2 faces found." in html
        assert "2 faces</span>" in html

    @gen_test(timeout=30)
    async def test_form_error_is_shown_in_the_page(self) -> None:
        response = await self.form_upload("notes.jpg", b"just some text")
        assert response.code == 415
        assert b"not a supported image" in response.body
        assert response.headers["Content-Type"].startswith("text/html")

    @gen_test(timeout=30)
    async def test_form_needs_its_xsrf_token(self) -> None:
        response = await self.upload("kit_with_rose.jpg", path="/upload", follow_redirects=False)
        assert response.code == 403
        assert b"The form has expired or came from another site" in response.body
        assert self.services.gallery.count() == 0

    @gen_test(timeout=30)
    async def test_api_errors_are_json(self) -> None:
        response = await self.upload("notes.jpg", b"just some text")
        assert response.code == 415
        assert json.loads(response.body)["error"]["code"] == "unsupported_type"
        body, content_type = multipart([("other", "a.jpg", photo_bytes("obama_small.jpg"))])
        missing = await self.http_client.fetch(
            self.get_url("/api/photos"), method="POST", body=body,
            headers={"Content-Type": content_type}, raise_error=False)
        assert missing.code == 400
        assert json.loads(missing.body)["error"]["code"] == "missing_file"
        unknown = await self.http_client.fetch(self.get_url("/api/photos/nope"),
                                               raise_error=False)
        assert unknown.code == 404 and json.loads(unknown.body)["error"]["code"] == "unknown_photo"
        assert self.services.gallery.count() == 0
        assert stored(self.files.photos_dir) == []

    @gen_test(timeout=30)
    async def test_display_name_is_sanitised(self) -> None:
        response = await self.upload("../../etc/\u202egpj.exe\u200b.jpg",
                                     photo_bytes("coffee.jpg"))
        assert json.loads(response.body)["filename"] == "gpj.exe.jpg"

    @gen_test(timeout=30)
    async def test_malformed_multipart_is_a_400(self) -> None:
        response = await self.upload("bad\x01name.jpg", photo_bytes("coffee.jpg"))
        assert response.code == 400
        assert json.loads(response.body)["error"]["code"] == "bad_multipart"


def test_the_hub_replays_only_what_it_still_holds() -> None:
    """Numbered messages, the last KEPT of them replayed; a page older than
    that (or than a restart) is told to load again."""
    from faces.web.hub import KEPT, Hub

    hub = Hub()
    assert hub.since(0) == []
    for n in range(KEPT + 5):
        hub.broadcast({"type": "x", "n": n})
    assert hub.since(hub.seq) == []
    assert [json.loads(m)["n"] for m in hub.since(hub.seq - 2)] == [KEPT + 3, KEPT + 4]
    assert len(hub.since(5)) == KEPT  # the oldest kept follows 5 directly
    assert hub.since(4) is None and hub.since(hub.seq + 1) is None

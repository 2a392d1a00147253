"""Base class for tests against the app in-process (tornado.testing)."""

from __future__ import annotations

import dataclasses
import html
import re

from tornado.httpclient import HTTPResponse
from tornado.testing import AsyncHTTPTestCase
from tornado.websocket import websocket_connect

from faces.services import Services
from faces.settings import Settings
from faces.web.app import make_app
from faces.web.hub import Hub
from faces.web.state import Web
from tests.conftest import photo_bytes
from tests.support.helpers import multipart


class FacesTestCase(AsyncHTTPTestCase):
    pool = None
    family = "scrfd"  # the detector family of the backend the tests get
    settings: Settings
    overrides: dict = {}  # settings a test class changes

    def get_app(self):
        self.settings = dataclasses.replace(self.settings, **self.overrides)
        hub = Hub()
        self.services = Services.create(self.settings, events=hub, backend=self.pool)
        self.web = Web(self.services, hub)
        self.files = self.services.files
        self.io_loop.add_callback(self.services.begin)
        return make_app(self.web)

    def tearDown(self) -> None:
        self.web.stop_guard()
        self.services.recognition.stop()
        super().tearDown()
        self.services.catalogue.close()

    async def upload(self, name: str, data: bytes | None = None, path: str = "/api/photos",
                     **kwargs) -> HTTPResponse:
        body, content_type = multipart([("file", name, photo_bytes(name) if data is None
                                         else data)])
        return await self.http_client.fetch(self.get_url(path), method="POST", body=body,
                                            headers={"Content-Type": content_type},
                                            raise_error=False, **kwargs)

    async def form_upload(self, name: str, data: bytes | None = None) -> HTTPResponse:
        """Upload like the no-JavaScript page does: its form URL and XSRF cookie."""
        page = await self.http_client.fetch(self.get_url("/"))
        action = html.unescape(re.search(r'action="(/upload[^"]*)"', page.body.decode())[1])
        cookie = page.headers["Set-Cookie"].split(";")[0]
        body, content_type = multipart([("file", name, photo_bytes(name) if data is None
                                         else data)])
        return await self.http_client.fetch(
            self.get_url(action), method="POST", body=body, raise_error=False,
            follow_redirects=False, headers={"Content-Type": content_type, "Cookie": cookie})

    async def ws(self, query: str = ""):
        return await websocket_connect(f"ws://127.0.0.1:{self.get_http_port()}/ws{query}")



"""Headers, origins, XSRF, the access token, private viewing and rate limits."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.testing import gen_test
from tornado.websocket import websocket_connect

from tests.conftest import photo_bytes
from tests.support.helpers import multipart
from tests.support.server import FacesTestCase

TOKEN = "correct horse battery staple"


class TestHeadersAndOrigins(FacesTestCase):
    overrides = {"allowed_origins": "https://friend.example"}

    @gen_test(timeout=30)
    async def test_security_headers_everywhere(self) -> None:
        photo = json.loads((await self.upload("obama_small.jpg")).body)
        for path in ("/", "/api/photos", photo["urls"]["thumbnail"], "/nope", "/api/nope",
                     "/static/app.js"):
            response = await self.http_client.fetch(self.get_url(path), raise_error=False)
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "same-origin"
        page = (await self.http_client.fetch(self.get_url("/"))).body.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script
        for name in ("catalogue.sqlite3", "../catalogue.sqlite3", f"../meta/{photo['id']}.json",
                     "../cookie-secret"):
            response = await self.http_client.fetch(self.get_url(f"/uploads/{name}"),
                                                    raise_error=False)
            assert response.code in (403, 404), name

    @gen_test(timeout=30)
    async def test_api_from_other_sites_is_refused(self) -> None:
        body, ctype = multipart([("file", "a.jpg", photo_bytes("obama_small.jpg"))])
        port = self.get_http_port()
        for origin, status in (("https://evil.example", 403), (f"http://127.0.0.1:{port}", 201),
                               ("https://friend.example", 200)):
            response = await self.http_client.fetch(
                self.get_url("/api/photos"), method="POST", body=body, raise_error=False,
                headers={"Content-Type": ctype, "Origin": origin})
            assert response.code == status, origin
        forbidden = await self.http_client.fetch(
            self.get_url("/api/photos/" + "0" * 24), method="DELETE", raise_error=False,
            headers={"Origin": "https://evil.example"})
        assert json.loads(forbidden.body)["error"]["code"] == "cross_origin"

    @gen_test(timeout=30)
    async def test_websocket_origin_and_message_size(self) -> None:
        url = f"ws://127.0.0.1:{self.get_http_port()}/ws"
        with pytest.raises(HTTPClientError) as refused:
            await websocket_connect(HTTPRequest(url, headers={"Origin": "https://evil.example"}))
        assert refused.value.code == 403
        friend = await websocket_connect(HTTPRequest(
            url, headers={"Origin": "https://friend.example"}))
        friend.close()
        client = await self.ws()
        await client.write_message("x" * 10_000)  # over the 4 KB limit
        assert await asyncio.wait_for(client.read_message(), 5) is None
        assert client.close_code == 1009


class TestToken(FacesTestCase):
    overrides = {"token": TOKEN}

    async def post(self, headers: dict | None = None, name: str = "obama_small.jpg"):
        body, ctype = multipart([("file", name, photo_bytes(name))])
        return await self.http_client.fetch(
            self.get_url("/api/photos"), method="POST", body=body, raise_error=False,
            headers={"Content-Type": ctype, **(headers or {})})

    @gen_test(timeout=30)
    async def test_upload_and_delete_need_the_token(self) -> None:
        refused = await self.post()
        assert refused.code == 401 and "WWW-Authenticate" in refused.headers
        assert json.loads(refused.body)["error"]["code"] == "unauthorised"
        wrong = await self.post({"Authorization": "Bearer nope"})
        assert wrong.code == 401
        created = await self.post({"Authorization": f"Bearer {TOKEN}"})
        assert created.code == 201
        other = await self.post({"X-Faces-Token": TOKEN}, "coffee.jpg")
        assert other.code == 201
        photo_id = json.loads(created.body)["id"]
        url = self.get_url(f"/api/photos/{photo_id}")
        assert (await self.http_client.fetch(url, method="DELETE", raise_error=False)).code == 401
        detect = await self.http_client.fetch(self.get_url("/api/detect"), method="POST",
                                              body=b"", raise_error=False)
        assert detect.code == 401
        # viewing stays open
        assert (await self.http_client.fetch(url)).code == 200
        page = (await self.http_client.fetch(self.get_url("/"))).body.decode()
        assert "Log in</a> to upload" in page and 'id="upload-form"' not in page
        deleted = await self.http_client.fetch(url, method="DELETE",
                                               headers={"Authorization": f"Bearer {TOKEN}"})
        assert deleted.code == 204

    @gen_test(timeout=30)
    async def test_browser_login_form(self) -> None:
        login = await self.http_client.fetch(self.get_url("/login"))
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.body.decode())[1]
        cookie = login.headers["Set-Cookie"].split(";")[0]
        bad = await self.http_client.fetch(
            self.get_url("/login"), method="POST", raise_error=False, follow_redirects=False,
            body=f"_xsrf={xsrf}&token=guess", headers={"Cookie": cookie})
        assert bad.code == 401 and b"That token is not right." in bad.body
        good = await self.http_client.fetch(
            self.get_url("/login"), method="POST", follow_redirects=False, raise_error=False,
            body=f"_xsrf={xsrf}&token={TOKEN.replace(' ', '+')}", headers={"Cookie": cookie})
        assert good.code == 303
        session = good.headers["Set-Cookie"].split(";")[0]
        assert "HttpOnly" in good.headers["Set-Cookie"]
        assert "SameSite=Strict" in good.headers["Set-Cookie"]
        created = await self.post({"Cookie": session})
        assert created.code == 201
        page = (await self.http_client.fetch(self.get_url("/"),
                                             headers={"Cookie": session})).body.decode()
        assert 'id="upload-form"' in page and "Log out" in page


class TestPrivate(FacesTestCase):
    overrides = {"token": TOKEN, "private": True}

    @gen_test(timeout=30)
    async def test_viewing_needs_the_token_too(self) -> None:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body, ctype = multipart([("file", "a.jpg", photo_bytes("obama_small.jpg"))])
        photo = json.loads((await self.http_client.fetch(
            self.get_url("/api/photos"), method="POST", body=body,
            headers={"Content-Type": ctype, **auth})).body)
        page = await self.http_client.fetch(self.get_url("/"), follow_redirects=False,
                                            raise_error=False)
        assert page.code == 302 and page.headers["Location"] == "/login"
        for path in ("/api/photos", f"/api/photos/{photo['id']}", photo["urls"]["display"]):
            closed = await self.http_client.fetch(self.get_url(path), raise_error=False)
            assert closed.code == 401, path
            opened = await self.http_client.fetch(self.get_url(path), headers=auth)
            assert opened.code == 200, path
            assert "public" not in opened.headers.get("Cache-Control", "")
        with pytest.raises(HTTPClientError) as refused:
            await self.ws()
        assert refused.value.code == 401
        health = await self.http_client.fetch(self.get_url("/healthz"))
        assert health.code == 200


class TestRateLimit(FacesTestCase):
    overrides = {"rate_limit": 2}

    @gen_test(timeout=30)
    async def test_uploads_past_the_limit_get_429(self) -> None:
        codes = []
        for name in ("obama_small.jpg", "coffee.jpg", "astronaut.png"):
            response = await self.upload(name)
            codes.append(response.code)
        assert codes == [201, 201, 429]
        assert int(response.headers["Retry-After"]) >= 1
        assert json.loads(response.body)["error"]["code"] == "rate_limited"
        assert self.services.gallery.count() == 2


def test_rate_limiter_refills() -> None:
    from faces.web.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.wait_time("a") == 0 for _ in range(60))
    assert limiter.wait_time("a") == pytest.approx(1.0)
    assert limiter.wait_time("b") == 0  # per client
    now[0] += 1.0
    assert limiter.wait_time("a") == 0
    assert RateLimiter(0).wait_time("a") == 0  # 0 = off


def test_token_guessing_backs_off_as_documented() -> None:
    """docs/operations.md: after 5 wrong tokens within 5 minutes, 2 s at
    first, doubling with each further failure up to 15 minutes; a run of
    failures older than the window starts again."""
    from faces.web.ratelimit import FailureThrottle

    now = [0.0]
    throttle = FailureThrottle(clock=lambda: now[0])
    assert [throttle.failed("a") for _ in range(5)] == [0.0] * 5
    assert throttle.wait_time("a") == 0.0 and throttle.wait_time("b") == 0.0
    locks = [throttle.failed("a") for _ in range(12)]
    assert locks == [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]
    assert throttle.wait_time("a") == 900 and throttle.wait_time("b") == 0.0
    now[0] += 901 + 300  # the lock over and the window past: a new run
    assert throttle.wait_time("a") == 0.0
    assert [throttle.failed("a") for _ in range(6)] == [0.0] * 5 + [2.0]


def test_a_trusted_proxy_chain_names_the_client() -> None:
    """Multi-hop X-Forwarded-For: the right-most address that is not a
    trusted proxy; X-Real-IP when there is no chain; from an untrusted peer
    neither counts."""
    import ipaddress

    from faces.web.access import forwarded_client

    trusted = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.1/32")]
    chain = {"X-Forwarded-For": "198.51.100.9, 203.0.113.5, 10.1.1.1, 192.0.2.1"}
    assert forwarded_client("10.0.0.2", chain, trusted) == ("203.0.113.5", False)
    spoofed = {"X-Forwarded-For": "1.2.3.4, 198.51.100.7", "X-Forwarded-Proto": "https"}
    assert forwarded_client("10.0.0.2", spoofed, trusted) == ("198.51.100.7", True)
    only_proxies = {"X-Forwarded-For": "10.2.2.2, 10.3.3.3"}
    assert forwarded_client("10.0.0.2", only_proxies, trusted) == ("10.2.2.2", False)
    real = {"X-Real-IP": " 2001:db8::7 "}
    assert forwarded_client("192.0.2.1", real, trusted) == ("2001:db8::7", False)
    assert forwarded_client("192.0.2.1", {"X-Real-IP": "nonsense"}, trusted) == \
        ("192.0.2.1", False)
    assert forwarded_client("198.51.100.1", {**chain, **real}, trusted) == \
        ("198.51.100.1", False)  # an untrusted peer's headers are ignored


def test_limits_count_an_ipv6_client_by_its_64() -> None:
    from faces.web.access import client_key

    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff::9") == \
        "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("10.0.0.1") != client_key("10.0.0.2")


class TestRateLimitWithToken(FacesTestCase):
    """With a token only known uploaders get in, and the owner's bulk imports
    are not held to the per-address limit an open gallery needs."""

    overrides = {"rate_limit": 2, "token": TOKEN}

    @gen_test(timeout=30)
    async def test_token_holders_are_not_rate_limited(self) -> None:
        codes = []
        for name in ("obama_small.jpg", "coffee.jpg", "astronaut.png"):
            body, kind = multipart([("file", name, photo_bytes(name))])
            answer = await self.http_client.fetch(
                self.get_url("/api/photos"), method="POST", body=body, raise_error=False,
                headers={"Content-Type": kind, "Authorization": f"Bearer {TOKEN}"})
            codes.append(answer.code)
        assert codes == [201, 201, 201]

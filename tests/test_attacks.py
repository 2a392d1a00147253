"""The second security round, each attack against a real server process:
DNS rebinding, token guessing, forged client addresses, TLS, log-out, and the
API under a fuzzer (Schemathesis)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

from tests.conftest import photo_bytes
from tests.support.helpers import multipart
from tests.support.process import faces, server

EVIL = "evil.example:8282"  # a page whose DNS name now points at the gallery
TOKEN = "a long random test token"


def call(base: str, method: str, path: str, body: bytes | None = None,
         headers: dict | None = None, source: str = "127.0.0.1",
         context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
    """One request with exactly these headers (Host included), from ``source``."""
    scheme, _, rest = base.partition("://")
    host, port = rest.split(":")
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, int(port), timeout=30, context=context,
                                           source_address=(source, 0))
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=30,
                                          source_address=(source, 0))
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    headers: dict[str, str] = {}
    for name, value in answer.getheaders():  # several Set-Cookie lines: one per line
        headers[name] = f"{headers[name]}\n{value}" if name in headers else value
    return answer.status, headers, data


def upload_body(name: str = "t1.jpg") -> tuple[bytes, str]:
    return multipart([("file", name, photo_bytes(name))])


async def ws_status(base: str, host: str, origin: str) -> int:
    url = base.replace("http", "ws", 1) + "/ws"
    try:
        client = await websocket_connect(
            __import__("tornado.httpclient").httpclient.HTTPRequest(
                url, headers={"Host": host, "Origin": origin}))
    except HTTPClientError as exc:
        return exc.code
    client.close()
    return 101


def test_dns_rebinding_is_refused_on_every_route(tmp_path: Path, model_path: Path,
                                                  images: Path) -> None:
    with server(tmp_path / "data", model_path) as (_, base):
        body, kind = upload_body()
        status, _, data = call(base, "POST", "/api/photos", body, {"Content-Type": kind})
        photo = json.loads(data)
        assert status == 201
        evil = {"Host": EVIL, "Origin": f"http://{EVIL}"}
        for method, path, payload in (
                ("POST", "/api/photos", body), ("DELETE", f"/api/photos/{photo['id']}", None),
                ("GET", "/", None), ("GET", photo["urls"]["display"], None),
                ("GET", "/api/photos", None), ("GET", "/metrics", None),
                ("GET", "/static/app.js", None), ("GET", "/nowhere", None)):
            headers = {**evil, "Content-Type": kind} if payload else evil
            status, _, data = call(base, method, path, payload, headers)
            assert status == 403, (method, path, status)
            assert b"FACES_ALLOWED_HOSTS" in data
        assert asyncio.run(ws_status(base, EVIL, f"http://{EVIL}")) == 403
        # The photo is still there; health checks reach the server by any name.
        assert call(base, "GET", f"/api/photos/{photo['id']}")[0] == 200
        assert call(base, "GET", "/healthz", headers={"Host": EVIL})[0] == 200
        # IP literals (v4 and v6) and localhost are always allowed.
        for host in ("127.0.0.1:8282", "[::1]:8282", "localhost:8282", "localhost"):
            assert call(base, "GET", "/api/photos", headers={"Host": host})[0] == 200, host
    with server(tmp_path / "data", model_path,
                extra=("--allowed-hosts", "evil.example, .photos.lan")) as (_, base):
        listed = {"Host": EVIL, "Origin": f"http://{EVIL}"}
        assert call(base, "GET", "/", headers=listed)[0] == 200
        assert call(base, "GET", "/api/photos", headers={"Host": "home.photos.lan"})[0] == 200
        assert call(base, "GET", "/api/photos", headers={"Host": "photos.lan.evil"})[0] == 403
        assert asyncio.run(ws_status(base, EVIL, f"http://{EVIL}")) == 101
        status, _, _ = call(base, "DELETE", f"/api/photos/{photo['id']}", None, listed)
        assert status == 204  # the owner listed the name: it is their site now


def test_token_guessing_is_throttled_per_address(tmp_path: Path, model_path: Path,
                                                 images: Path) -> None:
    log = tmp_path / "server.log"
    body, kind = upload_body("obama_small.jpg")
    with open(log, "w") as output, server(
            tmp_path / "data", model_path, log=output,
            env={"FACES_TOKEN": TOKEN, "FACES_PRIVATE": "1"}) as (_, base):
        waits, refused = [], 0
        for n in range(14):
            status, headers, data = call(base, "POST", "/api/photos", body,
                                         {"Content-Type": kind,
                                          "Authorization": f"Bearer wrong-{n}"})
            if status == 429:
                assert json.loads(data)["error"]["code"] == "too_many_failures"
                waits.append(int(headers["Retry-After"]))
            else:
                assert status == 401
                refused += 1
        assert refused >= 5 and len(waits) >= 6  # a few tries, then locked out
        # The right token from another address is not slowed.
        status, _, _ = call(base, "POST", "/api/photos", body,
                            {"Content-Type": kind, "Authorization": f"Bearer {TOKEN}"},
                            source="127.0.0.2")
        assert status == 201
        # The locked address is refused on the API, the WebSocket and the login form.
        assert call(base, "GET", "/api/photos",
                    headers={"X-Faces-Token": TOKEN})[0] == 429
        handshake = {"Authorization": f"Bearer {TOKEN}", "Upgrade": "websocket",
                     "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                     "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
        assert call(base, "GET", "/ws", headers=handshake)[0] == 429
        assert call(base, "GET", "/ws", headers=handshake, source="127.0.0.2")[0] == 101
        _, headers, _ = call(base, "GET", "/login")
        xsrf = headers["Set-Cookie"].split(";")[0]
        status, headers, page = call(
            base, "POST", "/login", f"_xsrf={xsrf.split('=', 1)[1]}&token=guess".encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": xsrf})
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert b"Too many wrong tokens" in page
    text = log.read_text()
    assert "wrong access token from 127.0.0.1 on POST /api/photos" in text
    assert "locked out for" in text
    assert TOKEN not in text and "wrong-3" not in text  # never the tokens themselves


def test_a_short_token_is_refused_and_faces_token_makes_a_strong_one() -> None:
    result = faces("serve", env={"FACES_TOKEN": "hunter2"})
    assert result.returncode == 2 and "at least 16" in result.stderr
    made = faces("token").stdout.strip()
    assert len(made) >= 40 and made != faces("token").stdout.strip()


def test_forwarded_addresses_only_from_trusted_proxies(tmp_path: Path, model_path: Path) -> None:
    log = tmp_path / "server.log"
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with open(log, "w") as output, server(
            tmp_path / "data", model_path, log=output,
            extra=("--log-format", "json", "--trusted-proxies", "127.0.0.1/32")) as (process,
                                                                                 base):
        _, trusted, _ = call(base, "GET", "/api/photos",
                             headers={**forged, "X-Request-Id": "via-proxy"})
        _, untrusted, _ = call(base, "GET", "/api/photos", source="127.0.0.2",
                               headers={**forged, "X-Request-Id": "forged"})
        process.send_signal(signal.SIGTERM)  # every log line written before reading
        process.wait(timeout=30)
    lines = {entry["request_id"]: entry for entry in
             (json.loads(line) for line in log.read_text().splitlines())
             if "request_id" in entry}
    assert lines["via-proxy"]["client"] == "203.0.113.9"
    assert "Strict-Transport-Security" in trusted  # https at the proxy
    assert lines["forged"]["client"] == "127.0.0.2"  # a client cannot spoof its address
    assert "Strict-Transport-Security" not in untrusted


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_upload_wss_event_and_secure_cookie(tmp_path: Path, model_path: Path,
                                                  certificate, images: Path) -> None:
    cert, key = certificate
    context = ssl.create_default_context(cafile=str(cert))
    with server(tmp_path / "data", model_path, https=True,
                extra=("--certfile", str(cert), "--keyfile", str(key)),
                env={"FACES_TOKEN": TOKEN}) as (_, base):
        assert base.startswith("https://")

        async def upload_and_hear() -> tuple[int, dict]:
            from tornado.httpclient import HTTPRequest
            client = await websocket_connect(HTTPRequest(
                base.replace("https", "wss", 1) + "/ws", ssl_options=context))
            body, kind = upload_body()
            status, headers, _ = await asyncio.to_thread(
                call, base, "POST", "/api/photos", body,
                {"Content-Type": kind, "Authorization": f"Bearer {TOKEN}"}, "127.0.0.1",
                context)
            event = {"type": ""}
            while event["type"] != "photo.added":  # (with People on, "recognition" first)
                event = json.loads(await asyncio.wait_for(client.read_message(), 20))
            client.close()
            assert headers["Strict-Transport-Security"].startswith("max-age=")
            return status, event

        status, event = asyncio.run(upload_and_hear())
        assert status == 201 and len(event["photo"]["faces"]) == 6
        cookie = next(line for line in login_cookie(base, context).splitlines()
                      if line.startswith("faces_auth="))
        assert "Secure" in cookie and "HttpOnly" in cookie
    with server(tmp_path / "plain", model_path, env={"FACES_TOKEN": TOKEN}) as (_, base):
        assert "Secure" not in login_cookie(base, None)


def login_cookie(base: str, context: ssl.SSLContext | None) -> str:
    """Log in through the form; the Set-Cookie header of the login cookie."""
    _, headers, page = call(base, "GET", "/login", context=context)
    xsrf = headers["Set-Cookie"].split(";")[0]
    token = xsrf.split("=", 1)[1]
    status, answer, _ = call(base, "POST", "/login",
                             f"_xsrf={token}&token={TOKEN.replace(' ', '+')}".encode(),
                             {"Content-Type": "application/x-www-form-urlencoded",
                              "Cookie": xsrf}, context=context)
    assert status == 303, page
    return answer["Set-Cookie"]


def test_log_out_and_a_new_token_end_old_sessions(tmp_path: Path, model_path: Path,
                                                  images: Path) -> None:
    data = tmp_path / "data"
    body, kind = upload_body("coffee.jpg")
    with server(data, model_path, env={"FACES_TOKEN": TOKEN}) as (_, base):
        session = next(line for line in login_cookie(base, None).splitlines()
                       if line.startswith("faces_auth=")).split(";")[0]
        with_session = {"Content-Type": kind, "Cookie": session, "Origin": base}
        assert call(base, "POST", "/api/photos", body, with_session)[0] == 201
        _, headers, _ = call(base, "GET", "/login")
        xsrf = headers["Set-Cookie"].split(";")[0]
        status, out, _ = call(base, "POST", "/logout", f"_xsrf={xsrf.split('=', 1)[1]}".encode(),
                              {"Content-Type": "application/x-www-form-urlencoded",
                               "Cookie": f"{session}; {xsrf}"})
        assert status == 303
        cleared = next(line for line in out["Set-Cookie"].splitlines()
                       if line.startswith("faces_auth="))
        assert cleared.startswith('faces_auth="";') or cleared.startswith("faces_auth=;")
        assert "expires=" in cleared.lower()
    with server(data, model_path, env={"FACES_TOKEN": TOKEN + " changed"}) as (_, base):
        status, _, _ = call(base, "POST", "/api/photos", body,
                            {"Content-Type": kind, "Cookie": session, "Origin": base})
        assert status == 401  # the old cookie is worth nothing with a new token


def schemathesis(base: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    runner = Path(sys.executable).with_name("schemathesis")
    return subprocess.run(
        [str(runner), "run", f"{base}/api/openapi.json", "--url", base,
         "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--max-examples", os.environ.get("FACES_FUZZ_EXAMPLES", "60"),
         "--seed", os.environ.get("FACES_FUZZ_SEED", "20261130"), "--workers", "1", *extra],
        capture_output=True, text=True, timeout=300, cwd=cwd)


def test_the_api_under_schemathesis(tmp_path: Path, model_path: Path) -> None:
    """Schemathesis' standard checks against a live server, from the OpenAPI
    document: no server error; status codes, content types, headers and
    bodies as documented; requests that break the document refused; and
    use-after-delete. Not "positive data acceptance": the document can say
    a file is bytes, not that the bytes are a photo, so generated files are
    rightly refused with a documented 4xx."""
    log = tmp_path / "server.log"
    with open(log, "w") as output, server(tmp_path / "data", model_path, log=output,
                                          extra=("--rate-limit", "0")) as (_, base):
        result = schemathesis(base, tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
    assert "Traceback" not in log.read_text()


def test_the_api_under_schemathesis_with_accounts(tmp_path: Path, model_path: Path) -> None:
    """The same with accounts on, as the owner's API key (made from a
    session): every route, the sessions, keys and share links' too. (Not
    the accounts themselves: the fuzzer would demote or remove the owner its
    key belongs to; they are fuzzed with the token below.)"""
    cheap = {"FACES_PASSWORD_TIME": "1", "FACES_PASSWORD_MEMORY": "8"}
    made = faces("user", "add", "olive", "--role", "owner", "--data-dir", str(tmp_path / "data"),
                 env=cheap, input="olive-owner-pw\n")
    assert made.returncode == 0, made.stderr
    log = tmp_path / "server.log"
    with open(log, "w") as output, server(tmp_path / "data", model_path, log=output, env=cheap,
                                          extra=("--rate-limit", "0")) as (_, base):
        host = base.split("//", 1)[1]
        connection = http.client.HTTPConnection(host, timeout=30)
        connection.request("POST", "/api/session", json.dumps(
            {"name": "olive", "password": "olive-owner-pw"}),
            {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 201
        session = answer.getheader("Set-Cookie").split(";")[0]
        connection.request("POST", "/api/keys", json.dumps({"label": "fuzz"}),
                           {"Content-Type": "application/json", "Cookie": session})
        answer = connection.getresponse()
        key = json.loads(answer.read())["key"]
        connection.close()
        result = schemathesis(base, tmp_path, "-H", f"Authorization: Bearer {key}",
                              "--exclude-path-regex", "^/api/users")
        assert result.returncode == 0, result.stdout[-6000:]
        assert " passed" in result.stdout
    with open(log, "a") as output, server(tmp_path / "data", model_path, log=output,
                                          env={**cheap, "FACES_TOKEN": "the owner's token here"},
                                          extra=("--rate-limit", "0")) as (_, base):
        result = schemathesis(base, tmp_path, "-H", "Authorization: Bearer the owner's token "
                              "here", "--include-path-regex", "^/api/users")
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout
    assert "Traceback" not in log.read_text()

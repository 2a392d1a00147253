"""Access, measured with the real server (`faces serve`) at production
password cost:

    python bench/access.py          # also part of `make bench`

- a login (`POST /api/session`) at the default Argon2id cost, and a request
  with its session (the per-request check);
- how long after a share link is revoked its holder's WebSocket is closed
  and its files refused (target: within a second);
- how long after a link's expiry the same happens (the server's guard looks
  every second);
- how long after a user's role changes from the command line, the server
  running, their open page's WebSocket is closed.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.helpers import multipart  # noqa: E402
from tests.support.process import free_port  # noqa: E402

SHARED = ROOT.parent / "shared"
MODEL = Path(os.environ.get("FACES_MODEL") or SHARED / "models" / "scrfd_2.5g_bnkps.onnx")
PHOTO = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images") / "obama.jpg"
RESULTS = ROOT / "bench" / "results"
PASSWORD = "bench-owner-password"


def call(host: str, method: str, path: str, body: bytes | None = None,
         headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(host, timeout=60)
    connection.request(method, path, body, headers or {})
    answer = connection.getresponse()
    data = answer.read()
    connection.close()
    return answer.status, dict(answer.getheaders()), data


def cookie(headers: dict) -> str:
    return headers["Set-Cookie"].split(";")[0]


async def closed_after(socket: object, act: object) -> float:
    """Seconds from ``act()`` returning to the server closing ``socket``."""
    await asyncio.get_running_loop().run_in_executor(None, act)
    done = time.perf_counter()
    while await asyncio.wait_for(socket.read_message(), 30) is not None:
        pass
    return time.perf_counter() - done


async def measure(host: str, data: Path) -> dict:
    json_type = {"Content-Type": "application/json"}
    logins = []
    for _ in range(5):
        started = time.perf_counter()
        status, headers, _ = call(host, "POST", "/api/session", json.dumps(
            {"name": "olive", "password": PASSWORD}).encode(), json_type)
        logins.append(time.perf_counter() - started)
        assert status == 201
    session = cookie(headers)
    body, kind = multipart([("file", PHOTO.name, PHOTO.read_bytes())])
    _, _, answer = call(host, "POST", "/api/photos", body,
                             {"Content-Type": kind, "Cookie": session})
    photo = json.loads(answer)
    requests = []
    for _ in range(50):
        started = time.perf_counter()
        call(host, "GET", f"/api/photos/{photo['id']}", headers={"Cookie": session})
        requests.append(time.perf_counter() - started)

    async def guest_of(days: float) -> tuple[dict, str, object]:
        _, _, answer = call(host, "POST", "/api/shares", json.dumps(
            {"photos": [photo["id"]], "days": days}).encode(), {**json_type, "Cookie": session})
        share = json.loads(answer)
        _, headers, _ = call(host, "GET", share["url"].split(host, 1)[1])
        guest = cookie(headers)
        socket = await websocket_connect(HTTPRequest(f"ws://{host}/ws",
                                                     headers={"Cookie": guest}))
        return share, guest, socket

    share, guest, socket = await guest_of(30)
    revoke = await closed_after(socket, lambda: call(host, "DELETE",
                                                     f"/api/shares/{share['id']}",
                                                     headers={"Cookie": session}))
    refused = call(host, "GET", photo["urls"]["display"], headers={"Cookie": guest})[0]
    lifetime = 3.0
    share, guest, socket = await guest_of(lifetime / 86400)
    expires = time.time() + lifetime  # (within the moment it took to make)
    while await asyncio.wait_for(socket.read_message(), 30) is not None:
        pass
    expiry = time.time() - expires
    expired = call(host, "GET", photo["urls"]["display"], headers={"Cookie": guest})[0]
    viewer = subprocess.run([sys.executable, "-m", "faces", "user", "add", "vera", "--role",
                             "viewer", "--data-dir", str(data)], input=PASSWORD + "\n",
                            capture_output=True, text=True, timeout=120)
    assert viewer.returncode == 0, viewer.stderr
    status, headers, _ = call(host, "POST", "/api/session", json.dumps(
        {"name": "vera", "password": PASSWORD}).encode(), json_type)
    socket = await websocket_connect(HTTPRequest(f"ws://{host}/ws",
                                                 headers={"Cookie": cookie(headers)}))

    def demote() -> None:
        done = subprocess.run([sys.executable, "-m", "faces", "user", "role", "vera", "editor",
                               "--data-dir", str(data)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr

    role = await closed_after(socket, demote)
    return {"login_seconds_median": round(statistics.median(logins), 3),
            "request_with_session_ms_median": round(1000 * statistics.median(requests), 2),
            "revoked_link_websocket_closed_after_seconds": round(revoke, 3),
            "revoked_link_file_status": refused,
            "expired_link_websocket_closed_after_expiry_seconds": round(expiry, 3),
            "expired_link_file_status": expired,
            "role_changed_websocket_closed_after_seconds": round(role, 3)}


def open_requests(host: str) -> float:
    """The same request in a gallery without accounts (median ms)."""
    body, kind = multipart([("file", PHOTO.name, PHOTO.read_bytes())])
    photo = json.loads(call(host, "POST", "/api/photos", body, {"Content-Type": kind})[2])
    times = []
    for _ in range(50):
        started = time.perf_counter()
        call(host, "GET", f"/api/photos/{photo['id']}")
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 2)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="faces-access-") as tmp:
        data = Path(tmp) / "data"
        with serving(Path(tmp) / "open") as host:
            before = open_requests(host)
        made = subprocess.run([sys.executable, "-m", "faces", "user", "add", "olive", "--role",
                               "owner", "--data-dir", str(data)], input=PASSWORD + "\n",
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        with serving(data) as host:
            results = asyncio.run(measure(host, data))
        results["request_without_accounts_ms_median"] = before
    print("access")
    for name, value in results.items():
        print(f"  {name}: {value}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "access.json").write_text(json.dumps(results, indent=2) + "\n")


@contextmanager
def serving(data: Path) -> Iterator[str]:
    """A real `faces serve` on ``data`` (People off), its host:port once healthy."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port",
         str(port), "--data-dir", str(data), "--workers", "1", "--model", str(MODEL),
         "--recognition-model", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if call(host, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield host
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()

"""`faces import` against a real server: a folder tree into the gallery,
live; a second run skips what is stored; a busy server is waited for."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from tornado.websocket import websocket_connect

from tests.support.process import get_json, server


def library(images: Path, root: Path) -> Path:
    """A small photo library: folders, a text file, a photo that is not one."""
    (root / "2019" / "summer").mkdir(parents=True)
    shutil.copy(images / "t1.jpg", root / "t1.jpg")
    shutil.copy(images / "coffee.jpg", root / "2019" / "coffee.JPG")
    shutil.copy(images / "kit_with_rose.jpg", root / "2019" / "summer" / "kit.jpeg")
    (root / "notes.txt").write_text("not a photo, not even tried")
    (root / "2019" / "broken.jpg").write_text("<html>this is no photo</html>")
    return root


def run_import(base: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "faces", "import", *args, "--server", base],
                          capture_output=True, text=True, timeout=300)


def listen(base: str, events: list, expected: int) -> threading.Thread:
    """A gallery open in the background, collecting photo.added events."""
    async def read() -> None:
        client = await websocket_connect(base.replace("http", "ws", 1) + "/ws")
        while len(events) < expected:
            message = await asyncio.wait_for(client.read_message(), 60)
            if message is None:
                break
            event = json.loads(message)
            if event["type"] == "photo.added":  # (People's events come too)
                events.append(event)
        client.close()

    thread = threading.Thread(target=asyncio.run, args=(read(),), daemon=True)
    thread.start()
    return thread


def posts(log: Path) -> int:
    """Uploads the server answered, from its access log."""
    return sum("faces.access" in line and "POST /api/photos" in line
               for line in log.read_text().splitlines())


def test_a_library_fills_an_open_gallery_and_resumes(tmp_path: Path, model_path: Path,
                                                    images: Path) -> None:
    root = library(images, tmp_path / "photos")
    log = tmp_path / "server.log"
    with open(log, "w") as output, server(tmp_path / "data", model_path,
                                          log=output) as (_, base):
        events: list = []
        watcher = listen(base, events, 3)
        first = run_import(base, str(root))
        watcher.join(30)
        assert first.returncode == 1  # broken.jpg was refused
        assert "imported 4 photos: 3 stored (8 faces), 0 already there, 1 refused: " \
            "1 unsupported_type" in first.stdout
        assert "broken.jpg: This is not a supported image" in first.stderr
        assert sorted(e["photo"]["filename"] for e in events) == ["coffee.JPG", "kit.jpeg",
                                                                 "t1.jpg"]
        listing = get_json(base + "/api/photos")[1]["photos"]
        assert len(listing) == 3
        posts_before = posts(log)
        again = run_import(base, str(root))
        assert "0 stored (0 faces), 3 already there" in again.stdout
        # Only the refused file was sent again: stored ones were asked about, not sent.
        assert posts(log) == posts_before + 1


def test_a_busy_server_is_waited_for(tmp_path: Path, model_path: Path, images: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for name in ("t1.jpg", "coffee.jpg", "kit_with_rose.jpg", "obama.jpg", "biden.jpg",
                 "two_people.jpg"):
        shutil.copy(images / name, root / name)
    log = tmp_path / "server.log"
    with open(log, "w") as output, server(tmp_path / "data", model_path, log=output,
                                          extra=("--max-queue", "0")) as (_, base):
        result = run_import(base, str(root), "--concurrency", "4")
        assert result.returncode == 0, result.stderr
        assert "6 stored" in result.stdout
        assert len(get_json(base + "/api/photos")[1]["photos"]) == 6
    assert "503 POST /api/photos" in log.read_text()  # it was busy, and waited


def test_a_429_is_waited_for_as_long_as_its_retry_after_says(tmp_path: Path,
                                                             images: Path) -> None:
    """The server's word on when to come back is kept: two 429 answers with
    Retry-After: 1, then the upload goes through (a stand-in server that
    counts the time between the tries)."""
    import http.server
    import time

    tries: list[float] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def answer(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json",
                               "Content-Length": str(len(data)), **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.answer(404, {"error": {"code": "not_found", "message": "No such photo."}})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            tries.append(time.monotonic())
            if len(tries) <= 2:
                self.answer(429, {"error": {"code": "rate_limited", "message": "Slow down."}},
                            {"Retry-After": "1"})
            else:
                self.answer(201, {"id": "0" * 24, "faces": [{}, {}]})

    stand_in = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    root = tmp_path / "photos"
    root.mkdir()
    shutil.copy(images / "kit_with_rose.jpg", root / "kit.jpg")
    try:
        result = run_import(f"http://127.0.0.1:{stand_in.server_port}", str(root))
    finally:
        stand_in.shutdown()
    assert result.returncode == 0, result.stderr
    assert "1 stored (2 faces)" in result.stdout
    assert len(tries) == 3
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(tries))

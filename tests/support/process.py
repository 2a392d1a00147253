"""Running the real `faces` command in a subprocess, for tests."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from tests.conftest import photo_bytes
from tests.support.helpers import multipart


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def faces(*args: str, env: dict | None = None, timeout: float = 60,
          input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "faces", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, input=input)


def get_json(url: str, insecure: bool = False) -> tuple[int, dict]:
    """GET and decode JSON (``insecure``: accept any TLS certificate)."""
    context = ssl._create_unverified_context() if insecure else None
    try:
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def call_json(url: str, method: str, body: object) -> tuple[int, dict]:
    """A JSON request (PATCH, POST, PUT) and its decoded answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@contextmanager
def server(data_dir: Path, model: Path, port: int | None = None, extra: tuple[str, ...] = (),
           log: IO | None = None, env: dict | None = None, https: bool = False,
           failing: bool = False) -> Iterator[tuple[subprocess.Popen, str]]:
    """A real `faces serve` on loopback (with ``extra`` flags), yielded once
    /healthz answers 200 (``failing``: or 503 "failing", started but unwell).
    Its output is piped (read it once it has stopped), or written to ``log``
    for a server that will answer many requests."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data_dir), "--workers", "1", "--model", str(model), *extra],
        stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})})
    base = f"{'https' if https else 'http'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else log
            try:
                status, health = get_json(base + "/healthz", insecure=https)
                if status == 200 or (failing and health.get("status") == "failing"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not become healthy"
            time.sleep(0.1)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def upload(base: str, name: str, data: bytes | None = None) -> tuple[int, dict]:
    body, content_type = multipart([("file", name, photo_bytes(name) if data is None
                                     else data)])
    request = urllib.request.Request(base + "/api/photos", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())

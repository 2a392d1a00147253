"""`faces import`: a whole photo library into a running gallery, through
its HTTP API, so the server (and its cluster) does the work and every open
gallery fills live. Photos already stored are skipped by content hash,
asked of the server before any bytes are sent, so an interrupted import
just resumes; 429 and 503 answers are retried after their Retry-After. A
photo's XMP sidecar (``IMG_1234.jpg.xmp``, else ``IMG_1234.xmp``) goes with
it: the people its face regions name are put on its faces.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from ..library.records import content_id
from ..vision.probe import SUFFIXES
from ..vision.xmp import MAX_PACKET  # (a larger sidecar is not read: not sent either)
from .common import CommandError, Progress, command, config

MAX_RETRIES = 20  # 429/503 answers one file may get before it counts as failed
MAX_WAIT = 60.0  # longest pause asked by a Retry-After that we honour


@dataclass
class Summary:
    stored: int = 0
    duplicates: int = 0
    faces: int = 0
    refused: Counter = field(default_factory=Counter)  # error code -> files
    failures: list[str] = field(default_factory=list)  # "path: message"

    @property
    def done(self) -> int:
        return self.stored + self.duplicates + sum(self.refused.values())

    def line(self) -> str:
        refused = ", ".join(f"{n} {code}" for code, n in sorted(self.refused.items()))
        return (f"{self.stored} stored ({self.faces} faces), {self.duplicates} already there"
                + (f", {sum(self.refused.values())} refused: {refused}" if refused else ""))


def sidecar(path: Path) -> bytes | None:
    """The XMP sidecar beside a photo (``name.jpg.xmp``, else ``name.xmp``)."""
    for candidate in (path.with_name(path.name + ".xmp"), path.with_suffix(".xmp")):
        try:
            if candidate.is_file() and candidate.stat().st_size <= MAX_PACKET:
                return candidate.read_bytes()
        except OSError:
            continue
    return None


def photos(folders: Iterable[Path]) -> Iterator[Path]:
    """Every photo file under ``folders`` (by name), in a stable order."""
    for folder in folders:
        if folder.is_file():
            yield folder
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in SUFFIXES:
                yield path


class Importer:
    def __init__(self, server: str, token: str = "", concurrency: int = 4,
                 on_file: Callable[[Summary], None] | None = None) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.concurrency = concurrency
        self.on_file = on_file
        self.summary = Summary()
        self.client = AsyncHTTPClient(max_clients=concurrency)

    async def run(self, files: list[Path]) -> Summary:
        queue: asyncio.Queue[Path] = asyncio.Queue()
        for path in files:
            queue.put_nowait(path)

        async def take() -> None:
            while not queue.empty():
                await self.one(queue.get_nowait())
                if self.on_file:
                    self.on_file(self.summary)

        await asyncio.gather(*(take() for _ in range(max(1, self.concurrency))))
        return self.summary

    async def one(self, path: Path) -> None:
        summary = self.summary
        try:
            data = path.read_bytes()
        except OSError as exc:
            summary.refused["unreadable"] += 1
            summary.failures.append(f"{path}: {exc.strerror}")
            return
        photo_id = content_id(data)
        status, _ = await self.call("GET", f"/api/photos/{photo_id}")
        if status == 200:
            summary.duplicates += 1
            return
        status, answer = await self.call("POST", "/api/photos", data, path.name,
                                         sidecar(path), modified(path))
        if status in (200, 201):
            summary.stored += status == 201
            summary.duplicates += status == 200
            summary.faces += len(answer.get("faces", [])) if status == 201 else 0
            return
        error = answer.get("error", {})
        summary.refused[error.get("code", str(status))] += 1
        summary.failures.append(f"{path}: {error.get('message', f'HTTP {status}')}")

    async def call(self, method: str, path: str, data: bytes | None = None,
                   name: str = "", xmp: bytes | None = None, when: str | None = None
                   ) -> tuple[int, dict[str, Any]]:
        """One request, retried after the server's Retry-After on 429 / 503."""
        headers = dict(self.headers)
        body = None
        if data is not None:
            boundary = uuid.uuid4().hex
            safe = name.replace('"', "_").replace("\r", "_").replace("\n", "_")
            parts = [("file", safe, "application/octet-stream", data)]
            if xmp is not None:
                parts.append(("xmp", safe + ".xmp", "application/rdf+xml", xmp))
            body = b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
                + content + b"\r\n" for field, filename, kind, content in parts
            ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="modified"\r\n\r\n'
                 f'{when}\r\n'.encode() if when else b"") + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        for _ in range(MAX_RETRIES):
            request = HTTPRequest(self.server + path, method=method, body=body,
                                  headers=headers, request_timeout=300)
            try:
                answer = await self.client.fetch(request, raise_error=False)
            except (OSError, HTTPClientError) as exc:
                return 0, {"error": {"code": "unreachable",
                                     "message": f"cannot reach {self.server}: {exc}"}}
            if answer.code in (429, 503) and answer.headers.get("Retry-After"):
                wait = float(answer.headers["Retry-After"])
                await asyncio.sleep(min(MAX_WAIT, max(0.5, wait)))
                continue
            try:
                decoded = json.loads(answer.body) if answer.body else {}
            except ValueError:
                decoded = {}
            return answer.code, decoded if isinstance(decoded, dict) else {}
        return answer.code, {"error": {"code": "busy", "message": "the server stayed busy"}}


def modified(path: Path) -> str | None:
    """The file's modification time, wall clock with this machine's offset:
    its date taken when the photo itself holds none."""
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")


def run(args: argparse.Namespace) -> int:
    found = config(args)
    folders = [Path(name) for name in args.folders]
    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        raise CommandError(f"no such folder or file: {', '.join(missing)}")
    files = list(photos(folders))
    print(f"importing {len(files)} photos into {found.server}", file=sys.stderr)
    progress = Progress(len(files), "photos")
    importer = Importer(found.server, found.token, found.concurrency,
                        lambda summary: progress(summary.done, extra=f"{summary.faces} faces"))
    summary = asyncio.run(importer.run(files))
    for failure in summary.failures:
        print(f"faces: {failure}", file=sys.stderr)
    print(f"imported {len(files)} photos: {summary.line()}")
    return 1 if summary.failures else 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    bring = command(
        commands, "import", run,
        help="send a whole photo library to a running gallery",
        description="Walk the folders and upload every photo through the gallery's API "
        "(the server does the work; open galleries fill live). Photos already stored are "
        "skipped by content hash, so an interrupted import resumes. Exits 1 if any failed.")
    bring.add_argument("folders", nargs="+", metavar="DIR", help="folders (or files)")

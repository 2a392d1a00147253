"""A large library: how faces holds at 1,000, 10,000 and 100,000 photos.

    python bench/scale.py build DIR --photos 100000    # a gallery, with the project's own catalogue
    python bench/scale.py measure DIR                  # the real server on it: the table below
    python bench/scale.py all --photos 1000 10000 100000   # both, side by side (`make bench`)

`build` makes a data directory as a long-used gallery would be: about 2.9
faces a photo, people whose sizes follow Zipf's law (200 / 632 / 2,000
people at 1k / 10k / 100k photos), 5 % of them named, descriptors shaped
like SFace's (128 numbers, unit length, near their person's), most faces
in a person and the rest waiting. The catalogue is made by the project's
own code (its schema, by migration), the rows written in bulk; the photo
files are hard links to one small JPEG.

`measure` starts the real server (`faces serve`, two workers, People on)
and times: the port opening and readiness; p50/p95 of the pages and calls
a person uses; `/healthz` p99 from a second client while a first walks
every People page; the server's RSS; grouping one new face against all.
Loops are bounded; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from faces.library.catalogue import CATALOGUE, Catalogue
from faces.library.catalogue_people import RECOUNT
from faces.library.files import Files

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MODEL = Path(os.environ.get("FACES_MODEL") or SHARED / "models" / "scrfd_2.5g_bnkps.onnx")
RECOGNIZER = Path(os.environ.get("FACES_RECOGNITION_MODEL")
                  or SHARED / "models" / "face_recognition_sface_2021dec_int8bq.onnx")
RESULTS = ROOT / "bench" / "results"
FACES_PER_PHOTO = 2.9
ASSIGNED = 0.7  # faces in a person; the rest wait (strangers, small faces)
NAMED = 0.05
REQUESTS = 40  # timed requests per call
TWENTY_YEARS_AGO = datetime(2006, 1, 1)


def people_for(photos: int) -> int:
    """200 people at 1,000 photos, 632 at 10,000, 2,000 at 100,000."""
    return round(200 * (photos / 1000) ** 0.5)


def build(folder: Path, photos: int, seed: int = 0) -> dict:
    """A gallery of ``photos`` photos in ``folder`` (made new)."""
    started = time.monotonic()
    rng = np.random.default_rng(seed)
    files = Files(folder)
    Catalogue(folder).close()  # the schema, by the project's own migrations
    template = np.full((300, 400, 3), 180, np.uint8)
    cv2.rectangle(template, (150, 80), (250, 200), (90, 120, 200), -1)
    jpeg = cv2.imencode(".jpg", template)[1].tobytes()
    links = 0  # a file takes at most 65,000 links (ext4): a new copy every 60,000
    count = people_for(photos)
    ranks = np.arange(1, count + 1)
    weights = 1.0 / ranks  # Zipf: the n-th person has 1/n of the first's faces
    weights /= weights.sum()
    centres = rng.normal(size=(count, 128)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    person_ids = [secrets.token_hex(6) for _ in range(count)]
    db = sqlite3.connect(folder / CATALOGUE, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    now = "2026-12-01T00:00:00.000000Z"
    db.executemany("INSERT INTO people (id, name, hidden, created) VALUES (?, ?, 0, ?)",
                   [(pid, f"Person {n}" if n < max(1, int(count * NAMED)) else None, now)
                    for n, pid in enumerate(person_ids)])
    photo_rows, face_rows = [], []
    face_id = 0
    for n in range(photos):
        photo_id = secrets.token_hex(12)
        names = {"display": f"{photo_id}.jpg", "annotated": f"{photo_id}.annotated.jpg",
                 "thumbnail": f"{photo_id}.thumb.jpg"}
        for name in names.values():
            if links % 60_000 == 0:
                source = folder / f"template-{links // 60_000}.jpg"
                source.write_bytes(jpeg)
            os.link(source, files.photos_dir / name)
            links += 1
        # taken over 20 years, in no order of upload (a library imported at once)
        taken = TWENTY_YEARS_AGO + timedelta(seconds=int(rng.integers(0, 20 * 365 * 86400)))
        photo_rows.append((photo_id, f"IMG_{n:06d}.jpg", f"2026-01-01T00:00:{n % 60:02d}Z",
                           400, 300, names["display"], names["annotated"],
                           names["thumbnail"], taken.isoformat(), "DateTimeOriginal",
                           taken.isoformat() + ".000000"))
        faces = max(1, int(rng.poisson(FACES_PER_PHOTO - 1)) + 1)
        people_here = rng.choice(count, size=faces, p=weights)
        seen = set()
        for position in range(faces):
            who = int(people_here[position])
            person = person_ids[who] if rng.random() < ASSIGNED and who not in seen else None
            seen.add(who)
            vector = centres[who] + rng.normal(scale=0.045, size=128).astype(np.float32)
            vector /= np.linalg.norm(vector)
            face_id += 1
            box = (10.0 + 60 * position, 20.0, 60.0 + 60 * position, 90.0)
            marks = json.dumps([[box[0] + 15, 40], [box[0] + 35, 40], [box[0] + 25, 55],
                                [box[0] + 17, 70], [box[0] + 33, 70]])
            face_rows.append((face_id, photo_id, position, *box, 0.9, marks, vector.tobytes(),
                              person, 0, f"{photo_id}.{face_id}.jpg", "sface", 1.0))
        if len(face_rows) > 50_000:
            flush(db, photo_rows, face_rows)
    flush(db, photo_rows, face_rows)
    db.execute("UPDATE photos SET recognized = 1")
    db.execute("COMMIT")
    db.execute("BEGIN")
    db.execute("UPDATE faces SET (seq, taken_key) = (SELECT seq, taken_key FROM photos "
               "WHERE photos.id = faces.photo)")
    db.execute(RECOUNT.replace("WHERE id = ?", ""))  # the catalogue's own counts and covers
    db.execute("DELETE FROM people WHERE photos = 0")
    db.execute("COMMIT")
    db.close()
    return {"photos": photos, "faces": face_id, "people": count,
            "seconds": round(time.monotonic() - started, 1)}


def flush(db: sqlite3.Connection, photo_rows: list, face_rows: list) -> None:
    db.executemany("INSERT INTO photos (id, filename, created, width, height, display, "
                   "annotated, thumbnail, taken, taken_source, taken_key) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", photo_rows)
    db.executemany("INSERT INTO faces (id, photo, position, x1, y1, x2, y2, score, landmarks, "
                   "descriptor, person, pinned, crop, recognizer, quality) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", face_rows)
    photo_rows.clear()
    face_rows.clear()


# -- measuring -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


async def timed(client: AsyncHTTPClient, url: str, method: str = "GET", body: object = None
                ) -> tuple[float, object]:
    started = time.perf_counter()
    answer = await client.fetch(HTTPRequest(
        url, method=method, body=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"}, request_timeout=120),
        raise_error=False)
    elapsed = 1000 * (time.perf_counter() - started)
    if answer.code >= 400:
        raise RuntimeError(f"{method} {url}: {answer.code} {answer.body[:200]!r}")
    return elapsed, json.loads(answer.body) if answer.headers.get(
        "Content-Type", "").startswith("application/json") else None


async def series(client: AsyncHTTPClient, url: str, count: int = REQUESTS, **kwargs: object
                 ) -> dict:
    times = [(await timed(client, url, **kwargs))[0] for _ in range(count)]
    return {"p50": percentile(times, 50), "p95": percentile(times, 95)}


async def measure_server(base: str, folder: Path, edits_only: bool = False) -> dict:
    client = AsyncHTTPClient(max_clients=4)
    db = sqlite3.connect(folder / CATALOGUE)
    biggest, second = [row[0] for row in db.execute(
        "SELECT id FROM people ORDER BY photos DESC, id LIMIT 2")]
    deep = db.execute("SELECT p.id FROM photos p WHERE p.id IN (SELECT photo FROM faces WHERE "
                      "person = ?) ORDER BY p.seq LIMIT 1 OFFSET 10", (biggest,)).fetchone()[0]
    free_face = db.execute("SELECT id FROM faces WHERE person IS NULL LIMIT 1").fetchone()[0]
    victims = [row[0] for row in db.execute("SELECT id FROM photos ORDER BY seq LIMIT ?",
                                            (REQUESTS,))]
    db.close()
    found: dict = {}
    # First, on the gallery as built: the first naming of the biggest person
    # (it gathers every waiting face that matches them) and merging the two
    # biggest, each while a second client polls /healthz. Measured after any
    # other edit, they would find nothing left to gather.
    found["first naming of the biggest, /healthz polled"] = await edit_while_polled(
        base, f"/api/people/{biggest}", "PATCH", {"name": "The biggest"})
    found["merging the two biggest, /healthz polled"] = await edit_while_polled(
        base, f"/api/people/{biggest}/merge", "POST", {"people": [second]})
    if edits_only:
        return found
    # (the second biggest is merged now: the next one stands in for it below)
    second = (await timed(client, base + "/api/people?limit=2"))[1]["people"][1]["id"]
    found["GET /"] = await series(client, base + "/")
    # the timeline: its first page, a jump to a year, a deep page by key
    found["GET /api/photos (timeline, first page)"] = await series(client, base + "/api/photos")
    found["GET /api/photos?to=2012 (a jump to a year)"] = await series(
        client, base + "/api/photos?to=2012")
    db = sqlite3.connect(folder / CATALOGUE)
    middle = db.execute("SELECT id FROM photos ORDER BY taken_key DESC, seq DESC LIMIT 1 "
                        "OFFSET 50000").fetchone()[0]
    db.close()
    found["GET /api/photos?before=<50,000th> (a deep page)"] = await series(
        client, f"{base}/api/photos?before={middle}")
    found["/healthz p99 while the timeline is walked"] = await health_while(
        base, "/api/photos?limit=200")
    found["GET /people"] = await series(client, base + "/people")
    found["GET /api/people (first page)"] = await series(client, base + "/api/people")
    found["GET /api/people?named=1&hidden=1&limit=200 (each gallery page)"] = await series(
        client, base + "/api/people?named=1&hidden=1&limit=200")
    _, first = await timed(client, base + "/api/people?limit=48")
    cursor = first["next"]
    deep_people = base + cursor if cursor else base + "/api/people"
    found["GET /api/people (a page by cursor)"] = await series(client, deep_people)
    found["GET /api/people/<biggest>"] = await series(client, f"{base}/api/people/{biggest}")
    found["GET /api/photos?person=<biggest> (first page)"] = await series(
        client, f"{base}/api/photos?person={biggest}")
    found["GET /api/photos?person=<biggest> (deep page)"] = await series(
        client, f"{base}/api/photos?person={biggest}&before={deep}")
    found["PATCH name of the biggest"] = await series(
        client, f"{base}/api/people/{biggest}", method="PATCH", body={"name": "The biggest"})
    found["PATCH hidden of the biggest"] = await series(
        client, f"{base}/api/people/{biggest}", method="PATCH", body={"hidden": False})
    # merging: the next smallest people, one per request, into the biggest
    db = sqlite3.connect(folder / CATALOGUE)
    smalls = [row[0] for row in db.execute(
        "SELECT id FROM people WHERE id NOT IN (?, ?) ORDER BY photos, id LIMIT ?",
        (biggest, second, REQUESTS))]
    db.close()
    times = []
    for source in smalls:
        times.append((await timed(client, f"{base}/api/people/{biggest}/merge", "POST",
                                  {"people": [source]}))[0])
    found["merge a person into the biggest"] = {"p50": percentile(times, 50),
                                                "p95": percentile(times, 95)}
    times = []
    for n in range(REQUESTS):
        target = second if n % 2 else biggest
        times.append((await timed(client, f"{base}/api/faces/{free_face}/person", "PUT",
                                  {"person": target}))[0])
    found["move a face"] = {"p50": percentile(times, 50), "p95": percentile(times, 95)}
    times = []
    for photo in victims:
        times.append((await timed(client, f"{base}/api/photos/{photo}", "DELETE"))[0])
    found["delete a photo"] = {"p50": percentile(times, 50), "p95": percentile(times, 95)}
    found["/healthz p99 while People is walked"] = await health_while_walking(base)
    return found


class Prober:
    """``/healthz`` polled from a thread of its own (its own connection, no
    event loop shared with the client that edits or reads the WebSocket, so
    the times are the server's alone), every 10 ms until stopped."""

    def __init__(self, base: str) -> None:
        import http.client
        import threading
        from urllib.parse import urlsplit

        where = urlsplit(base)
        self.connection = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
        self.times: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set() or len(self.times) < 20:
            started = time.perf_counter()
            self.connection.request("GET", "/healthz")
            self.connection.getresponse().read()
            self.times.append(1000 * (time.perf_counter() - started))
            time.sleep(0.01)

    def __enter__(self) -> Prober:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.connection.close()


async def edit_while_polled(base: str, path: str, method: str, body: object) -> dict:
    """One edit, timed until its answer and until its events are out (the
    WebSocket's ``people.changed`` for it), while a second client polls
    ``/healthz``: the edit's time, and the probes' p99 and max."""
    from tornado.websocket import websocket_connect

    socket_ = await websocket_connect(base.replace("http", "ws", 1) + "/ws",
                                      max_message_size=256 * 1024 * 1024)
    editor = AsyncHTTPClient(force_instance=True)
    person = path.split("/")[3]
    with Prober(base) as prober:
        started = time.perf_counter()
        answered = (await timed(editor, base + path, method, body))[0]
        while True:  # its people.changed (the edited person is in it)
            message = await asyncio.wait_for(socket_.read_message(), 300)
            if message is None:
                raise RuntimeError("the live connection closed")
            event = json.loads(message)
            if event.get("type") == "people.changed" and any(
                    p["id"] == person for p in event.get("people", [])):
                break
        out = 1000 * (time.perf_counter() - started)
    socket_.close()
    probes = prober.times
    return {"answered (ms)": round(answered), "events out (ms)": round(out),
            "p99": percentile(probes, 99), "max": round(max(probes), 1),
            "probes": len(probes)}


async def health_while_walking(base: str) -> dict:
    return await health_while(base, "/api/people?limit=200&hidden=1")


async def health_while(base: str, first: str, most: int = 100) -> dict:
    """/healthz p99 from a second client while a first walks pages from
    ``first`` (at most ``most`` of them)."""
    walker, prober = AsyncHTTPClient(force_instance=True), AsyncHTTPClient(force_instance=True)
    done = asyncio.Event()
    pages = 0

    async def walk() -> None:
        nonlocal pages
        url = base + first
        while url:
            _, page = await timed(walker, url)
            pages += 1
            url = base + page["next"] if page["next"] and pages < most else None
        done.set()

    probes: list[float] = []

    async def probe() -> None:
        while not done.is_set() or len(probes) < 20:
            probes.append((await timed(prober, base + "/healthz"))[0])
            await asyncio.sleep(0.01)

    await asyncio.gather(walk(), probe())
    return {"p99": percentile(probes, 99), "pages": pages, "probes": len(probes)}


def measure(folder: Path, edits_only: bool = False) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(folder / "bench-server.log", "w")
    env = {**os.environ, "FACES_RATE_LIMIT": "0"}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port",
         str(port), "--data-dir", str(folder), "--model", str(MODEL), "--workers", "2",
         "--recognition-model", str(RECOGNIZER)], stdout=log, stderr=subprocess.STDOUT, env=env)
    found: dict = {}
    try:
        port_open = ready = None
        deadline = started + 300
        while time.monotonic() < deadline and ready is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    port_open = port_open or time.monotonic() - started
                status = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                         base + "/healthz"], capture_output=True, text=True)
                if status.stdout == "200":
                    ready = time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.05)
        found["port open (s)"] = round(port_open, 2) if port_open else None
        found["ready (s)"] = round(ready, 2) if ready else None
        found["rss at ready (MB)"] = round(rss_mb(process.pid))
        found.update(asyncio.run(measure_server(base, folder, edits_only)))
        found["rss after (MB)"] = round(rss_mb(process.pid))
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()
    return found


def grouping_ms(folder: Path) -> float:
    """One new face grouped against every stored face of the gallery."""
    sys.path.insert(0, str(ROOT / "bench"))
    import people

    faces = sqlite3.connect(folder / CATALOGUE).execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    return round(people.search_ms("sface", faces, 128), 2)


def table(results: dict[int, dict]) -> str:
    sizes = sorted(results)
    rows = [f"| | {' | '.join(f'{n:,} photos' for n in sizes)} |",
            f"|---|{'---|' * len(sizes)}"]
    keys = [k for k in results[sizes[0]] if k != "built"]
    for key in keys:
        cells = []
        for n in sizes:
            value = results[n].get(key)
            if isinstance(value, dict):
                value = " / ".join(f"{v}" for k, v in value.items() if k in ("p50", "p95", "p99"))
            cells.append(str(value))
        unit = " (ms p50 / p95)" if isinstance(results[sizes[0]].get(key), dict) and \
            "p50" in results[sizes[0]][key] else (" (ms)" if "p99" in key else "")
        rows.append(f"| {key}{unit} | {' | '.join(cells)} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("verb", choices=["build", "measure", "all"])
    parser.add_argument("folder", nargs="?", default=None)
    parser.add_argument("--photos", type=int, nargs="+", default=[1000])
    parser.add_argument("--edits-only", action="store_true",
                        help="measure: only the first naming and merging (on a fresh gallery)")
    args = parser.parse_args()
    if args.verb == "build":
        folder = Path(args.folder)
        print(json.dumps(build(folder, args.photos[0])))
    elif args.verb == "measure":
        folder = Path(args.folder)
        found = measure(folder, args.edits_only)
        if not args.edits_only:
            found["one new face grouped (ms)"] = grouping_ms(folder)
        print(json.dumps(found, indent=1))
    else:
        import tempfile

        results = {}
        for photos in args.photos:
            with tempfile.TemporaryDirectory(prefix=f"faces-scale-{photos}-") as tmp:
                built = build(Path(tmp) / "data", photos)
                found = {"built": built, **measure(Path(tmp) / "data")}
                found["one new face grouped (ms)"] = grouping_ms(Path(tmp) / "data")
                results[photos] = found
                print(f"[scale] {photos}: {json.dumps(found)}", file=sys.stderr, flush=True)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "scale.json").write_text(json.dumps(results, indent=1))
        print(table(results))


if __name__ == "__main__":
    main()

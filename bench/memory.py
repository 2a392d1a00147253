"""Memory of the whole server (its process and its workers) under large
photos, measured with the real server (two workers, People on, default
settings otherwise):

    python bench/memory.py [--large 200] [--recycle-mb N]

- at rest once ready;
- the peak while two 49-megapixel JPEGs are uploaded at once;
- the peak during, and the rest after, ``--large`` 12-megapixel uploads (two
  at a time, each photo different), sampled every 20 ms: whether memory
  creeps.

RSS is summed over the server and every process it started (the sum
counts pages shared between them, the libraries, once per process: an upper
bound); PSS counts each shared page once, nearer what a container's memory
limit counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import cv2
import numpy as np
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IMAGES = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images")
MODEL = Path(os.environ.get("FACES_MODEL") or ROOT / "models" / "det_2.5g.onnx")
RESULTS = ROOT / "bench" / "results"
RECOGNIZER = Path(os.environ.get("FACES_RECOGNITION_MODEL") or
                  MODEL.parent / "face_recognition_sface_2021dec_int8bq.onnx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def process_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def tree_rss_mb(pid: int, proportional: bool = False) -> float:
    """RSS of ``pid`` and all its descendants, in MB (``proportional``: PSS,
    each shared page counted once over the processes sharing it, as a
    container's memory limit counts it)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            if proportional:
                with open(f"/proc/{current}/smaps_rollup") as rollup:
                    total += 1024 * next(int(line.split()[1]) for line in rollup
                                         if line.startswith("Pss:"))
            else:
                with open(f"/proc/{current}/statm") as statm:
                    total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{current}/task/{current}/children") as children:
                todo += [int(child) for child in children.read().split()]
        except (OSError, ValueError, StopIteration):
            continue
    return total / 2**20


class Sampler:
    """The tree's RSS every 20 ms, on a thread; ``peak()`` since the last reset."""

    def __init__(self, pid: int) -> None:
        self.pid, self.highest, self.running = pid, 0.0, True
        self.server_highest = self.pss_highest = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            self.highest = max(self.highest, tree_rss_mb(self.pid))
            self.server_highest = max(self.server_highest, process_rss_mb(self.pid))
            self.pss_highest = max(self.pss_highest, tree_rss_mb(self.pid, proportional=True))
            time.sleep(0.02)

    def reset(self) -> None:
        self.highest = tree_rss_mb(self.pid)
        self.server_highest = process_rss_mb(self.pid)
        self.pss_highest = tree_rss_mb(self.pid, proportional=True)

    def peak(self) -> float:
        return round(self.highest)

    def server_peak(self) -> float:
        return round(self.server_highest)

    def pss_peak(self) -> float:
        return round(self.pss_highest)

    def stop(self) -> None:
        self.running = False


def photo(size: tuple[int, int], seed: int) -> bytes:
    """A photo of ``size`` pixels with faces in it (the astronaut, tiled and
    scaled), made unique by noise in one corner."""
    source = cv2.imread(str(IMAGES / "obama_and_biden.jpg"))
    image = cv2.resize(source, size, interpolation=cv2.INTER_LINEAR)
    corner = np.random.default_rng(seed).integers(0, 255, (16, 16, 3), np.uint8)
    image[:16, :16] = corner
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


async def post(client: AsyncHTTPClient, base: str, data: bytes, name: str) -> int:
    body, kind = multipart(name, data)
    answer = await client.fetch(HTTPRequest(base + "/api/photos", method="POST", body=body,
                                            headers={"Content-Type": kind},
                                            request_timeout=300), raise_error=False)
    return answer.code


async def run(base: str, sampler: Sampler, large: int) -> dict:
    client = AsyncHTTPClient(max_clients=4)
    found: dict = {}
    await asyncio.sleep(3)  # (settled)
    found["rest_after_start_mb"] = round(tree_rss_mb(sampler.pid))
    found["rest_after_start_pss_mb"] = round(tree_rss_mb(sampler.pid, proportional=True))
    found["server_rest_mb"] = round(process_rss_mb(sampler.pid))
    big = [photo((7000, 7000), seed) for seed in (1, 2)]
    sampler.reset()
    codes = await asyncio.gather(*(post(client, base, data, f"big{n}.jpg")
                                   for n, data in enumerate(big)))
    found["two_49mp_at_once"] = {"codes": codes, "peak_mb": sampler.peak(),
                                 "pss_peak_mb": sampler.pss_peak(),
                                 "server_peak_mb": sampler.server_peak()}
    sampler.reset()
    done = 0
    started = time.monotonic()
    queue = list(range(large))

    async def uploader() -> None:
        nonlocal done
        while queue:
            seed = queue.pop()
            code = await post(client, base, photo((4000, 3000), 100 + seed), f"l{seed}.jpg")
            done += code in (200, 201)

    await asyncio.gather(uploader(), uploader())
    found["large_12mp"] = {"uploads": large, "stored": done,
                           "seconds": round(time.monotonic() - started, 1),
                           "peak_mb": sampler.peak(), "pss_peak_mb": sampler.pss_peak(),
                           "server_peak_mb": sampler.server_peak()}
    await asyncio.sleep(5)  # recognition of the last ones, then rest
    found["rest_after_large_mb"] = round(tree_rss_mb(sampler.pid))
    found["rest_after_large_pss_mb"] = round(tree_rss_mb(sampler.pid, proportional=True))
    return found


def measure(large: int, recycle_mb: float, workers: int = 2) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="faces-memory-") as tmp:
        log = open(Path(tmp) / "server.log", "w")
        env = {**os.environ, "FACES_RATE_LIMIT": "0", "FACES_MAX_QUEUE": "64"}
        process = subprocess.Popen(
            [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port",
             str(port), "--data-dir", f"{tmp}/data", "--model", str(MODEL), "--workers",
             str(workers), "--recognition-model", str(RECOGNIZER), "--worker-recycle-mb",
             str(recycle_mb)], stdout=log, stderr=subprocess.STDOUT, env=env)
        sampler = Sampler(process.pid)
        try:
            deadline = time.monotonic() + 120
            while subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                  base + "/healthz"], capture_output=True,
                                 text=True).stdout != "200":
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
            found = asyncio.run(run(base, sampler, large))
        finally:
            sampler.stop()
            process.terminate()
            process.wait(timeout=60)
            log.close()
            text = (Path(tmp) / "server.log").read_text()
        found["worker_recycled"] = text.count("its memory grew past")
        found["recycle_mb"] = recycle_mb
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", type=int, default=200)
    parser.add_argument("--recycle-mb", type=float, nargs="+", default=[0.0])
    args = parser.parse_args()
    results = {str(mb): measure(args.large, mb) for mb in args.recycle_mb}
    print(json.dumps(results, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "memory.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

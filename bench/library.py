"""The library in place, measured with the real server (`faces serve`):

    python bench/library.py rescan --files 100000   # also part of `make bench`
    python bench/library.py throughput
    python bench/library.py same-people

rescan: a gallery of N photos (bench/scale.py's build) whose files are N
small distinct files in a library folder (100 folders; one folder of
10,000 of them), already indexed. The server starts with FACES_LIBRARY set;
measured: its first pass over the unchanged folder after start, a rescan
asked for, the detection jobs they run (0 expected), the server's memory
with the folder watched and without it, then the 10,000-file folder
renamed: the time until the API shows the new paths (watched), the
people's face counts before and after, and the jobs run (0).

throughput: the 74 shared people photos scanned as a new library folder
with People on, until every face is described (photos per second), side by
side in one run with the InsightFace pipeline Immich's ML service runs:
each file decoded with OpenCV, SCRFD 2.5G at 640, ArcFace w600k_mbf on
each face, one process per core (models from ../shared/models).

same-people: the 74 people photos and the 394 WIDER photos scanned in
place, and the same files uploaded with `faces import`: how far the two
groupings of every face into people agree.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402

from faces.library.walk import fingerprint  # noqa: E402

SHARED = ROOT.parent / "shared"
MODELS = Path(os.environ.get("FACES_SHARED_MODELS") or SHARED / "models")
PEOPLE = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images") / "people"
WIDER = Path(os.environ.get("FACES_WIDER") or SHARED / "eval" / "widerface" / "images")
RESULTS = ROOT / "bench" / "results"
MOVED = 10_000  # files in the folder that is renamed


def get(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=60) as answer:
        return json.loads(answer.read())


def post(base: str, path: str, body: object) -> dict:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def jobs(base: str) -> int:
    """Detection jobs run by the server so far (its /metrics)."""
    with urllib.request.urlopen(base + "/metrics", timeout=60) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("faces_detection_seconds_count"):
                return int(float(line.split()[1]))
    return 0


def serve(data: Path, library: str, extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = scale.free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(data / f"bench-server-{port}.log", "w")
    env = {**os.environ, "FACES_RATE_LIMIT": "0", "FACES_LIBRARY": library,
           "FACES_LIBRARY_SETTLE": "1", **(extra or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "faces", "serve", "--address", "127.0.0.1", "--port", str(port),
         "--data-dir", str(data), "--model", str(scale.MODEL), "--workers", "2",
         "--recognition-model", str(scale.RECOGNIZER)], stdout=log, stderr=subprocess.STDOUT,
        env=env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if get(base, "/healthz")["status"] == "ok":
                return process, base
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    process.terminate()
    raise RuntimeError("the server never got ready")


def scanned(base: str, passes: int = 0, timeout: float = 3600) -> dict:
    """Until every root has been scanned whole more than ``passes`` times."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = get(base, "/api/library")
        roots = answer["roots"]
        if roots and not answer["scanning"] and all(r["scan"]["passes"] > passes
                                                    for r in roots):
            return roots[0]
        time.sleep(0.02)
    raise RuntimeError("the scan never finished")


def build(folder: Path, files: int) -> Path:
    """A gallery of ``files`` photos, each a small distinct file in a library
    folder, already indexed (places written as a first scan writes them)."""
    made = scale.build(folder / "data", files)
    library = folder / "library"
    db = sqlite3.connect(folder / "data" / "catalogue.sqlite3", isolation_level=None)
    db.execute("BEGIN")
    db.execute("INSERT INTO roots (id, path, source, added) VALUES (1, ?, 'settings', '')",
               (str(library),))
    ids = [row[0] for row in db.execute("SELECT id FROM photos ORDER BY seq")]
    rows = []
    for n, photo_id in enumerate(ids):
        # the first MOVED files in big/ (10 folders of 1,000), the rest in 90 others
        folder_name = f"big/{n // 1000:02d}" if n < min(MOVED, files // 2) else \
            f"f{n % 90:02d}"
        path = library / folder_name / f"IMG_{n:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff\xd8\xff" + os.urandom(2045))
        info = path.stat()
        rows.append((1, str(path.relative_to(library)), photo_id, info.st_size,
                     info.st_mtime_ns, fingerprint(path, info.st_size)))
    db.executemany("INSERT INTO places (root, path, photo, size, mtime_ns, print) "
                   "VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.close()
    print(f"built {made['photos']} photos, {made['faces']} faces, {files} files",
          file=sys.stderr)
    return library


def person_counts(base: str) -> dict:
    counts, url = {}, "/api/people?limit=200&hidden=1"
    while url:
        page = get(base, url)
        counts.update({p["id"]: (p["name"], p["faces"]) for p in page["people"]})
        url = page["next"]
    return counts


def rescan(files: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="faces-library-") as tmp:
        folder = Path(tmp)
        library = build(folder, files)
        data = folder / "data"
        found: dict = {"files": files}
        # memory without the folder (the same gallery), for the watcher's share
        process, base = serve(data, "")
        found["server RSS without the library (MB)"] = round(scale.rss_mb(process.pid))
        process.terminate()
        process.wait(60)
        process, base = serve(data, str(library))
        started = time.monotonic()
        try:
            first = scanned(base)
            found["first pass after start (s)"] = round(time.monotonic() - started, 2)
            before = jobs(base)
            asked = time.monotonic()
            post(base, "/api/library/roots/1/scan", {})
            root = scanned(base, first["scan"]["passes"])
            found["rescan of unchanged files (s)"] = round(time.monotonic() - asked, 2)
            found["detection jobs in the rescans"] = jobs(base) - before
            found["photos online after"] = root["photos"]
            found["server RSS, library watched (MB)"] = round(scale.rss_mb(process.pid))
            # the 10,000-file folder renamed, seen by the watcher
            people = person_counts(base)
            sample = "/api/photos?folder=1/big/00&limit=1"
            probe = get(base, sample)["photos"][0]["id"]
            moved = time.monotonic()
            os.rename(library / "big", library / "renamed")
            while "renamed" not in get(base, f"/api/photos/{probe}")["paths"][0]:
                time.sleep(0.02)
            found["10,000 moved: new paths shown after (s)"] = round(time.monotonic() - moved, 2)
            while get(base, "/api/library")["scanning"]:
                time.sleep(0.05)
            found["10,000 moved: pass done after (s)"] = round(time.monotonic() - moved, 2)
            root = get(base, "/api/library")["roots"][0]
            found["10,000 moved: offline after"] = root["offline"]
            found["10,000 moved: photos online"] = root["photos"]
            found["10,000 moved: detection jobs"] = jobs(base) - before
            after = person_counts(base)
            found["10,000 moved: people and names kept"] = after == people
            found["server RSS after (MB)"] = round(scale.rss_mb(process.pid))
        finally:
            process.terminate()
            process.wait(60)
        return found


# -- the peer's pipeline ---------------------------------------------------------

_PEER: dict = {}


def _peer_start() -> None:
    import onnxruntime
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX
    from insightface.model_zoo.scrfd import SCRFD

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    detector = SCRFD(str(MODELS / "scrfd_2.5g_bnkps.onnx"),
                     onnxruntime.InferenceSession(str(MODELS / "scrfd_2.5g_bnkps.onnx"),
                                                  options,
                                                  providers=["CPUExecutionProvider"]))
    detector.prepare(-1, input_size=(640, 640), det_thresh=0.5)
    recognizer = ArcFaceONNX(str(MODELS / "w600k_mbf.onnx"), onnxruntime.InferenceSession(
        str(MODELS / "w600k_mbf.onnx"), options, providers=["CPUExecutionProvider"]))
    recognizer.prepare(-1)
    _PEER.update(detector=detector, recognizer=recognizer)


def _peer_one(path: str) -> int:
    import cv2
    from insightface.app.common import Face

    image = cv2.imread(path)
    boxes, marks = _PEER["detector"].detect(image, max_num=0)
    for box, points in zip(boxes, marks, strict=True):
        face = Face(bbox=box[:4], kps=points, det_score=box[4])
        _PEER["recognizer"].get(image, face)
    return len(boxes)


def peer(paths: list[Path]) -> float:
    """Seconds the peer's pipeline takes over ``paths`` (workers warm first)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(os.cpu_count() or 1, initializer=_peer_start) as pool:
        pool.map(_peer_one, [str(paths[0])] * (os.cpu_count() or 1))  # (warm)
        started = time.monotonic()
        pool.map(_peer_one, [str(p) for p in paths], chunksize=1)
        return time.monotonic() - started


def throughput() -> dict:
    paths = sorted(p for p in PEOPLE.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))
    found: dict = {"photos": len(paths)}
    with tempfile.TemporaryDirectory(prefix="faces-throughput-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        process, base = serve(data, "")
        try:
            started = time.monotonic()
            post(base, "/api/library", {"path": str(PEOPLE)})
            scanned(base)
            while True:
                health = get(base, "/healthz")
                if not health["recognition_backlog"]:
                    break
                time.sleep(0.02)
            seconds = time.monotonic() - started
            found["faces: seconds until every face is described"] = round(seconds, 2)
            found["faces: photos/s"] = round(len(paths) / seconds, 1)
        finally:
            process.terminate()
            process.wait(60)
    seconds = peer(paths)
    found["peer (InsightFace, one process per core): seconds"] = round(seconds, 2)
    found["peer: photos/s"] = round(len(paths) / seconds, 1)
    found["faces / peer"] = round(found["faces: photos/s"] / found["peer: photos/s"], 2)
    return found


def labelled(base: str) -> dict[tuple[str, int], str | None]:
    """Every face of the gallery: (photo id, its position) -> its person."""
    found, url = {}, "/api/photos?limit=200&order=added"
    while url:
        page = get(base, url)
        for photo in page["photos"]:
            for position, face in enumerate(photo["faces"]):
                found[(photo["id"], position)] = face["person"]
        url = page["next"]
    return found


def recognized(base: str) -> None:
    while True:
        health = get(base, "/healthz")
        answer = get(base, "/api/library")
        if not health["recognition_backlog"] and not answer["scanning"]:
            return
        time.sleep(0.1)


def agreement(a: dict, b: dict) -> dict:
    """How far two groupings of the same faces agree: of the pairs of faces
    one puts together, the share the other does too (each way)."""
    import itertools

    faces = sorted(set(a) & set(b))
    together_a = together_b = both = 0
    for x, y in itertools.combinations(faces, 2):
        in_a = a[x] is not None and a[x] == a[y]
        in_b = b[x] is not None and b[x] == b[y]
        together_a += in_a
        together_b += in_b
        both += in_a and in_b
    return {"faces": len(faces), "faces only in one": len(set(a) ^ set(b)),
            "pairs together (scanned)": together_a, "pairs together (uploaded)": together_b,
            "of the scanned pairs, uploaded together too": round(both / max(1, together_a), 4),
            "of the uploaded pairs, scanned together too": round(both / max(1, together_b), 4),
            "people (scanned)": len({v for v in a.values() if v}),
            "people (uploaded)": len({v for v in b.values() if v})}


def same_people() -> dict:
    """The 74 people photos and the 394 WIDER photos, scanned in place as two
    library folders, against the same files uploaded (`faces import`)."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="faces-same-") as tmp:
        def gallery(name: str, library: str, fill: list[str] | None) -> dict:
            data = Path(tmp) / name
            data.mkdir()
            process, base = serve(data, library)
            try:
                started = time.monotonic()
                if fill:
                    subprocess.run([sys.executable, "-m", "faces", "import", *fill,
                                    "--server", base], check=True, capture_output=True)
                else:
                    scanned(base)
                recognized(base)
                found[f"{name}: seconds"] = round(time.monotonic() - started, 1)
                return labelled(base)
            finally:
                process.terminate()
                process.wait(60)

        by_scan = gallery("scanned", f"{PEOPLE}{os.pathsep}{WIDER}", None)
        by_upload = gallery("uploaded", "", [str(PEOPLE), str(WIDER)])
    found.update(agreement(by_scan, by_upload))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("rescan", "throughput", "same-people", "all"),
                        nargs="?", default="all")
    parser.add_argument("--files", type=int, default=100_000)
    args = parser.parse_args()
    results = {}
    if args.what in ("rescan", "all"):
        results["rescan"] = rescan(args.files)
    if args.what in ("throughput", "all"):
        results["throughput"] = throughput()
    if args.what in ("same-people", "all"):
        results["same people"] = same_people()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "library.json").write_text(json.dumps(results, indent=2))
    for name, found in results.items():
        print(f"\n{name}")
        for key, value in found.items():
            print(f"  {key}: {value}")


if __name__ == "__main__":
    main()

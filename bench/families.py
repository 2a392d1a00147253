"""Both detector families side by side on the same photos: detection time
on one thread (as a busy worker detects), faces found, and WIDER FACE
recall and precision at each family's default threshold.

    python bench/families.py            # also part of `make bench`

Models: FACES_MODEL (SCRFD) and FACES_YUNET_MODEL (default
models/face_detection_yunet_2023mar.onnx, else the shared copy).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from widerface import WIDER, evaluate

from faces.vision import detectors, pipeline
from faces.vision.contract import Options

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IMAGES = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images")
YUNET_NAME = "face_detection_yunet_2023mar.onnx"
PHOTOS = [("512² PNG", "astronaut.png", None), ("t1 1280×886", "t1.jpg", None),
          ("2000×1428", "obama_and_biden.jpg", None),
          ("12 MP", "obama_and_biden.jpg", (4000, 3000)),
          ("crowd 2048×1150", "crowd_selfie.jpg", None)]


def models() -> dict[str, Path]:
    scrfd = Path(os.environ.get("FACES_MODEL") or ROOT / "models" / "det_2.5g.onnx")
    yunet = os.environ.get("FACES_YUNET_MODEL")
    if not yunet:
        local = ROOT / "models" / YUNET_NAME
        yunet = local if local.is_file() else SHARED / "models" / YUNET_NAME
    return {"scrfd": scrfd, "yunet": Path(yunet)}


def timed(detector, image: np.ndarray, options: Options, runs: int,
          detect=pipeline.detect) -> tuple[float, int]:
    """Median ms of ``detect`` (the pipeline's, by default) on ``image``, and
    faces found."""
    faces = detect(detector, image, options)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        detect(detector, image, options)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000, len(faces)


def compare(runs: int = 5, wider: bool = True) -> dict:
    """Per family: {"file", "photos": {label: {"ms", "faces"}}, "wider": {...}}."""
    cv2.setNumThreads(1)
    images = {}
    for label, name, size in PHOTOS:
        image = cv2.imread(str(IMAGES / name))
        images[label] = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC) if size else image
    options = Options(max_pixels=50_000_000)  # the server's defaults, family thresholds
    results = {}
    for family, path in models().items():
        if not path.is_file():
            print(f"families: no {family} model at {path}; skipped", flush=True)
            continue
        detector = detectors.load(path, family, detail_scale=0)  # float32, detail pass on
        entry = {"file": path.name, "size_kb": round(path.stat().st_size / 1024),
                 "score_threshold": detector.default_score, "photos": {}}
        for label, image in images.items():
            ms, faces = timed(detector, image, options, runs)
            entry["photos"][label] = {"ms": round(ms, 1), "faces": faces}
        if wider and (WIDER / "ground_truth.json").is_file():
            scored = evaluate(path, [detector.default_score])[0]
            entry["wider"] = {"recall": round(scored.recall, 3),
                              "recall_32px": round(scored.recall_32, 3),
                              "precision": round(scored.precision, 3),
                              "ms_per_photo": round(scored.ms_per_photo, 1)}
        results[family] = entry
    return results


def table(results: dict) -> str:
    families = list(results)
    head = "| measure | " + " | ".join(
        f"{f.upper()} ({results[f]['file']}, {results[f]['size_kb']} KB)" for f in families) + " |"
    lines = [head, "|---|" + "---|" * len(families)]
    for label, _, _ in PHOTOS:
        cells = [f"{results[f]['photos'][label]['ms']:.0f} ms, "
                 f"{results[f]['photos'][label]['faces']} faces" for f in families]
        lines.append(f"| {label}: detection, one thread | " + " | ".join(cells) + " |")
    if all("wider" in results[f] for f in families):
        lines.append("| WIDER (394 photos) recall / ≥ 32 px / precision, at score | " + " | ".join(
            f"{results[f]['wider']['recall']:.3f} / {results[f]['wider']['recall_32px']:.3f} / "
            f"{results[f]['wider']['precision']:.3f} at {results[f]['score_threshold']}"
            for f in families) + " |")
        lines.append("| WIDER: detection per photo, one thread | " + " | ".join(
            f"{results[f]['wider']['ms_per_photo']:.0f} ms" for f in families) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    found = compare()
    print(table(found))
    print(json.dumps(found, indent=2))

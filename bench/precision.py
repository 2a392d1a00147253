"""float32 against int8, and the input-size policies, on the same photos:
WIDER FACE recall by face height and precision, time per photo on one
thread (as a busy worker detects), and faces found on the usual photos.

    python bench/precision.py            # also part of `make bench`

The policies: the first build's 640x640 letterbox; the photo's own shape
fitted into 640 (no padding to detect through); fitted into 1024. The
server's default is marked: int8 at 1024 where `auto` picks int8, else
float32 at 640. Model: FACES_MODEL (SCRFD); its int8 copy is made (or
found) as the server makes it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from families import IMAGES, PHOTOS, models, timed
from widerface import WIDER, run, score

from faces.vision import detectors
from faces.vision.contract import Options
from faces.vision.detectors.base import FIRST_PASS

THRESHOLD = 0.5  # SCRFD's own
POLICIES = {  # name -> (first pass side, fitted to the photo's shape)
    "640 letterbox (first build)": (640, False),
    "640 fitted": (640, True),
    "1024 fitted": (1024, True),
}


def policy_for(fit: bool):
    def detect(detector, image: np.ndarray, options: Options) -> list:
        return detector.detect(image, options.score_threshold, options.nms_threshold,
                               detector.detail_size, upscale=False, fit=fit)
    return detect


def compare(limit: int | None = None) -> dict:
    """{"default": (precision, policy), "rows": [{precision, policy, wider..., photos...}]}."""
    cv2.setNumThreads(1)
    model = models()["scrfd"]
    cache = os.environ.get("FACES_MODEL_CACHE", "")  # as the server reads it
    auto = detectors.load(model, precision="auto", cache=cache)
    default = (auto.precision, f"{FIRST_PASS[auto.precision]} fitted")
    images = {}
    for label, name, size in PHOTOS:
        image = cv2.imread(str(IMAGES / name))
        images[label] = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC) if size else image
    rows = []
    for precision in ("fp32", "int8"):
        for name, (side, fit) in POLICIES.items():
            print(f"precision: {precision}, {name}", flush=True)
            detector = detectors.load(model, precision=precision, det_size=side,
                                      detail_scale=0, cache=cache)
            row: dict = {"precision": precision, "policy": name,
                         "default": (precision, name) == default, "photos": {}}
            if (WIDER / "ground_truth.json").is_file():
                _, found, labels, ms = run(model, THRESHOLD, limit, detector=detector,
                                           policy=policy_for(fit))
                recall, recall_32, by_size, precise, _ = score(found, labels, THRESHOLD)
                row["wider"] = {"recall": round(recall, 3), "recall_32px": round(recall_32, 3),
                                "by_height": [round(v, 3) for v in by_size],
                                "precision": round(precise, 3), "ms_per_photo": round(ms, 1)}
            for label, image in images.items():
                ms, faces = timed(detector, image, Options(
                    max_pixels=50_000_000, score_threshold=THRESHOLD), 5, policy_for(fit))
                row["photos"][label] = {"ms": round(ms, 1), "faces": faces}
            rows.append(row)
    return {"default": default, "reason": auto.precision_reason, "rows": rows}


def table(found: dict) -> str:
    rows = found["rows"]
    labels = list(rows[0]["photos"])
    head = ("| precision | first pass | WIDER recall | ≥ 32 px | by height <16 / 16-32 / "
            "32-64 / ≥64 | precision | ms per WIDER photo | " + " | ".join(labels) + " |")
    lines = [head, "|---" * (7 + len(labels)) + "|"]
    for row in rows:
        wider = row.get("wider")
        cells = ["-"] * 5 if not wider else [
            f"{wider['recall']:.3f}", f"{wider['recall_32px']:.3f}",
            " / ".join(f"{v:.3f}" for v in wider["by_height"]), f"{wider['precision']:.3f}",
            f"{wider['ms_per_photo']:.0f}"]
        photos = [f"{p['ms']:.0f} ms, {p['faces']}" for p in row["photos"].values()]
        mark = " **(default here)**" if row["default"] else ""
        lines.append(f"| {row['precision']} | {row['policy']}{mark} | "
                     + " | ".join(cells + photos) + " |")
    lines.append(f"\nauto on this machine: {found['reason']}")
    return "\n".join(lines)


if __name__ == "__main__":
    limit = int(os.environ["WIDER_LIMIT"]) if os.environ.get("WIDER_LIMIT") else None
    result = compare(limit)
    print(table(result))
    print(json.dumps(result, indent=2))

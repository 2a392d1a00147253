"""Recall and precision of a detector on the shared WIDER FACE photos.

    python bench/widerface.py MODEL [MODEL ...] [--thresholds 0.5,0.6,0.7]

Scoring as in ../shared/eval/widerface/README.md: detections matched greedily
in score order at IoU >= 0.5; recall over valid faces; precision = matched
detections / all detections, where a detection overlapping an invalid face
counts as neither. Detection runs once per model, at the lowest threshold,
with the server's pass policy (faces.vision.pipeline.detect); a higher threshold
keeps exactly the detections above it (greedy NMS never lets a weaker box
suppress a stronger one).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from faces.vision import detectors, pipeline
from faces.vision.contract import Options

ROOT = Path(__file__).resolve().parent.parent
WIDER = Path(os.environ.get("FACES_WIDER") or ROOT.parent / "shared" / "eval" / "widerface")
SIZE_BANDS = ((0, 16), (16, 32), (32, 64), (64, 1 << 20))


@dataclass
class Scored:
    family: str
    file: str
    threshold: float
    recall: float
    recall_32: float  # faces at least 32 px high
    recall_by_size: list[float]
    precision: float
    detections: int
    ms_per_photo: float


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def server_policy(detector, image: np.ndarray, options: Options) -> list:
    """How the server detects (faces.vision.pipeline.detect)."""
    return pipeline.detect(detector, image, options)


def run(model: Path, low: float, limit: int | None = None, wider: Path = WIDER,
        detector=None, policy=server_policy) -> tuple[str, list, list, float]:
    """Detections (box, score) per photo at ``low``, the labels, and ms per
    photo; with ``detector`` (else the model's, in float32) and ``policy``
    (detector, image, options) -> faces."""
    truth = json.loads((wider / "ground_truth.json").read_text())
    names = sorted(truth)[:limit]
    detector = detector or detectors.load(model, detail_scale=0)  # float32, as the server
    options = Options(max_pixels=50_000_000, score_threshold=low)
    found, labels, elapsed = [], [], 0.0
    for name in names:
        image = cv2.imread(str(wider / "images" / name))
        start = time.perf_counter()
        faces = policy(detector, image, options)
        elapsed += time.perf_counter() - start
        found.append([(np.array(f.box), f.score) for f in faces])
        labels.append(np.array(truth[name], np.float32).reshape(-1, 5))
    return detector.family, found, labels, 1000 * elapsed / len(names)


def score(found: list, labels: list, threshold: float) -> tuple:
    matched_faces = np.zeros(len(SIZE_BANDS))
    faces_by_size = np.zeros(len(SIZE_BANDS))
    true_positives = counted = 0
    for detections, truth in zip(found, labels, strict=True):
        boxes = np.concatenate([truth[:, :2], truth[:, :2] + truth[:, 2:4]], axis=1)
        valid = truth[:, 4] == 0
        heights = truth[:, 3]
        taken = np.zeros(len(truth), bool)
        for box, conf in sorted(detections, key=lambda d: -d[1]):
            if conf < threshold:
                continue
            overlaps = iou(box, boxes) if len(boxes) else np.zeros(0)
            overlaps[taken] = 0
            best = int(np.argmax(overlaps)) if len(overlaps) else -1
            if best >= 0 and overlaps[best] >= 0.5:
                taken[best] = True
                if valid[best]:
                    true_positives += 1
                    counted += 1
                continue  # a match to an invalid face counts as neither
            counted += 1
        for band, (low, high) in enumerate(SIZE_BANDS):
            in_band = valid & (heights >= low) & (heights < high)
            faces_by_size[band] += in_band.sum()
            matched_faces[band] += (taken & in_band).sum()
    recall = matched_faces.sum() / faces_by_size.sum()
    recall_32 = matched_faces[2:].sum() / faces_by_size[2:].sum()
    by_size = list(matched_faces / np.maximum(faces_by_size, 1))
    return recall, recall_32, by_size, true_positives / max(counted, 1), counted


def evaluate(model: Path, thresholds: list[float], limit: int | None = None) -> list[Scored]:
    family, found, labels, ms = run(model, min(thresholds), limit)
    results = []
    for threshold in thresholds:
        recall, recall_32, by_size, precision, count = score(found, labels, threshold)
        results.append(Scored(family, model.name, threshold, recall, recall_32, by_size,
                              precision, count, ms))
    return results


def table(results: list[Scored]) -> str:
    lines = ["| family | file | score | recall | recall >= 32 px | <16 / 16-32 / 32-64 / >=64 "
             "| precision | ms per photo |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        bands = " / ".join(f"{v:.3f}" for v in r.recall_by_size)
        lines.append(f"| {r.family} | {r.file} | {r.threshold:.2f} | {r.recall:.3f} | "
                     f"{r.recall_32:.3f} | {bands} | {r.precision:.3f} | {r.ms_per_photo:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--thresholds", default="0.5,0.6,0.7,0.8")
    parser.add_argument("--limit", type=int, default=None, help="only the first N photos")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    results = [r for model in args.models for r in evaluate(model, thresholds, args.limit)]
    print(table(results))


if __name__ == "__main__":
    main()

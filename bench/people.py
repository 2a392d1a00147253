"""People: time per face, grouping quality on the 74 shared people photos,
and how grouping's brute-force search scales.

    python bench/people.py            # also part of `make bench`

- Descriptor time per face on one thread (dlib's ResNet on our chips).
- Grouping of the 74 photos (the largest face of each, as labelled) in 20
  random orders: pairwise precision and recall, people made.
- Assigning one new face when 10,000 or 100,000 faces are stored
  (synthetic descriptors: 1,000 or 10,000 people of 10 faces).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
from alignment import largest_faces

from faces.library import grouping
from faces.vision.fetch import RECOGNITION_FILE, installed_recognition_model
from faces.vision.recognizers import dlib as recognition

ROOT = Path(__file__).resolve().parent.parent
ORDERS = 20


def recognition_model() -> Path:
    path = os.environ.get("FACES_RECOGNITION_MODEL")
    return Path(path) if path else (installed_recognition_model()
                                    or ROOT / "models" / RECOGNITION_FILE)


def describe_people() -> tuple[np.ndarray, list[str], float, list[float]]:
    """Descriptors of each photo's largest face, their identities, ms per
    face, and face heights."""
    cv2.setNumThreads(1)
    model = Path(os.environ.get("FACES_MODEL") or ROOT / "models" / "det_2.5g.onnx")
    ours = recognition.Recognizer(recognition_model())
    vectors, who, heights, elapsed = [], [], [], 0.0
    for name, rgb, face in largest_faces(model):
        started = time.perf_counter()
        [vector] = ours.describe(rgb, [face.landmarks])
        elapsed += time.perf_counter() - started
        vectors.append(vector)
        who.append(name.split("/")[0])
        heights.append(face.box[3] - face.box[1])
    return np.array(vectors), who, 1000 * elapsed / len(who), heights


def grouped(vectors: np.ndarray, who: list[str], seed: int) -> tuple[float, float, int]:
    order = np.random.default_rng(seed).permutation(len(who))
    g = grouping.Grouping()
    for index in order:
        g.add_photo(f"photo{index}", [(int(index), vectors[index])])
    labels = [g.person_of(i) for i in range(len(who))]
    tp = fp = fn = 0
    for a, b in itertools.combinations(range(len(who)), 2):
        same, together = who[a] == who[b], labels[a] is not None and labels[a] == labels[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    return tp / max(1, tp + fp), tp / max(1, tp + fn), len({x for x in labels if x})


def assignment_ms(stored: int, runs: int = 50) -> float:
    """Median ms to group one new face against ``stored`` faces."""
    rng = np.random.default_rng(stored)
    people = rng.normal(size=(stored // 10, 128)).astype(np.float32)
    people *= 2.0 / np.linalg.norm(people, axis=1, keepdims=True)
    g = grouping.Grouping()
    for n in range(stored):
        person = n // 10
        g.insert(n, f"p{n}", people[person] + rng.normal(0, 0.02, 128).astype(np.float32),
                 f"{person:012x}")
    times = []
    for run in range(runs):
        vector = people[run] + rng.normal(0, 0.02, 128).astype(np.float32)
        started = time.perf_counter()
        g.add_photo(f"new{run}", [(stored + run, vector)])
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1000


def compare() -> dict:
    vectors, who, ms_per_face, heights = describe_people()
    runs = [grouped(vectors, who, seed) for seed in range(ORDERS)]
    return {
        "faces": len(who), "identities": len(set(who)), "ms_per_face": round(ms_per_face, 1),
        "smallest_face_px": round(min(heights)),
        "precision_min": round(min(r[0] for r in runs), 3),
        "recall_min": round(min(r[1] for r in runs), 3),
        "recall_mean": round(float(np.mean([r[1] for r in runs])), 3),
        "people": sorted({r[2] for r in runs}),
        "assign_ms": {str(n): round(assignment_ms(n), 2) for n in (10_000, 100_000)},
    }


def table(found: dict) -> str:
    return "\n".join([
        "| measure | figure |", "|---|---|",
        f"| descriptor, one thread | {found['ms_per_face']} ms per face |",
        f"| grouping the {found['faces']} people photos ({found['identities']} identities), "
        f"{ORDERS} orders | pairwise precision ≥ {found['precision_min']}, recall ≥ "
        f"{found['recall_min']} (mean {found['recall_mean']}); people made: "
        f"{', '.join(map(str, found['people']))} |",
        *(f"| one new face against {int(n):,} stored | {ms} ms |"
          for n, ms in found["assign_ms"].items()),
    ])


if __name__ == "__main__":
    result = compare()
    print(table(result))
    print(json.dumps(result, indent=2))

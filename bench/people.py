"""People on a real library: the 74 shared people photos (18 people,
labelled by folder) and the 394 WIDER photos (crowds of strangers, five
events) in one gallery, grouped in 20 shuffled orders.

    python bench/people.py                 # also part of `make bench`
    python bench/people.py --families sface arcface dlib --sweep

For each recognizer family: ms per face on one thread; labelled pairwise
precision and recall (each people photo's largest face is labelled by its
folder); people that mix photos of two WIDER events; WIDER photos inside a
labelled person; people made from the 74 photos alone (18 expected); one new
face grouped against 300,000 stored. The faces (detected as the server
detects them) and their descriptors are kept in bench/results/people-faces-
<family>.npz, so a second run only groups.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from faces.library import grouping
from faces.vision import detectors, recognizers
from faces.vision.contract import Options
from faces.vision.pipeline import detect

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IMAGES = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images")
PEOPLE = IMAGES / "people"
WIDER = Path(os.environ.get("FACES_WIDER") or SHARED / "eval" / "widerface" / "images")
MODELS = Path(os.environ.get("FACES_SHARED_MODELS") or SHARED / "models")
RESULTS = ROOT / "bench" / "results"
ORDERS = 20
MIN_FACE, MAX_FACES = 50, 50  # the server's defaults (FACES_RECOGNITION_*)
FILES = {"sface": "face_recognition_sface_2021dec_int8bq.onnx", "arcface": "w600k_mbf.onnx"}
# The one WIDER photo that really shows a labelled person (Kit Harington, in
# sunglasses, at an interview): it may join his person.
KNOWN_IN_WIDER = {"13--Interview/13_Interview_Interview_On_Location_13_186.jpg"}


def photos() -> list[tuple[str, Path, str]]:
    """(key, path, label): label is the person's folder, or 'wider:<event>'."""
    found = [(f"people/{p.parent.name}/{p.name}", p, p.parent.name)
             for p in sorted(PEOPLE.glob("*/*")) if p.suffix.lower() in (".jpg", ".png")]
    found += [(f"wider/{p.parent.name}/{p.name}", p, f"wider:{p.parent.name}")
              for p in sorted(WIDER.glob("*/*.jpg"))]
    return found


def faces_of(model: Path) -> list[dict]:
    """Every eligible face of every photo, as the server detects and picks them."""
    cv2.setNumThreads(1)
    detector = detectors.load(model, precision="auto", cache=RESULTS)
    options = Options(max_pixels=100_000_000)
    out = []
    for key, path, label in photos():
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        found = [f for f in detect(detector, image, options)
                 if f.landmarks and f.box[3] - f.box[1] >= MIN_FACE]
        found.sort(key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), reverse=True)
        for rank, face in enumerate(found[:MAX_FACES]):
            labelled = label if not label.startswith("wider:") and rank == 0 else ""
            out.append({"photo": key, "label": labelled, "group": label,
                        "box": face.box, "score": face.score,
                        "landmarks": np.asarray(face.landmarks, np.float32)})
    return out


def describe(faces: list[dict], family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Vectors, raw norms and sharpness of every face, and ms per face."""
    cv2.setNumThreads(1)
    recognizer = recognizers.load(MODELS / FILES[family], family, cache=RESULTS)
    images: dict[str, np.ndarray] = {}
    vectors, norms, sharp, elapsed = [], [], [], 0.0
    for face in faces:
        path = next(p for k, p, _ in photos() if k == face["photo"]) \
            if face["photo"] not in images else None
        if path is not None:
            images.clear()
            images[face["photo"]] = cv2.imread(str(path), cv2.IMREAD_COLOR)
        started = time.perf_counter()
        [found] = recognizer.describe(images[face["photo"]], [face["landmarks"]])
        elapsed += time.perf_counter() - started
        vectors.append(found.vector)
        norms.append(found.norm)
        sharp.append(found.sharpness)
    return np.array(vectors), np.array(norms), np.array(sharp), 1000 * elapsed / len(faces)


def dataset(family: str, model: Path) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache = RESULTS / f"people-faces-{family}.npz"
    if cache.is_file():
        return dict(np.load(cache, allow_pickle=True))
    faces_file = RESULTS / "people-faces.json"
    if faces_file.is_file():
        faces = json.loads(faces_file.read_text())
        for face in faces:
            face["landmarks"] = np.asarray(face["landmarks"], np.float32)
    else:
        faces = faces_of(model)
        faces_file.write_text(json.dumps([{**f, "landmarks": f["landmarks"].tolist()}
                                          for f in faces]))
    vectors, norms, sharp, ms = describe(faces, family)
    data = {"vectors": vectors, "norms": norms, "sharp": sharp, "ms": ms,
            "photo": np.array([f["photo"] for f in faces]),
            "label": np.array([f["label"] for f in faces]),
            "group": np.array([f["group"] for f in faces]),
            "height": np.array([f["box"][3] - f["box"][1] for f in faces]),
            "score": np.array([f["score"] for f in faces]),
            "landmarks": np.array([f["landmarks"] for f in faces])}
    np.savez(cache, **data)
    return data


def group_once(data: dict, family: str, seed: int, subset: np.ndarray | None = None,
               **rule: float) -> list[str | None]:
    """Each face's person after grouping the photos in one shuffled order."""
    keep = np.arange(len(data["photo"])) if subset is None else subset
    by_photo: dict[str, list[int]] = {}
    for index in keep:
        by_photo.setdefault(str(data["photo"][index]), []).append(int(index))
    order = list(by_photo)
    np.random.default_rng(seed).shuffle(order)
    g = grouping.Grouping(family=family, dimensions=data["vectors"].shape[1], **rule)
    for photo in order:
        g.add_photo(photo, [(i, data["vectors"][i], float(data["quality"][i]))
                            for i in by_photo[photo]])
    return [g.person_of(i) for i in range(len(data["photo"]))]


def score(data: dict, labels: list[str | None]) -> dict:
    label, group = data["label"], data["group"]
    labelled = [i for i in range(len(label)) if label[i]]
    tp = fp = fn = 0
    for a, b in itertools.combinations(labelled, 2):
        same = label[a] == label[b]
        together = labels[a] is not None and labels[a] == labels[b]
        tp += same and together
        fp += together and not same
        fn += same and not together
    members: dict[str, list[int]] = {}
    for index, person in enumerate(labels):
        if person is not None:
            members.setdefault(person, []).append(index)
    mixed = wider_in = 0
    for faces in members.values():
        events = {group[i] for i in faces if group[i].startswith("wider:")}
        mixed += len(events) > 1
        if any(label[i] for i in faces):
            wider_in += len({str(data["photo"][i]) for i in faces
                             if group[i].startswith("wider:")
                             and str(data["photo"][i]).split("/", 1)[1] not in KNOWN_IN_WIDER})
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn),
            "people": len(members), "mixed_events": mixed, "wider_in_labelled": wider_in,
            "assigned": sum(p is not None for p in labels)}


def simulate(data: dict, family: str, orders: int = ORDERS, **rule: float) -> dict:
    runs = [score(data, group_once(data, family, seed, **rule)) for seed in range(orders)]
    people_only = np.nonzero([g and not g.startswith("wider:") for g in data["group"]])[0]
    alone = [score(data, group_once(data, family, seed, people_only, **rule))["people"]
             for seed in range(orders)]
    return {"precision_min": min(r["precision"] for r in runs),
            "recall_min": min(r["recall"] for r in runs),
            "recall_mean": float(np.mean([r["recall"] for r in runs])),
            "mixed_events_max": max(r["mixed_events"] for r in runs),
            "wider_in_labelled_max": max(r["wider_in_labelled"] for r in runs),
            "people_mean": float(np.mean([r["people"] for r in runs])),
            "assigned_mean": float(np.mean([r["assigned"] for r in runs])),
            "people_photos_alone": sorted(Counter(alone).items())}


def search_ms(family: str, stored: int, dimensions: int, runs: int = 20) -> float:
    """Median ms to group one new face against ``stored`` faces, as in a
    library of crowds: 60 % in people of 10 faces, 40 % strangers waiting
    (free); the new faces are strangers too (the slow case: a whole search
    for a core among the waiting faces)."""
    rng = np.random.default_rng(stored)
    assigned = stored * 6 // 100 * 10  # (people of 10)
    centres = rng.normal(size=(assigned // 10, dimensions)).astype(np.float32)
    vectors = np.concatenate([np.repeat(centres, 10, axis=0),
                              rng.normal(size=(stored - assigned, dimensions))]).astype(
        np.float32) + rng.normal(scale=0.3, size=(stored, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    g = grouping.Grouping(family=family, dimensions=dimensions)
    for n in range(stored):
        g.insert(n, f"p{n}", vectors[n], f"{n // 10:012x}" if n < assigned else None,
                 quality=1.0)
    times = []
    for run in range(runs):
        vector = rng.normal(size=dimensions).astype(np.float32)
        vector /= np.linalg.norm(vector)
        started = time.perf_counter()
        g.add_photo(f"new{run}", [(stored + run, vector, 1.0)])
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def sweep_rules(data: dict, family: str) -> list[dict]:
    """Grouping in 10 orders for join and core distances around the family's
    rule, with and without the quality gate."""
    rule = grouping.RULES[family]
    found = []
    for join in np.round(rule.join + np.arange(-0.08, 0.09, 0.02), 2):
        for core in np.round(rule.core + np.arange(-0.04, 0.05, 0.02), 2):
            for min_quality in (0.0, rule.min_quality):
                found.append({"join": float(join), "core": float(core),
                              "min_quality": min_quality,
                              **simulate(data, family, orders=10, join=float(join),
                                         core=float(core), min_quality=min_quality)})
    return found


def with_quality(data: dict, family: str) -> dict:
    data = dict(data)
    data["quality"] = grouping.quality(family, data["norms"], data["landmarks"])
    return data


def run(families: list[str], model: Path, sweep: bool) -> dict:
    report = {}
    for family in families:
        data = with_quality(dataset(family, model), family)
        result = {"faces": len(data["photo"]), "ms_per_face": round(float(data["ms"]), 1),
                  **simulate(data, family)}
        if sweep:
            result["sweep"] = sweep_rules(data, family)
        result["search_ms_300k"] = round(search_ms(family, 300_000, data["vectors"].shape[1]),
                                         2)
        report[family] = result
        print(family, json.dumps(result, indent=1), file=sys.stderr)
    return report


def compare() -> dict:
    """`make bench`'s People figures: both families, 20 orders, search at 300,000."""
    model = Path(os.environ.get("FACES_MODEL") or MODELS / "scrfd_2.5g_bnkps.onnx")
    return run(list(FILES), model, sweep=False)


def table(report: dict) -> str:
    rows = ["| recognizer | faces | ms per face | precision (min of 20) | recall (min) | "
            "people mixing WIDER events (max) | WIDER photos in a labelled person (max) | "
            "people from the 74 photos alone | one new face vs 300,000 |",
            "|---|---|---|---|---|---|---|---|---|"]
    for family, found in report.items():
        alone = ", ".join(f"{people} ({times}x)" for people, times in found["people_photos_alone"])
        rows.append(f"| {family} | {found['faces']} | {found['ms_per_face']} | "
                    f"{found['precision_min']:.3f} | {found['recall_min']:.3f} | "
                    f"{found['mixed_events_max']} | {found['wider_in_labelled_max']} | {alone} | "
                    f"{found['search_ms_300k']} ms |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--families", nargs="+", default=list(FILES))
    parser.add_argument("--sweep", action="store_true", help="also sweep the thresholds")
    args = parser.parse_args()
    model = Path(os.environ.get("FACES_MODEL") or MODELS / "scrfd_2.5g_bnkps.onnx")
    report = run(args.families, model, args.sweep)
    (RESULTS / "people.json").write_text(json.dumps(report, indent=1))
    print(table(report))


if __name__ == "__main__":
    main()

"""Commands about models and photos on this machine, no server needed:
`faces fetch-model` (download and verify), `faces quantize` (the int8 copy)
and `faces detect` (the server's pipeline on local files)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import logs
from ..errors import ImageRejected, ModelError
from ..vision import detectors, fetch, recognizers
from ..vision.models import sha256_file
from .common import CommandError, Progress, command, config


def detect(args: argparse.Namespace) -> int:
    from ..vision import pipeline
    from ..vision.contract import Options
    from ..vision.worker import Worker, WorkerConfig

    found = config(args)
    # The model in this process; photos go one at a time, each on every core.
    try:
        worker = Worker(WorkerConfig.from_settings(found))
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    worker.use_threads(found.solo_thread_count)
    options = Options.from_settings(found, mode="blur" if args.blur else "box")
    out_dir = Path(args.annotate) if args.annotate else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(args.files))
    failed = 0
    for done, name in enumerate(args.files, 1):
        path = Path(name)
        try:
            result = pipeline.detect_only(worker, path.read_bytes(), options, out_dir is not None)
        except (OSError, ImageRejected) as exc:
            failed += 1
            print(f"faces: {name}: {exc.strerror if isinstance(exc, OSError) else exc}",
                  file=sys.stderr)
            progress(done)
            continue
        if out_dir is not None:
            suffix = ".blurred" if args.blur else ".annotated"
            target = out_dir / f"{path.stem}{suffix}{result.pop('extension')}"
            target.write_bytes(result.pop("image"))
            result["annotated"] = str(target)
        if args.json:
            print(json.dumps({"file": name, **result}), flush=True)
        else:
            count = len(result["faces"])
            extra = f" -> {result['annotated']}" if "annotated" in result else ""
            print(f"{name}: {count} face{'' if count == 1 else 's'}{extra}", flush=True)
        progress(done)
    return 1 if failed else 0


def fetch_recognition(args: argparse.Namespace) -> int:
    family = args.recognizer
    source = recognizers.family_class(family).download
    dest = Path(args.dest or fetch.default_recognition_path(family))
    if dest.is_file() and not args.force:
        try:
            found = recognizers.identify(dest)
        except ModelError as exc:
            raise CommandError(f"{exc}; re-run with --force to replace it") from None
        print(f"recognition model already present: {dest} ({found}, sha256 "
              f"{sha256_file(dest)})")
        return 0
    print(f"downloading {args.url or source.url}")
    try:
        fetch.fetch_recognition(dest, args.url, family, args.sha256, args.timeout)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    print(f"recognition model saved: {dest}\n  sha256 {sha256_file(dest)}\n  "
          f"{family}\n  licence: {source.licence}")
    return 0


def fetch_model(args: argparse.Namespace) -> int:
    logs.configure()  # (a long download says how far it is)
    if args.by_name:  # which model: the one whose own file name --dest has
        if not args.dest:
            raise CommandError("--by-name needs --dest")
        name = Path(args.dest).name
        args.recognizer = fetch.recognition_family_for(name)
        args.detector = fetch.family_for(name)
        args.recognition = args.recognizer is not None
        if not args.recognition and args.detector is None:
            raise CommandError(f"faces does not know where to download a file named {name}. "
                               f"{fetch.hint()}")
    if args.recognition:
        return fetch_recognition(args)
    dest = Path(args.dest or fetch.default_path(args.detector))
    if dest.is_file() and not args.force:
        try:
            info = fetch.verify(dest)
        except ModelError as exc:
            raise CommandError(f"{exc}; re-run with --force to replace it") from None
        print(f"model already present: {dest} ({info.family}, sha256 {info.sha256})")
        return 0
    source = detectors.family_class(args.detector).download
    url = args.url or source.url
    print(f"downloading {url}")
    try:
        info = fetch.fetch(dest, args.detector, url, args.sha256, args.timeout)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    landmarks = "with" if info.landmarks else "without"
    print(f"model saved: {info.path}\n  sha256 {info.sha256}\n  "
          f"{info.family.upper()}, {landmarks} landmarks\n  licence: {source.licence}")
    return 0


def quantize(args: argparse.Namespace) -> int:
    """Make (or check) the int8 copy of the model, and time it against the float one."""
    import shutil

    from ..vision.detectors import quantize
    from ..vision.models import cache_dir

    found = config(args)
    model_path = Path(found.model)
    cache = cache_dir(model_path, found.model_cache)
    try:
        detector = detectors.load(model_path, found.detector)
        if detector.fp32_only:
            print(f"{model_path.name}: {detector.fp32_only}; nothing to do")
            return 0
        photos = Path(args.calibrate) if args.calibrate else None
        if photos is not None:
            print(f"measuring a calibration table on {quantize.CALIBRATION_PHOTOS} photos "
                  f"from {photos}")
        int8, note = quantize.quantized(model_path, cache, detector.feeds, photos)
        chosen, timing = quantize.faster(model_path, int8, cache)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    print(note)
    if args.save_table:
        digest = sha256_file(model_path)
        table = cache / f"{digest}.json" if photos else quantize.table_path(digest, cache)
        target = Path(args.save_table) / table.name
        if table != target:
            shutil.copyfile(table, target)
        print(f"calibration table: {target}")
    print(f"{timing}: FACES_PRECISION=auto runs {'int8' if chosen else 'fp32'} here")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    find = command(
        commands, "detect", detect,
        help="find faces in image files, without a server",
        description="Run the same pipeline as the server on local files. Prints one line "
        "per file (JSON lines with --json); exits 1 if any file failed.")
    find.add_argument("files", nargs="+", metavar="FILE", help="image files")
    find.add_argument("--json", action="store_true", help="print one JSON object per file")
    find.add_argument("--annotate", metavar="DIR",
                      help="write an annotated copy of each image into DIR")
    find.add_argument("--blur", action="store_true",
                      help="blur faces instead of boxing them (with --annotate)")

    getter = command(
        commands, "fetch-model", fetch_model, settings_of="",
        help="download and verify a detector model",
        description="Download a detector model and verify it: SCRFD-2.5G from InsightFace's "
        "buffalo_m pack (the default; non-commercial weights), or YuNet from the OpenCV Zoo "
        "(MIT, sha256 pinned).")
    getter.add_argument("--detector", choices=list(detectors.FAMILIES), default="scrfd",
                        help="which family's model (default scrfd)")
    getter.add_argument("--dest", default=None,
                        help="where to save it (default models/<the family's file name>)")
    getter.add_argument("--url", default=None, help="download from here instead")
    getter.add_argument("--sha256", default=None,
                        help="expected sha256 of the model file (refuse on mismatch)")
    getter.add_argument("--force", action="store_true", help="replace an existing file")
    getter.add_argument("--recognition", action="store_true",
                        help="get a face recognizer for People instead: SFace from the "
                        "OpenCV Zoo (Apache-2.0, sha256 pinned; default models/<its file "
                        "name>)")
    getter.add_argument("--recognizer", choices=list(recognizers.FAMILIES),
                        default=recognizers.DEFAULT,
                        help="with --recognition: which family (arcface: InsightFace's "
                        "buffalo_s pack, non-commercial weights)")
    getter.add_argument("--timeout", type=float, default=fetch.STALL, metavar="SECONDS",
                        help="give the download up after this long without a byte "
                        "(default %(default)s)")
    getter.add_argument("--by-name", action="store_true",
                        help="the model whose own file name --dest has (how a server "
                        "fetches a missing model at start)")

    quant = command(
        commands, "quantize", quantize,
        help="make the int8 copy of the model (done by itself when first needed)",
        description="Make the int8 copy of the model from the calibration table that ships "
        "with faces (or, with --calibrate, from a table measured on your photos), and time "
        "it against the float model on this CPU. Servers and workers do this by themselves "
        "on first start; run it at set-up to have it ready.")
    quant.add_argument("--calibrate", metavar="DIR", default=None,
                       help="measure the calibration table from photos in DIR (for a model "
                       "faces has no table for; 16 photos are used)")
    quant.add_argument("--save-table", metavar="DIR", default=None,
                       help="also copy the calibration table into DIR")


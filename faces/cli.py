"""The ``faces`` command: serve, detect, fetch-model, reindex."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from . import detectors, logs, model, settings
from .detectors import ModelError
from .probe import ImageRejected


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, done: int, total: int | None = None) -> None:
        total = total or self.total
        if not self.active or total <= 1:
            return
        width = 30
        filled = round(width * done / max(total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _config(args: argparse.Namespace) -> settings.Settings:
    """Settings from flags and environment, with the model file checked where
    this command loads it (here, or in workers it starts; with a cluster,
    only the cluster's workers have it; `faces import` needs none)."""
    try:
        config = settings.from_sources(args)
        logs.configure(config.log_format)
        local = args.command in ("detect", "worker", "quantize") or (
            args.command in ("serve", "reindex") and not config.cluster) or (
            args.command == "people" and args.recognise and not config.cluster)
        if local:
            model.check_file(config.model)
    except (ValueError, ModelError) as exc:
        raise CommandError(str(exc)) from None
    return config


def _detect(args: argparse.Namespace) -> int:
    from . import pipeline
    from .options import Options
    from .worker import Worker, WorkerConfig

    config = _config(args)
    # The model in this process; photos go one at a time, each on every core.
    try:
        worker = Worker(WorkerConfig.from_settings(config))
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    worker.use_threads(config.solo_thread_count)
    options = Options.from_settings(config, mode="blur" if args.blur else "box")
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


async def _reindex_with(config: settings.Settings) -> str:
    from . import backends
    from .gallery import Gallery
    from .hub import Hub
    from .options import Options
    from .store import Store

    backend = backends.create(config)
    store = Store(config.data_dir)
    try:
        await backend.start()
        gallery = Gallery(store, backend, Hub(), Options.from_settings(config))
        return (await gallery.reindex(Progress(0))).summary()
    finally:
        backend.shutdown()
        store.close()


def _reindex(args: argparse.Namespace) -> int:
    config = _config(args)
    from .store import DataDirError

    try:
        summary = asyncio.run(_reindex_with(config))
    except (ModelError, DataDirError) as exc:
        raise CommandError(str(exc)) from None
    print(f"reindexed {config.data_dir}: {summary}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    config = _config(args)
    from .store import DataDirError

    try:
        asyncio.run(_run_server(config))
    except ModelError as exc:  # found by the workers as they load it
        raise CommandError(f"{exc}. {model.GET_MODEL_HINT}") from None
    except DataDirError as exc:
        raise CommandError(str(exc)) from None
    return 0


async def _run_server(config: settings.Settings) -> None:
    from .app import serve  # imports tornado; kept out of `faces fetch-model`
    await serve(config)


def _fetch_recognition(args: argparse.Namespace) -> int:
    dest = Path(args.dest or settings.DEFAULT_RECOGNITION_MODEL)
    if dest.is_file() and not args.force:
        digest = model.sha256_file(dest)
        if digest != model.RECOGNITION_SHA256:
            raise CommandError(f"{dest} is not dlib's descriptor model (sha256 {digest}); "
                               f"re-run with --force to replace it")
        print(f"recognition model already present: {dest} (sha256 {digest})")
        return 0
    local = model.installed_recognition_model() if not args.url else None
    print(f"copying {local}" if local else f"downloading {args.url or model.RECOGNITION_URL} "
          "(100 MB; only the 22 MB descriptor model is kept)")
    try:
        model.fetch_recognition(dest, args.url)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    print(f"recognition model saved: {dest}\n  sha256 {model.RECOGNITION_SHA256}\n  "
          f"licence: {model.RECOGNITION_LICENCE}")
    return 0


def _fetch_model(args: argparse.Namespace) -> int:
    if args.recognition:
        return _fetch_recognition(args)
    dest = Path(args.dest or model.default_path(args.detector))
    if dest.is_file() and not args.force:
        try:
            info = model.verify(dest)
        except ModelError as exc:
            raise CommandError(f"{exc}; re-run with --force to replace it") from None
        print(f"model already present: {dest} ({info.family}, sha256 {info.sha256})")
        return 0
    source = detectors.family_class(args.detector).download
    url = args.url or source.url
    print(f"downloading {url}")
    try:
        info = model.fetch(dest, args.detector, url, args.sha256)
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    landmarks = "with" if info.landmarks else "without"
    print(f"model saved: {info.path}\n  sha256 {info.sha256}\n  "
          f"{info.family.upper()}, {landmarks} landmarks\n  licence: {source.licence}")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    """Make (or check) the int8 copy of the model, and time it against the float one."""
    import shutil

    from .detectors import quantize

    config = _config(args)
    model_path = Path(config.model)
    cache = quantize.cache_dir(model_path, config.model_cache)
    try:
        detector = detectors.load(model_path, config.detector)
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
        digest = quantize.sha256(model_path)
        table = cache / f"{digest}.json" if photos else quantize.table_path(digest, cache)
        target = Path(args.save_table) / table.name
        if table != target:
            shutil.copyfile(table, target)
        print(f"calibration table: {target}")
    print(f"{timing}: FACES_PRECISION=auto runs {'int8' if chosen else 'fp32'} here")
    return 0


async def _people_with(config: settings.Settings, recognise: bool) -> list[dict]:
    from . import backends
    from .hub import Hub
    from .people import People, RecognitionConfig
    from .store import Store

    store = Store(config.data_dir)
    backend = backends.create(config) if recognise else None
    try:
        people = People(store, backend, Hub(), RecognitionConfig.from_settings(
            config, recognise))
        people.load()
        if recognise and people.queue:
            await backend.start()
            total = len(people.queue)
            progress = Progress(total)
            print(f"recognising {total} photos", file=sys.stderr)
            for done in range(1, total + 1):
                await people.recognise(people.queue.popleft())
                progress(done)
        return people.list(hidden=True)
    finally:
        if backend is not None:
            backend.shutdown()
        store.close()


def _people(args: argparse.Namespace) -> int:
    """List the people; with --recognise, first recognise the photos waiting."""
    config = _config(args)
    from .store import DataDirError

    if args.recognise and not Path(config.recognition_model).is_file():
        raise CommandError(f"no recognition model at {config.recognition_model}: `faces "
                           f"fetch-model --recognition` gets it")
    try:
        everyone = asyncio.run(_people_with(config, args.recognise))
    except (ModelError, DataDirError) as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        for person in everyone:
            print(json.dumps(person))
        return 0
    for person in everyone:
        hidden = " (hidden)" if person["hidden"] else ""
        print(f"{person['id']}  {person['name'] or '(unnamed)'}{hidden}: "
              f"{person['photos']} photos, {person['faces']} faces")
    print(f"{len(everyone)} people")
    return 0


def _worker(args: argparse.Namespace) -> int:
    """Become a Dask worker with the model preloaded (never returns)."""
    config = _config(args)
    dask = Path(sys.executable).with_name("dask")
    if not dask.is_file():
        raise CommandError("Dask is not installed: pip install 'faces[cluster]'")
    extra = args.dask_args
    # Dask's own options first: what follows --preload is the preload's.
    command = [str(dask), "worker", args.scheduler, "--nthreads", "1",
               "--nworkers", str(args.nworkers or config.worker_count), "--no-dashboard",
               *extra, "--preload", "faces.backends.cluster_preload"]
    env = {**os.environ, **settings.environment(config, "worker")}
    os.execve(dask, command, env)  # noqa: S606 (our own Dask, with our settings)
    return 0  # not reached


def _import(args: argparse.Namespace) -> int:
    from .importer import Importer, ImportProgress, photos

    config = _config(args)
    folders = [Path(name) for name in args.folders]
    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        raise CommandError(f"no such folder or file: {', '.join(missing)}")
    files = list(photos(folders))
    print(f"importing {len(files)} photos into {config.server}", file=sys.stderr)
    importer = Importer(config.server, config.token, config.concurrency,
                        ImportProgress(len(files), sys.stderr))
    summary = asyncio.run(importer.run(files))
    for failure in summary.failures:
        print(f"faces: {failure}", file=sys.stderr)
    print(f"imported {len(files)} photos: {summary.line()}")
    return 1 if summary.failures else 0


def _token(args: argparse.Namespace) -> int:
    print(secrets.token_urlsafe(32))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faces", description="A self-hosted photo gallery "
                                     "that finds faces.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the web server",
                                description="Run the web server. Every option is also an "
                                "environment variable.")
    settings.add_arguments(serve, "serve")
    serve.set_defaults(handler=_serve)

    detect = commands.add_parser(
        "detect", help="find faces in image files, without a server",
        description="Run the same pipeline as the server on local files. Prints one line "
        "per file (JSON lines with --json); exits 1 if any file failed.")
    detect.add_argument("files", nargs="+", metavar="FILE", help="image files")
    detect.add_argument("--json", action="store_true", help="print one JSON object per file")
    detect.add_argument("--annotate", metavar="DIR",
                        help="write an annotated copy of each image into DIR")
    detect.add_argument("--blur", action="store_true",
                        help="blur faces instead of boxing them (with --annotate)")
    settings.add_arguments(detect, "detect")
    detect.set_defaults(handler=_detect)

    rebuild = commands.add_parser(
        "reindex", help="rebuild the catalogue from the files in the data directory",
        description="Drop catalogue rows whose files are gone and add rows for stored "
        "photos that have none (from their metadata, or by detecting again). "
        "Run it while the server is stopped.")
    settings.add_arguments(rebuild, "reindex")
    rebuild.set_defaults(handler=_reindex)

    fetch = commands.add_parser(
        "fetch-model", help="download and verify a detector model",
        description="Download a detector model and verify it: SCRFD-2.5G from InsightFace's "
        "buffalo_m pack (the default; non-commercial weights), or YuNet from the OpenCV Zoo "
        "(MIT, sha256 pinned).")
    fetch.add_argument("--detector", choices=list(detectors.FAMILIES), default="scrfd",
                       help="which family's model (default scrfd)")
    fetch.add_argument("--dest", default=None,
                       help="where to save it (default models/<the family's file name>)")
    fetch.add_argument("--url", default=None, help="download from here instead")
    fetch.add_argument("--sha256", default=None,
                       help="expected sha256 of the model file (refuse on mismatch)")
    fetch.add_argument("--force", action="store_true", help="replace an existing file")
    fetch.add_argument("--recognition", action="store_true",
                       help="get dlib's face descriptor model for People instead "
                       "(default models/dlib_face_recognition_resnet_model_v1.dat)")
    fetch.set_defaults(handler=_fetch_model)

    folks = commands.add_parser(
        "people", help="list the people found in the gallery",
        description="List the people (most faces first). With --recognise, first run "
        "recognition on the photos still waiting for it, such as photos stored before People "
        "existed (resumable: run it again after an interruption). Run that with the server "
        "stopped; a running server does the same by itself.")
    folks.add_argument("--recognise", action="store_true",
                       help="recognise the photos waiting first, with a progress bar")
    folks.add_argument("--json", action="store_true", help="one JSON object per person")
    settings.add_arguments(folks, "people")
    folks.set_defaults(handler=_people)

    quant = commands.add_parser(
        "quantize", help="make the int8 copy of the model (done by itself when first needed)",
        description="Make the int8 copy of the model from the calibration table that ships "
        "with faces (or, with --calibrate, from a table measured on your photos), and time "
        "it against the float model on this CPU. Servers and workers do this by themselves "
        "on first start; run it at set-up to have it ready.")
    quant.add_argument("--calibrate", metavar="DIR", default=None,
                       help="measure the calibration table from photos in DIR (for a model "
                       "faces has no table for; 16 photos are used)")
    quant.add_argument("--save-table", metavar="DIR", default=None,
                       help="also copy the calibration table into DIR")
    settings.add_arguments(quant, "quantize")
    quant.set_defaults(handler=_quantize)

    work = commands.add_parser(
        "worker", help="run detection workers for a Dask cluster",
        description="Start Dask worker processes (one thread each) that load the model once "
        "and take the server's detection jobs. The scheduler is Dask's own `dask scheduler`; "
        "the server points at it with FACES_CLUSTER. Arguments after -- go to `dask worker` "
        "(for example --tls-ca-file ...).")
    work.add_argument("scheduler", help="the scheduler's address, e.g. tcp://10.0.0.5:8786")
    work.add_argument("--nworkers", type=int, default=0,
                      help="worker processes (default: one per CPU core)")
    settings.add_arguments(work, "worker")
    work.set_defaults(handler=_worker)

    bring = commands.add_parser(
        "import", help="send a whole photo library to a running gallery",
        description="Walk the folders and upload every photo through the gallery's API "
        "(the server does the work; open galleries fill live). Photos already stored are "
        "skipped by content hash, so an interrupted import resumes. Exits 1 if any failed.")
    bring.add_argument("folders", nargs="+", metavar="DIR", help="folders (or files)")
    settings.add_arguments(bring, "import")
    bring.set_defaults(handler=_import)

    token = commands.add_parser(
        "token", help="print a strong random access token",
        description="Print a random access token (256 bits, URL-safe) for FACES_TOKEN.")
    token.set_defaults(handler=_token)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logs.configure()  # text until the settings say otherwise
    argv = list(sys.argv[1:] if argv is None else argv)
    passed = argv.index("--") if "--" in argv else len(argv)  # after --: for Dask
    args = build_parser().parse_args(argv[:passed])
    args.dask_args = argv[passed + 1:]
    try:
        return args.handler(args)
    except CommandError as exc:
        print(f"faces: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

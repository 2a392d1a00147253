"""The ``faces`` command: ``faces serve``, ``faces fetch-model``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from . import model, settings
from .detector import ModelError


def _serve(args: argparse.Namespace) -> int:
    try:
        config = settings.from_sources(args)
    except ValueError as exc:
        print(f"faces: {exc}", file=sys.stderr)
        return 2
    try:
        info = model.verify(config.model)
    except ModelError as exc:
        print(f"faces: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("model %s sha256 %s", info.path, info.sha256)
    asyncio.run(_run_server(config))
    return 0


async def _run_server(config: settings.Settings) -> None:
    from .app import serve  # imports tornado; kept out of `faces fetch-model`
    await serve(config)


def _fetch_model(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    if dest.is_file() and not args.force:
        try:
            info = model.verify(dest)
        except ModelError as exc:
            print(f"faces: {exc}; re-run with --force to replace it", file=sys.stderr)
            return 2
        print(f"model already present: {dest} (sha256 {info.sha256})")
        return 0
    print(f"downloading {args.url}")
    try:
        info = model.fetch(dest, args.url, args.sha256)
    except ModelError as exc:
        print(f"faces: {exc}", file=sys.stderr)
        return 2
    landmarks = "with" if info.landmarks else "without"
    print(f"model saved: {info.path}\n  sha256 {info.sha256}\n  SCRFD, {landmarks} landmarks")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faces", description="A self-hosted photo gallery "
                                     "that finds faces.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser("serve", help="run the web server",
                                description="Run the web server. Every option is also an "
                                "environment variable.")
    settings.add_arguments(serve)
    serve.set_defaults(handler=_serve)

    fetch = commands.add_parser("fetch-model", help="download and verify the SCRFD model",
                                description="Download InsightFace's buffalo_m pack, extract "
                                "its SCRFD-2.5G detector and verify it.")
    fetch.add_argument("--dest", default=str(settings.DEFAULT_MODEL),
                       help=f"where to save it (default {settings.DEFAULT_MODEL})")
    fetch.add_argument("--url", default=model.PACK_URL, help="pack to download")
    fetch.add_argument("--sha256", default=None,
                       help="expected sha256 of the extracted model (refuse on mismatch)")
    fetch.add_argument("--force", action="store_true", help="replace an existing file")
    fetch.set_defaults(handler=_fetch_model)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())

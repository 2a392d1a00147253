"""The ``faces`` command. Each module here adds its sub-commands:
:mod:`.server` (serve, worker, token), :mod:`.models` (fetch-model,
quantize, detect), :mod:`.library` (reindex, people), :mod:`.backup`
(backup, restore, check, export), :mod:`.importer` (import) and
:mod:`.folders` (library) and :mod:`.users` (user)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import logs
from . import backup, folders, importer, library, models, server, users
from .common import CommandError

# each adds its own sub-commands
COMMANDS = (server, models, library, folders, backup, importer, users)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faces", description="A self-hosted photo gallery "
                                     "that finds faces.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_commands(commands)
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

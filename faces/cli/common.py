"""What every command shares: its settings (checked as the command needs
them), the one error a user can fix (printed as one line, exit status 2),
and the progress line on a terminal."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from .. import logs, settings
from ..errors import ModelError
from ..vision import fetch

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def config(args: argparse.Namespace) -> settings.Settings:
    """Settings from flags and environment, with the model file checked where
    this command loads it (here, or in workers it starts; with a cluster,
    only the cluster's workers have it; `faces import` needs none)."""
    try:
        found = settings.from_sources(args)
        logs.configure(found.log_format)
        local = args.command in ("detect", "worker", "quantize") or (
            args.command in ("serve", "reindex") and not found.cluster) or (
            args.command == "people" and args.recognize and not found.cluster)
        later = args.command == "serve"  # (the server fetches them with its port open)
        if local and found.fetch_models and not later:
            found = fetch.provide_all(found)
        if local and not (found.fetch_models and later):
            fetch.check_file(found.model)
    except (ValueError, ModelError) as exc:
        raise CommandError(str(exc)) from None
    return found


def command(commands: argparse._SubParsersAction, name: str,
            handler: Callable[[argparse.Namespace], int], settings_of: str | None = None,
            **described: str) -> argparse.ArgumentParser:
    """A sub-command: its parser (``help``, ``description``), the function
    that runs it, and the flags of the settings it uses (those of
    ``settings_of``, another command's; "" for none)."""
    parser = commands.add_parser(name, **described)
    parser.set_defaults(handler=handler)
    if settings_of != "":
        settings.add_arguments(parser, settings_of or name)
    return parser


def confirmed(question: str) -> bool:
    """The user's yes on a terminal (never without one: scripts say --yes)."""
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


class Progress:
    """One line on a terminal: done of total, what else the caller counts,
    the rate and the time left. Silent when the stream is not a terminal."""

    def __init__(self, total: int, unit: str = "", stream: TextIO | None = None) -> None:
        self.total = total
        self.unit = unit  # "photos": "12/40 photos, ... 3.1/s, 9 s left"; "": a bar
        self.stream = stream or sys.stderr
        self.active = self.stream.isatty()
        self.started = time.monotonic()

    def __call__(self, done: int, total: int | None = None, extra: str = "") -> None:
        total = total or self.total
        if not self.active or total <= 1:
            return
        if self.unit:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            rate = done / elapsed
            left = (total - done) / rate if rate else 0
            line = f"{done}/{total} {self.unit}{', ' + extra if extra else ''}, " \
                f"{rate:.1f}/s, {left:.0f} s left "
        else:
            width = 30
            filled = round(width * done / max(total, 1))
            line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        self.stream.write("\r" + line)
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

"""Model files: where a family's file is downloaded from (:class:`Download`),
their sha256, where copies made from them are kept, and a file lock so the
workers that start together make a copy once. Shared by the detectors (the
int8 copy) and the recognizers."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError


@dataclass(frozen=True)
class Download:
    """Where `faces fetch-model` gets a family's model."""

    url: str
    filename: str  # saved as models/<filename> by default
    sha256: str | None = None  # of the model file itself; None: printed, not checked
    member: str | None = None  # the file's name inside a zip pack, if it comes in one
    licence: str = ""


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(model: Path, configured: str | os.PathLike = "") -> Path:
    """Where copies made from ``model`` are kept: the configured folder, else
    the model's own if we may write there, else ~/.cache/faces."""
    if configured:
        return Path(configured)
    folder = model.resolve().parent
    # (root may write anywhere: a folder with no write bit counts as read-only)
    if os.access(folder, os.W_OK) and folder.stat().st_mode & 0o222:
        return folder
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "faces"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)  # any user may lock it
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # and the lock with it


def source_of(path: Path, key: str) -> str:
    """What a copy made from a model says it was made from: its metadata
    entry ``key`` (the source's sha256), '' if none or not an ONNX file.

    Read by onnxruntime, which the worker has loaded anyway: importing the
    ``onnx`` package for it took 1.1 s of every worker's start (20-40 ms now)."""
    from .runtime import metadata

    try:
        return metadata(path).get(key, "")
    except ModelError:  # a truncated or foreign file: not ours to use
        return ""

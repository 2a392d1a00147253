"""Checking a model file, and fetching one for new installs."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .detector import SCRFD, ModelError

# InsightFace's model-zoo pack that carries the SCRFD-2.5G detector.
PACK_URL = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_m.zip"
PACK_MEMBER = "det_2.5g.onnx"
GET_MODEL_HINT = (
    "Get one with `make setup` (or `faces fetch-model`), or point FACES_MODEL "
    "(--model) at an SCRFD .onnx file.")


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    landmarks: bool
    input_size: tuple[int, int]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: str | os.PathLike) -> ModelInfo:
    """Load the model once and check it is an SCRFD detector; raises ModelError."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no model at {path}. {GET_MODEL_HINT}")
    if not os.access(path, os.R_OK):
        raise ModelError(f"cannot read the model at {path}. {GET_MODEL_HINT}")
    try:
        detector = SCRFD(path)
    except ModelError as exc:
        raise ModelError(f"{exc}. {GET_MODEL_HINT}") from None
    return ModelInfo(path, sha256_file(path), detector.has_landmarks, detector.input_size)


def fetch(dest: str | os.PathLike, url: str = PACK_URL, expected_sha256: str | None = None,
          timeout: float = 60.0) -> ModelInfo:
    """Download the pack, extract the detector to ``dest`` atomically, verify it."""
    dest = Path(dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
            pack = response.read()
    except OSError as exc:
        raise ModelError(
            f"could not download {url} ({exc}). Offline? Copy an SCRFD model "
            f"somewhere and set FACES_MODEL to its path.") from None
    try:
        with zipfile.ZipFile(io.BytesIO(pack)) as archive:
            member = next(n for n in archive.namelist() if n.endswith(PACK_MEMBER))
            data = archive.read(member)
    except (zipfile.BadZipFile, StopIteration):
        raise ModelError(f"{url} did not contain {PACK_MEMBER}") from None
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 and digest != expected_sha256.lower():
        raise ModelError(f"checksum mismatch for {PACK_MEMBER}: got {digest}, "
                         f"expected {expected_sha256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        info = verify(tmp)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return ModelInfo(dest, info.sha256, info.landmarks, info.input_size)

"""Checking a model file, and fetching one for new installs (`faces
fetch-model`), or at start when one is missing (FACES_FETCH_MODELS, as the
Docker image does). Each detector family declares where its model is
downloaded from (``Detector.download``).

Fetched files are readable by everyone (0644, whatever the umask): a model
fetched as root at set-up is read by the server's own user later. A
download that stalls gives up after STALL seconds without a byte, and says
how far it got in the log as it goes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelAccess, ModelError, permission_denied
from . import detectors, recognizers
from .models import sha256_file

log = logging.getLogger(__name__)

GET_MODEL_HINT = (
    "Get one with `make setup` (or `faces fetch-model`), point FACES_MODEL (--model) at an "
    "SCRFD or YuNet .onnx file, or set FACES_FETCH_MODELS=1 to download it at start; in a "
    "container, mount the folder that holds it (`docker run -v /path/to/models:/models:ro`).")


def hint() -> str:
    return GET_MODEL_HINT


STALL = 30.0  # seconds a download may go without a byte before it is given up
PROGRESS_SECONDS = 5.0  # between two progress lines of a download
CHUNK = 1 << 16


def _publish(tmp: str | os.PathLike, dest: Path) -> None:
    """Put a fetched file in place, readable by every user (0644: the server
    may run as another user than the one who fetched it)."""
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    family: str
    landmarks: bool
    input_size: tuple[int, int]


def present(path: Path) -> bool:
    """Whether a model file is there; ModelError, in one line naming what to
    fix, when a folder on the way cannot be entered."""
    try:
        return path.is_file()
    except PermissionError:
        raise ModelAccess(permission_denied(path, "read the model")) from None


def check_file(path: str | os.PathLike) -> Path:
    """The model file exists and is readable (without loading it); raises ModelError."""
    path = Path(path)
    if not present(path):
        raise ModelError(f"no model at {path}. {hint()}")
    if not os.access(path, os.R_OK):
        mode = path.stat().st_mode & 0o777
        raise ModelError(f"cannot read the model at {path}: its permissions ({mode:o}) do "
                         f"not let uid {os.geteuid()} read it. Make it readable "
                         f"(`chmod a+r {path.name}` where it is stored) or run as its owner.")
    return path


def verify(path: str | os.PathLike, family: str = detectors.AUTO) -> ModelInfo:
    """Load the model once and check it is a detector we know; raises ModelError."""
    path = check_file(path)
    try:
        detector = detectors.load(path, family)
    except ModelError as exc:
        raise ModelError(f"{exc}. {GET_MODEL_HINT}") from None
    return ModelInfo(path, sha256_file(path), detector.family, detector.has_landmarks,
                     detector.input_size)


def default_path(family: str) -> Path:
    """Where `faces fetch-model --detector FAMILY` puts the model by default."""
    return Path("models") / detectors.family_class(family).download.filename


def fetch(dest: str | os.PathLike, family: str = "scrfd", url: str | None = None,
          expected_sha256: str | None = None, timeout: float = STALL) -> ModelInfo:
    """Download the family's model (a file, or a member of a zip pack),
    check its sha256 when one is known or given, verify that it loads, and
    put it at ``dest`` atomically."""
    source = detectors.family_class(family).download
    url = url or source.url
    expected = (expected_sha256 or source.sha256 or "").lower()
    dest = Path(dest)
    data = _download(url, source.member, timeout, "FACES_MODEL")
    digest = hashlib.sha256(data).hexdigest()
    if expected and digest != expected:
        raise ModelError(f"checksum mismatch for {source.filename}: got {digest}, "
                         f"expected {expected}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        info = verify(tmp, family)
        _publish(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return ModelInfo(dest, info.sha256, info.family, info.landmarks, info.input_size)


def _download(url: str, member: str | None, timeout: float, what: str) -> bytes:
    """A model file from ``url``: the file itself, or ``member`` of a zip
    pack (a mirror may serve the file itself)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https, or a URL the user gave)
            payload = _read(response, url)
    except OSError as exc:
        raise ModelError(f"could not download {url} ({exc}). Offline? Copy the model "
                         f"somewhere and set {what} to its path.") from None
    if member and payload[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                name = next(n for n in archive.namelist() if n.endswith(member))
                return archive.read(name)
        except (zipfile.BadZipFile, StopIteration):
            raise ModelError(f"{url} did not contain {member}") from None
    return payload


def _read(response: Any, url: str) -> bytes:
    """A response's body, a chunk at a time, saying how far it is every few
    seconds (the socket's timeout bounds each wait for a chunk)."""
    total = int(response.headers.get("Content-Length") or 0)
    parts: list[bytes] = []
    got, told = 0, time.monotonic()
    while chunk := response.read(CHUNK):
        parts.append(chunk)
        got += len(chunk)
        if time.monotonic() - told >= PROGRESS_SECONDS:
            told = time.monotonic()
            of = f" of {total / 1e6:.1f} MB ({100 * got // total} %)" if total else ""
            log.info("downloading %s: %.1f MB%s", url, got / 1e6, of)
    return b"".join(parts)


def default_recognition_path(family: str = recognizers.DEFAULT) -> Path:
    """Where `faces fetch-model --recognition` puts a recognizer by default."""
    return Path("models") / recognizers.family_class(family).download.filename


def fetch_recognition(dest: str | os.PathLike, url: str | None = None,
                      family: str = recognizers.DEFAULT, expected_sha256: str | None = None,
                      timeout: float = STALL) -> Path:
    """Download the recognizer family's model (SFace from the OpenCV Zoo by
    default), check its sha256 (pinned for SFace), check it is a recognizer
    we know, and put it at ``dest`` atomically."""
    source = recognizers.family_class(family).download
    url = url or source.url
    data = _download(url, source.member, timeout, "FACES_RECOGNITION_MODEL")
    digest = hashlib.sha256(data).hexdigest()
    expected = (expected_sha256 or source.sha256 or "").lower()
    if expected and digest != expected:
        raise ModelError(f"checksum mismatch for {source.filename}: got {digest}, "
                         f"expected {expected}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        found = recognizers.identify(tmp)
        if found != family:
            raise ModelError(f"{url} is a {found} model, not {family}")
        _publish(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


def family_for(name: str) -> str | None:
    """The detector family whose download is saved under this file name."""
    for family in detectors.FAMILIES:
        if detectors.family_class(family).download.filename == name:
            return family
    return None


def recognition_family_for(name: str) -> str | None:
    """The recognizer family whose download is saved under this file name."""
    for family in recognizers.FAMILIES:
        if recognizers.family_class(family).download.filename == name:
            return family
    return None


def provide(path: Path, cache: Path, mirror: str = "", timeout: float = STALL) -> Path:
    """A model that is missing at ``path``: the copy fetched into ``cache``
    before, else fetched there now (a file name we know how to download:
    a family's default file), from its publisher or from ``mirror`` (a web
    folder holding the files by name). The download and its check run in
    a `faces fetch-model` of their own: the server process never loads a
    model runtime. Raises ModelError."""
    import subprocess
    import sys

    if present(path):
        return path
    cached = cache / path.name
    if present(cached):
        return cached
    log.info("no model at %s: downloading it into %s", path, cache)
    command = [sys.executable, "-m", "faces", "fetch-model", "--by-name", "--dest", str(cached),
               "--timeout", str(timeout)]
    if mirror:
        command += ["--url", f"{mirror.rstrip('/')}/{path.name}"]
    # (its lines go to the log as they come: a slow download shows its progress)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}) as child:
        lines = []
        for line in child.stdout:
            if line.strip():
                lines.append(line.strip())
                log.info("%s", line.strip())
    if child.returncode != 0:
        said = [line for line in lines if line.startswith("faces: ")] or lines or ["it failed"]
        why = said[-1].removeprefix("faces: ")  # (the command's own one line, if it gave one)
        raise ModelError(f"no model at {path}, and fetching it failed: {why}")
    return cached


def to_download(found: Any) -> bool:
    """Whether :func:`provide_all` would download a model for the settings
    ``found`` (neither where they point nor in the model cache)."""
    from .models import cache_dir

    wanted = [found.model]
    if str(found.recognition_model) and found.recognition_model != Path():
        wanted.append(found.recognition_model)
    return any(not present(path) and not present(cache_dir(path, found.model_cache) / path.name)
               for path in wanted)


def provide_all(found: Any) -> Any:
    """The settings ``found`` with each missing model fetched into the model
    cache (FACES_FETCH_MODELS): the detector (ModelError if it cannot be
    had), and the recognizer (People is off without it)."""
    import dataclasses

    from .models import cache_dir

    mirror = found.model_mirror
    timeout = found.download_timeout
    model = provide(found.model, cache_dir(found.model, found.model_cache), mirror, timeout)
    check_file(model)
    recognition = found.recognition_model
    if str(recognition) and recognition != Path():
        try:
            recognition = provide(recognition, cache_dir(recognition, found.model_cache), mirror,
                                  timeout)
        except ModelError as exc:  # People is off without it; everything else works
            log.error("%s", exc)
    return dataclasses.replace(found, model=model, recognition_model=recognition)

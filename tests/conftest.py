"""Shared test settings: the real models and the real photos.

FACES_MODEL (an SCRFD model; default: models/det_2.5g.onnx, else
../shared/models/scrfd_2.5g_bnkps.onnx), FACES_YUNET_MODEL (default:
face_detection_yunet_2023mar.onnx beside FACES_MODEL, else in
../shared/models) and FACES_TEST_IMAGES (default ../shared/images). Missing
ones skip the tests that need them, except under CI=true, where they are a
failure. Tests about detection take ``family_model`` and run once per family.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from faces.backends.local import LocalBackend
from faces.settings import Settings
from faces.vision.worker import WorkerConfig

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# int8 model copies made by the tests (and the servers they start) go to a
# folder of this run's, never beside the shared models.
os.environ.setdefault("FACES_MODEL_CACHE", tempfile.mkdtemp(prefix="faces-model-cache-"))

# Face counts from ../shared/images/README.md (SCRFD-2.5G, score 0.5, NMS 0.4, 640x640).
EXPECTED_FACES = {
    "t1.jpg": 6,
    "astronaut.png": 1,
    "coffee.jpg": 0,
    "obama.jpg": 1,
    "biden.jpg": 1,
    "obama_small.jpg": 1,
    "two_people.jpg": 2,
    "kit_with_rose.jpg": 2,
    "obama_and_biden.jpg": 3,
}
CROWD = "crowd_selfie.jpg"


def _model_path() -> Path:
    if os.environ.get("FACES_MODEL"):
        return Path(os.environ["FACES_MODEL"])
    local = ROOT / "models" / "det_2.5g.onnx"
    return local if local.is_file() else SHARED / "models" / "scrfd_2.5g_bnkps.onnx"


def _yunet_path() -> Path:
    if os.environ.get("FACES_YUNET_MODEL"):
        return Path(os.environ["FACES_YUNET_MODEL"])
    name = "face_detection_yunet_2023mar.onnx"
    beside = MODEL.parent / name
    return beside if beside.is_file() else SHARED / "models" / name


# Absolute, so tests may start servers in other folders (`make test` passes
# the model as a path relative to the checkout).
MODEL = _model_path().absolute()
YUNET_MODEL = _yunet_path().absolute()
IMAGES = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images").absolute()
SHARED_MODELS = MODEL.parent
FAMILY_MODELS = {"scrfd": MODEL, "yunet": YUNET_MODEL}


SFACE = "face_recognition_sface_2021dec_int8bq.onnx"
ARCFACE = "w600k_mbf.onnx"


def _recognition_path() -> Path:
    """The SFace recognizer: FACES_RECOGNITION_MODEL, else models/, else
    ../shared/models."""
    if os.environ.get("FACES_RECOGNITION_MODEL"):
        return Path(os.environ["FACES_RECOGNITION_MODEL"]).absolute()
    local = ROOT / "models" / SFACE
    return local if local.is_file() else SHARED / "models" / SFACE


RECOGNITION_MODEL = _recognition_path()
ARCFACE_MODEL = Path(os.environ.get("FACES_ARCFACE_MODEL")
                     or RECOGNITION_MODEL.parent / ARCFACE).absolute()
PEOPLE = IMAGES / "people"


def _require(path: Path, what: str) -> None:
    if path.exists():
        return
    message = f"{what} not found at {path}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required under CI=true)", pytrace=False)
    pytest.skip(message)


# A test that takes one of these fixtures loads a real model or starts real
# processes: it is marked slow (`make test-fast` leaves it out).
SLOW_FIXTURES = {"model_path", "yunet_path", "family_model", "recognition_model",
                 "arcface_model", "pool", "yunet_pool"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    from tests.support.server import FacesTestCase

    for item in items:
        case = getattr(item, "cls", None)
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or (
                case is not None and issubclass(case, FacesTestCase)):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model_path() -> Path:
    _require(MODEL, "model (set FACES_MODEL)")
    return MODEL


@pytest.fixture(scope="session")
def yunet_path() -> Path:
    _require(YUNET_MODEL, "YuNet model (set FACES_YUNET_MODEL)")
    return YUNET_MODEL


@pytest.fixture(scope="session", params=sorted(FAMILY_MODELS))
def family_model(request) -> Path:
    """Each detector family's model in turn (tests about detection use this)."""
    path = FAMILY_MODELS[request.param]
    _require(path, f"{request.param} model")
    return path


@pytest.fixture(scope="session")
def recognition_model() -> Path:
    _require(RECOGNITION_MODEL, "recognition model (set FACES_RECOGNITION_MODEL)")
    return RECOGNITION_MODEL


@pytest.fixture(scope="session")
def arcface_model() -> Path:
    _require(ARCFACE_MODEL, "ArcFace model (set FACES_ARCFACE_MODEL)")
    return ARCFACE_MODEL


@pytest.fixture(scope="session")
def images() -> Path:
    _require(IMAGES, "test photos (set FACES_TEST_IMAGES)")
    for name in [*EXPECTED_FACES, CROWD]:
        _require(IMAGES / name, "test photo")
    return IMAGES


def photo_bytes(name: str) -> bytes:
    _require(IMAGES / name, "test photo (set FACES_TEST_IMAGES)")
    return (IMAGES / name).read_bytes()


def started(model: Path):
    """A warmed two-worker local backend; a lone job spreads over two
    threads, as on a two-core server by default."""
    defaults = Settings()  # the server's own limits on memory
    backend = LocalBackend(WorkerConfig(model=str(model), solo_threads=2,
                                        recognition_model=str(RECOGNITION_MODEL)), workers=2,
                           recycle_mb=defaults.worker_recycle_mb,
                           pixel_budget=int(defaults.max_megapixels_in_flight * 1e6))
    asyncio.run(backend.start())
    return backend


@pytest.fixture(scope="session")
def pool(model_path: Path):
    """The SCRFD backend shared by the whole session."""
    backend = started(model_path)
    yield backend
    backend.shutdown()


@pytest.fixture(scope="session")
def yunet_pool(yunet_path: Path):
    """A YuNet backend, for test classes with ``family = "yunet"``."""
    backend = started(yunet_path)
    yield backend
    backend.shutdown()


@pytest.fixture(autouse=True)
def _server_settings(request, tmp_path: Path) -> None:
    """Give FacesTestCase tests the shared backend of their family and a
    fresh data directory (runs before unittest's setUp, so get_app sees them)."""
    from tests.support.server import FacesTestCase

    if isinstance(request.instance, FacesTestCase):
        yunet = request.instance.family == "yunet"
        shared = request.getfixturevalue("yunet_pool" if yunet else "pool")
        request.getfixturevalue("images")
        request.instance.pool = shared
        request.instance.settings = Settings(data_dir=tmp_path / "data",
                                             model=Path(shared.config.model),
                                             workers=shared.size,
                                             recognition_model=Path())  # People: off

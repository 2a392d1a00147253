"""Shared test settings: the real model and the real photos.

FACES_MODEL (default: models/det_2.5g.onnx, else ../shared/models/scrfd_2.5g_bnkps.onnx)
and FACES_TEST_IMAGES (default ../shared/images). Missing ones skip the
tests that need them, except under CI=true, where they are a failure.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from faces.backends.local import LocalBackend
from faces.settings import Settings
from faces.worker import WorkerConfig

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

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


MODEL = _model_path()
IMAGES = Path(os.environ.get("FACES_TEST_IMAGES") or SHARED / "images")
SHARED_MODELS = MODEL.parent


def _require(path: Path, what: str) -> None:
    if path.exists():
        return
    message = f"{what} not found at {path}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required under CI=true)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def model_path() -> Path:
    _require(MODEL, "model (set FACES_MODEL)")
    return MODEL


@pytest.fixture(scope="session")
def images() -> Path:
    _require(IMAGES, "test photos (set FACES_TEST_IMAGES)")
    for name in [*EXPECTED_FACES, CROWD]:
        _require(IMAGES / name, "test photo")
    return IMAGES


def photo_bytes(name: str) -> bytes:
    _require(IMAGES / name, "test photo (set FACES_TEST_IMAGES)")
    return (IMAGES / name).read_bytes()


@pytest.fixture(scope="session")
def pool(model_path: Path):
    """One warmed two-worker pool shared by the whole session; a lone job
    spreads over two threads, as on a two-core server by default."""
    detector_pool = LocalBackend(WorkerConfig(model=str(model_path), solo_threads=2), workers=2)
    asyncio.run(detector_pool.start())
    yield detector_pool
    detector_pool.shutdown()


@pytest.fixture(autouse=True)
def _server_settings(request, tmp_path: Path) -> None:
    """Give FacesTestCase tests the shared pool and a fresh data directory
    (runs before unittest's setUp, so get_app sees them)."""
    from tests.server import FacesTestCase

    if isinstance(request.instance, FacesTestCase):
        shared_pool = request.getfixturevalue("pool")
        request.getfixturevalue("images")
        request.instance.pool = shared_pool
        request.instance.settings = Settings(data_dir=tmp_path / "data", model=MODEL,
                                             workers=shared_pool.workers)

"""The detector pool's thread budget: a lone job spreads over several
threads, jobs with company keep to one each."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from faces.backends.local import LocalBackend
from faces.vision import detectors
from faces.vision.worker import WorkerConfig
from tests.conftest import CROWD, EXPECTED_FACES
from tests.support.jobs import NAP, THREADS


def test_a_lone_job_gets_the_solo_threads(pool: LocalBackend) -> None:
    async def scenario() -> tuple[int, int, int]:
        alone = await pool.run(THREADS)
        busy = asyncio.ensure_future(pool.run(NAP, 0.5))
        await asyncio.sleep(0.1)
        beside = await pool.run(THREADS)
        await busy
        again = await pool.run(THREADS)
        return alone, beside, again

    assert pool.config.solo_threads == 2
    assert asyncio.run(scenario()) == (2, 1, 2)


def test_without_solo_threads_every_job_has_one(model_path: Path) -> None:
    async def scenario() -> int:
        single = LocalBackend(WorkerConfig(model=str(model_path)), workers=1)
        await single.start()
        try:
            return await single.run(THREADS)
        finally:
            single.shutdown()

    assert asyncio.run(scenario()) == 1


@pytest.mark.parametrize("name", [*sorted(EXPECTED_FACES), CROWD])
def test_solo_session_finds_the_same_faces(family_model: Path, images: Path, name: str) -> None:
    image = cv2.imread(str(images / name))
    one = detectors.load(family_model, threads=1).detect(image, detail_size=960)
    two = detectors.load(family_model, threads=2, lean=True).detect(image, detail_size=960)
    assert len(one) == len(two)
    if one:
        boxes = np.array([f.box for f in one]) - np.array([f.box for f in two])
        scores = np.array([f.score for f in one]) - np.array([f.score for f in two])
        assert np.abs(boxes).max() < 0.01 and np.abs(scores).max() < 1e-4

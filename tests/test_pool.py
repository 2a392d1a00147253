"""The detector pool's thread budget: a lone job spreads over several
threads, jobs with company keep to one each."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faces import pipeline
from faces.detector import SCRFD
from faces.pool import DetectorPool
from tests.conftest import CROWD, EXPECTED_FACES


def test_a_lone_job_gets_the_solo_threads(pool: DetectorPool) -> None:
    async def scenario() -> tuple[int, int, int]:
        alone = await pool.run(pipeline.active_threads)
        busy = asyncio.ensure_future(pool.run(time.sleep, 0.5))
        await asyncio.sleep(0.1)
        beside = await pool.run(pipeline.active_threads)
        await busy
        again = await pool.run(pipeline.active_threads)
        return alone, beside, again

    assert pool.solo_threads == 2
    assert asyncio.run(scenario()) == (2, 1, 2)


def test_without_solo_threads_every_job_has_one(model_path: Path) -> None:
    async def scenario() -> int:
        single = DetectorPool(model_path, workers=1, det_size=640, max_pixels=10_000_000)
        await single.start()
        try:
            return await single.run(pipeline.active_threads)
        finally:
            single.shutdown()

    assert asyncio.run(scenario()) == 1


@pytest.mark.parametrize("name", [*sorted(EXPECTED_FACES), CROWD])
def test_solo_session_finds_the_same_faces(model_path: Path, images: Path, name: str) -> None:
    image = cv2.imread(str(images / name))
    one = SCRFD(model_path, threads=1).detect(image, detail_side=960)
    two = SCRFD(model_path, threads=2, lean=True).detect(image, detail_side=960)
    assert len(one) == len(two)
    if one:
        boxes = np.array([f.box for f in one]) - np.array([f.box for f in two])
        scores = np.array([f.score for f in one]) - np.array([f.score for f in two])
        assert np.abs(boxes).max() < 0.01 and np.abs(scores).max() < 1e-4

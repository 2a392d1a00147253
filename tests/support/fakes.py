"""A backend without models, for fast tests of the use cases: jobs run in
this process (in a thread, as a worker would run them) through the real
pipeline, with a detector and a recognizer that read made-up photos.

A made-up photo (:func:`photo`) is a grey canvas with coloured squares: the
fake detector finds each square as a face (landmarks inside it, as a real
detector's), and the fake recognizer describes a face by its colour, so the
same colour in two photos is the same person.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import cv2
import numpy as np

from faces.backends.base import Backend
from faces.errors import BackendBusy, BackendUnavailable
from faces.vision import jobs
from faces.vision.detectors.base import Face
from faces.vision.recognizers.base import Described
from faces.vision.worker import WorkerInfo

GREY = (128, 128, 128)
DIMENSIONS = 128
# Where a face's five landmarks sit in its box (eyes, nose, mouth corners).
MARKS = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])


def photo(squares: list[tuple[tuple[int, int, int], int, int, int]], size: tuple[int, int] =
          (640, 480), seed: int = 0) -> bytes:
    """A PNG: ``squares`` of (BGR colour, x, y, side) on grey; ``seed``
    makes photos with the same squares differ (a few grey pixels)."""
    width, height = size
    image = np.full((height, width, 3), GREY, np.uint8)
    image[0, : seed % width] = (127, 127, 127)
    for colour, x, y, side in squares:
        image[y:y + side, x:x + side] = colour
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


class FakeDetector:
    """Every saturated square is a face."""

    family = "fake"
    default_score = 0.5
    threads = 1
    precision, precision_reason = "fp32", "a fake"
    input_size, dynamic, detail_size = (640, 640), True, 0

    def detect(self, image: np.ndarray, score_threshold: float = 0.5, *args: Any,
               **kwargs: Any) -> list[Face]:
        colourful = (np.ptp(image[:, :, :3].astype(np.int16), axis=2) > 60).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(colourful)
        faces = []
        for x, y, w, h, area in stats[1:count]:
            if area < 64:
                continue
            marks = tuple((float(x + w * mx), float(y + h * my)) for mx, my in MARKS)
            faces.append(Face((float(x), float(y), float(x + w), float(y + h)), 0.99, marks))
        return faces


class FakeRecognizer:
    """A face's descriptor from its colour: a unit vector per colour, as
    sure of every face as SFace is of a sharp, frontal one."""

    family = "sface"  # its descriptors are grouped by SFace's rule

    def describe(self, image: np.ndarray, landmarks: list) -> list[Described]:
        out = []
        for points in landmarks:
            x, y = (int(v) for v in np.asarray(points, float)[2])  # the nose
            colour = tuple(int(c) // 32 for c in image[y, x, :3])
            seed = colour[0] * 64 + colour[1] * 8 + colour[2]
            vector = np.random.default_rng(seed).normal(size=DIMENSIONS).astype(np.float32)
            out.append(Described(vector / np.linalg.norm(vector), 15.0, 500.0))
        return out


class FakeWorker:
    def __init__(self) -> None:
        self.detector = FakeDetector()
        self.recognizer = FakeRecognizer()

    def use_threads(self, threads: int) -> None:
        pass


class FakeBackend(Backend):
    """Runs named jobs on a FakeWorker in a thread of this process."""

    def __init__(self, max_queue: int = 32) -> None:
        self.worker = FakeWorker()
        self.max_queue = max_queue
        self.jobs: list[str] = []  # the names of the jobs run, in order
        self._stopped = False

    @property
    def workers(self) -> int:
        return 1 if self.ready else 0

    async def start(self) -> None:
        self.info = WorkerInfo(os.getpid(), "fake", "fake.onnx", 0.5, "fp32", "a fake",
                               640, 0, self.worker.recognizer.family)
        self.ready = True

    async def run(self, job: str, *args: Any, pixels: int = 0) -> Any:
        if self._stopped:
            raise BackendUnavailable("the fake backend is shut down")
        if self.pending >= 1 + self.max_queue:
            raise BackendBusy("the detector is busy")
        self.pending += 1
        self.jobs.append(job)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, jobs.call, self.worker, job, *args)
        finally:
            self.pending -= 1

    def shutdown(self) -> None:
        self.ready = False
        self._stopped = True

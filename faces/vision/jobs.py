"""The jobs a worker runs, by name. A job is named ``"module:function"`` and
called in the worker as ``function(worker, *args)``, with the worker's state
(:class:`faces.vision.worker.Worker`) first; only picklable arguments and
results cross. Light: naming a job imports nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

# (data, options[, XMP sidecar]) -> Rendered: an upload's whole job (decode, detect,
# the people its XMP names, annotate, encode)
RENDER = "faces.vision.pipeline:render"
# (data, options, annotate) -> faces JSON [+ the annotated image]: detect, store nothing
DETECT = "faces.vision.pipeline:detect_only"
# (stored photo, faces, max pixels) -> [FaceDescription]: People's job
DESCRIBE = "faces.vision.describe:describe_faces"
# () -> WorkerInfo: what the worker loaded
ABOUT = "faces.vision.worker:about"


def call(worker: Any, job: str, *args: Any) -> Any:
    """Run the job named ``"module:function"`` as ``function(worker, *args)``."""
    module, _, name = job.partition(":")
    return getattr(importlib.import_module(module), name)(worker, *args)
# (stored photo, box, max pixels) -> face dict: a face the user drew, with landmarks
LOCATE = "faces.vision.pipeline:locate"

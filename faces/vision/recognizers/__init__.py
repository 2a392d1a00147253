"""Face recognizers: one module per model family, registered here by name,
like the detectors. Light: a family's module (and its runtime) is imported
only when a recognizer is loaded, in a worker process.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

FAMILIES: dict[str, str] = {  # name -> "module:class"
    "dlib": "dlib:Recognizer",
}


def load(path: str | os.PathLike, family: str = "dlib") -> Any:
    """A ready recognizer for the model at ``path``; raises ModelError."""
    module, _, cls = FAMILIES[family].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)(path)

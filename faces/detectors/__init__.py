"""Face detector families: one module each, registered here by name.

The family of a model file is recognised from its inputs and outputs, or
named by the ``detector`` setting (FACES_DETECTOR). This module is light:
a family's module (and onnxruntime or OpenCV with it) is imported only when
a detector is loaded, which happens in worker processes, never in the
server process. Adding a family is one module and one line below.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Detector

FAMILIES: dict[str, str] = {  # name -> "module:class", in the order `auto` tries them
    "scrfd": "scrfd:SCRFD",
    "yunet": "yunet:YuNet",
}
AUTO = "auto"


class ModelError(Exception):
    """The model file is missing, unreadable, or not a detector we know."""


CHOICES = (AUTO, *FAMILIES)


def family_class(name: str) -> type[Detector]:
    module, _, cls = FAMILIES[name].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def recognise(path: str | os.PathLike) -> str:
    """The family of the ONNX file at ``path``; raises ModelError."""
    from .runtime import signature

    found = signature(Path(path))
    for name in FAMILIES:
        if family_class(name).recognises(found):
            return name
    raise ModelError(
        f"{Path(path).name} is not a face detector we know (inputs "
        f"{[shape for _, shape in found[0]]}, {len(found[1])} outputs): use an "
        f"{' or '.join(FAMILIES).upper()} ONNX file, or name its family with "
        f"FACES_DETECTOR (--detector: {', '.join(CHOICES)})")


def load(path: str | os.PathLike, family: str = AUTO, *, threads: int = 1,
         det_size: int = 640, lean: bool = False) -> Detector:
    """A ready detector for the model at ``path``; raises ModelError."""
    if family not in CHOICES:
        raise ModelError(f"FACES_DETECTOR={family!r} is not a detector family: use one of "
                         f"{', '.join(CHOICES)}")
    if not Path(path).is_file():
        raise ModelError(f"model file not found: {path}")
    name = recognise(path) if family == AUTO else family
    return family_class(name)(path, threads=threads, det_size=det_size, lean=lean)

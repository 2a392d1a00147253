"""Face recognizers: one module per model family, registered here by name,
like the detectors. The family of a model file is identified from its
inputs and outputs, or named by the ``recognizer`` setting
(FACES_RECOGNIZER). Light: a family's module (and OpenCV with it) is
imported only when a recognizer is loaded, in a worker process.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ModelError

if TYPE_CHECKING:
    from .base import Recognizer

FAMILIES: dict[str, str] = {  # name -> "module:class", in the order `auto` tries them
    "sface": "sface:SFace",
    "arcface": "arcface:ArcFace",
}
AUTO = "auto"
CHOICES = (AUTO, *FAMILIES)
DEFAULT = "sface"


def family_class(name: str) -> type[Recognizer]:
    module, _, cls = FAMILIES[name].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def identify(path: str | os.PathLike) -> str:
    """The family of the ONNX file at ``path``; raises ModelError."""
    from ..runtime import signature

    path = Path(path)
    try:
        found = signature(path)
    except ModelError:  # onnxruntime may refuse a file OpenCV would load (SFace's)
        found = _onnx_signature(path)
    for name in FAMILIES:
        if family_class(name).matches(found):
            return name
    raise ModelError(
        f"{path.name} is not a face recognizer we know ({len(found[0])} inputs, outputs "
        f"{[shape for _, shape in found[1]]}): use an {' or '.join(FAMILIES).upper()} ONNX "
        f"file in FACES_RECOGNITION_MODEL, or name its family with FACES_RECOGNIZER")


def _onnx_signature(path: Path) -> tuple[list, list]:
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        raise ModelError(f"{path.name} is not an ONNX model: set FACES_RECOGNITION_MODEL to "
                         f"a face recognizer's .onnx file") from None
    initialised = {tensor.name for tensor in graph.initializer}

    def shape(value: object) -> list:
        return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]

    return ([(i.name, shape(i)) for i in graph.input if i.name not in initialised],
            [(o.name, shape(o)) for o in graph.output])


def load(path: str | os.PathLike, family: str = AUTO, cache: str | os.PathLike = ""
         ) -> Recognizer:
    """A ready recognizer for the model at ``path``; raises ModelError."""
    if family not in CHOICES:
        raise ModelError(f"FACES_RECOGNIZER={family!r} is not a recognizer family: use one "
                         f"of {', '.join(CHOICES)}")
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"recognition model not found: {path} (`faces fetch-model "
                         f"--recognition` gets it)")
    cls = family_class(identify(path) if family == AUTO else family)
    return cls(path, cache)

"""Face detector families: one module each, registered here by name.

The family of a model file is identified from its inputs and outputs, or
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

from ...errors import ModelError

if TYPE_CHECKING:
    from .base import Detector

__all__ = ["AUTO", "CHOICES", "FAMILIES", "PRECISIONS", "ModelError", "family_class",
           "identify", "load"]

FAMILIES: dict[str, str] = {  # name -> "module:class", in the order `auto` tries them
    "scrfd": "scrfd:SCRFD",
    "yunet": "yunet:YuNet",
}
AUTO = "auto"


CHOICES = (AUTO, *FAMILIES)
PRECISIONS = ("auto", "fp32", "int8")  # auto: int8 where it is measured faster here


def family_class(name: str) -> type[Detector]:
    module, _, cls = FAMILIES[name].partition(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def identify(path: str | os.PathLike) -> str:
    """The family of the ONNX file at ``path``; raises ModelError."""
    from ..runtime import signature

    found = signature(Path(path))
    for name in FAMILIES:
        if family_class(name).matches(found):
            return name
    raise ModelError(
        f"{Path(path).name} is not a face detector we know (inputs "
        f"{[shape for _, shape in found[0]]}, {len(found[1])} outputs): use an "
        f"{' or '.join(FAMILIES).upper()} ONNX file, or name its family with "
        f"FACES_DETECTOR (--detector: {', '.join(CHOICES)})")


def load(path: str | os.PathLike, family: str = AUTO, *, threads: int = 1,
         det_size: int = 0, lean: bool = False, precision: str = "fp32",
         cache: str | os.PathLike = "", detail_scale: float = 1.0) -> Detector:
    """A ready detector for the model at ``path``; raises ModelError.

    ``precision``: fp32, int8 (a quantized copy, made once and cached; see
    :mod:`.quantize`) or auto. ``det_size``: the first pass's long side
    (0: by precision, ``base.FIRST_PASS``). ``detail_scale``: the finer pass
    for large photos, as a multiple of the first (1: none; 0: by precision,
    ``base.DETAIL_SCALE``).
    """
    from .base import COARSE_SIZE, DETAIL_SCALE, FIRST_PASS

    if family not in CHOICES:
        raise ModelError(f"FACES_DETECTOR={family!r} is not a detector family: use one of "
                         f"{', '.join(CHOICES)}")
    if precision not in PRECISIONS:
        raise ModelError(f"FACES_PRECISION={precision!r}: use one of {', '.join(PRECISIONS)}")
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    cls = family_class(identify(path) if family == AUTO else family)
    chosen, reason = path, ""
    if precision != "fp32":
        from ..models import cache_dir
        from . import quantize

        choice = quantize.choose(path, precision, cache_dir(path, cache),
                                 cls.fp32_only)
        chosen, precision, reason = choice.path, choice.precision, choice.reason
    side = det_size or FIRST_PASS[precision]
    detector = cls(chosen, threads=threads, det_size=side, lean=lean)
    detector.precision, detector.precision_reason = precision, reason
    detector.coarse_size = COARSE_SIZE
    scale = detail_scale or DETAIL_SCALE[precision]
    if scale > 1:
        detector.detail_size = int(-(-side * scale // 32) * 32)
    return detector

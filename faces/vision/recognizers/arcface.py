"""ArcFace (InsightFace): 512 numbers per face, the widest margin between
people measured here. Weights for non-commercial research only: the
MobileFaceNet ``w600k_mbf.onnx`` of the ``buffalo_s`` / ``buffalo_sc``
packs, or ``w600k_r50.onnx`` of ``buffalo_l`` / ``buffalo_m``. Its input
is RGB scaled to -1..1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import Download
from .base import Recognizer

if TYPE_CHECKING:
    from ..runtime import Signature


class ArcFace(Recognizer):
    family = "arcface"
    dimensions = 512
    licence = "InsightFace pretrained models: non-commercial research use only"
    mean = 127.5
    scale = 1 / 127.5
    download = Download(
        url="https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_s.zip",
        filename="w600k_mbf.onnx", member="w600k_mbf.onnx", licence=licence)

    @classmethod
    def matches(cls, signature: Signature) -> bool:
        """One 112x112 image in, 512 numbers out."""
        inputs, outputs = signature
        return bool(inputs) and inputs[0][1][-2:] == [112, 112] and \
            len(outputs) == 1 and outputs[0][1][-1:] == [512]

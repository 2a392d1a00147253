"""SFace (Zhong et al., 2021; OpenCV Zoo, Apache-2.0): 128 numbers per
face, the default recognizer. Licence-clean with YuNet: a fully Apache/MIT
model path.

The OpenCV Zoo's int8 file (block-quantised weights) lists graph inputs its
quantiser left behind, which neither OpenCV nor onnxruntime will load: a
copy without them is made once, named by the file's sha256 and carrying it
in its metadata (a changed file gets a new copy), kept beside the model or
in the model cache. It scales its own input, from 0-255 RGB.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ModelError
from ..models import Download, cache_dir, locked, sha256_file, source_of
from .base import Recognizer

if TYPE_CHECKING:
    from ..runtime import Signature

log = logging.getLogger(__name__)

SOURCE_KEY = "faces.source_sha256"  # metadata of a cleaned copy: the file it came from


def cleaned_path(model: Path, digest: str, cache: Path) -> Path:
    return cache / f"{model.stem}.clean-{digest[:16]}.onnx"


def clean(model: Path, cache: Path) -> Path:
    """The copy of ``model`` without graph inputs that nothing uses (made
    now if missing, or not made from this very file)."""
    digest = sha256_file(model)
    out = cleaned_path(model, digest, cache)
    with locked(cache / f".{out.name}.lock"):
        if out.is_file() and source_of(out, SOURCE_KEY) == digest:
            return out
        import onnx  # (1 s to import: only when a copy is made)

        try:
            graph = onnx.load(str(model))
        except Exception as exc:
            raise ModelError(f"{model.name} is not an ONNX model: {exc}") from None
        used = {name for node in graph.graph.node for name in node.input}
        initialised = {tensor.name for tensor in graph.graph.initializer}
        inputs = [i for i in graph.graph.input if i.name in used and i.name not in initialised]
        del graph.graph.input[:]
        graph.graph.input.extend(inputs)
        entry = graph.metadata_props.add()
        entry.key, entry.value = SOURCE_KEY, digest
        partial = out.with_name(f".{out.name}.partial")
        try:
            onnx.save(graph, str(partial))
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        for stale in cache.glob(f"{model.stem}.clean-*.onnx"):  # copies of earlier versions
            if stale != out:
                stale.unlink(missing_ok=True)
        log.info("made a loadable copy of %s: %s", model.name, out)
        return out


class SFace(Recognizer):
    family = "sface"
    dimensions = 128
    licence = "Apache-2.0 (OpenCV Zoo)"
    download = Download(
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/"
            "face_recognition_sface_2021dec_int8bq.onnx",
        filename="face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        licence=licence)

    @classmethod
    def matches(cls, signature: Signature) -> bool:
        """One 112x112 image in, 128 numbers out."""
        inputs, outputs = signature
        return bool(inputs) and inputs[0][1][-2:] == [112, 112] and \
            len(outputs) == 1 and outputs[0][1][-1:] == [128]

    @classmethod
    def prepared(cls, path: Path, cache: Path | None) -> Path:
        return clean(path, cache or cache_dir(path))

"""onnxruntime, set up once for every model that runs on it (detectors and
recognizers): sessions with a chosen thread count, and a model file's inputs
and outputs (how families are identified). Imported only in worker
processes and the command line."""

from __future__ import annotations

import os
from pathlib import Path

# No telemetry from onnxruntime (read when it initialises).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
import onnxruntime as ort

from ..errors import ModelError

Signature = tuple[list[tuple[str, list]], list[tuple[str, list]]]  # inputs, outputs: name, shape


def session(path: Path, threads: int = 1, lean: bool = False,
            optimize: bool = True) -> ort.InferenceSession:
    """A CPU session with ``threads`` intra-op threads; raises ModelError.

    ``lean``: keep no memory arena between runs (a few per cent slower, and
    less memory held at rest). ``optimize`` False: the graph as it is, for a
    session only read, never run.
    """
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    if threads > 1:  # idle threads sleep instead of spinning on cores others need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if lean:
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
    try:
        return ort.InferenceSession(str(path), sess_options=options,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load model {path}: {exc}") from None


def metadata(path: Path) -> dict[str, str]:
    """The model's own metadata entries; raises ModelError."""
    return dict(session(path, optimize=False).get_modelmeta().custom_metadata_map)


def signature(path: Path) -> Signature:
    """The model's inputs and outputs as (name, shape) pairs."""
    loaded = session(path)
    return ([(i.name, list(i.shape)) for i in loaded.get_inputs()],
            [(o.name, list(o.shape)) for o in loaded.get_outputs()])

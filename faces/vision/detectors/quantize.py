"""int8 copies of float detector models, made on the user's machine.

We may not ship a model's weights, so the int8 copy is made from the float
model the user downloaded, once, by onnxruntime's own static quantizer (QDQ,
per-channel int8 weights, uint8 activations). Static quantization needs the
range of every activation; those come from a calibration table
(onnxruntime's JSON calibration cache) measured once on photos and kept in
``calibration/<sha256 of the float model>.json``, so a user's set-up needs
no photo. For a model we have no table for, ``faces quantize --calibrate
DIR`` measures one from the user's own photos (kept beside the int8 copy).

The copy is named by the float model's sha256 and carries that sha256 in its
metadata: a different or changed float model never reuses it. It lives next
to the model, or in ~/.cache/faces when that folder is read-only (or in
FACES_MODEL_CACHE). Making it is guarded by a file lock, so the workers that
start together make it once.

``auto`` precision: int8 where it is measured faster on this CPU. Both
copies are timed once per CPU (and onnxruntime version) on the same input;
the result is kept beside the int8 copy, so later starts do not time again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import ImageRejected, ModelError
from ..models import locked, source_of
from ..models import sha256_file as sha256
from ..probe import FORMATS, SUFFIXES

log = logging.getLogger(__name__)

TABLES = Path(__file__).resolve().parent / "calibration"
SOURCE_KEY = "faces.float_sha256"  # metadata of an int8 copy: the float model it came from
CALIBRATION_PHOTOS = 16  # photos a calibration table is measured on
CALIBRATION_MAX_PIXELS = 100_000_000  # the user's own photos, read on their machine
CALIBRATION_SIDE = 1024  # their long side: the int8 first pass's (faces.detectors.base)
FASTER = 1.2  # `auto` takes int8 when one pass is at least this many times faster
TIMING_RUNS = 7


class NoCalibration(ModelError):
    """No calibration table for this float model, and no photos to measure one."""


@dataclass(frozen=True)
class Choice:
    """The model file a worker loads, its precision, and why."""

    path: Path
    precision: str  # "fp32" or "int8"
    reason: str


def int8_path(model: Path, digest: str, cache: Path) -> Path:
    return cache / f"{model.stem}.int8-{digest[:16]}.onnx"


def table_path(digest: str, cache: Path) -> Path | None:
    """The calibration table for the float model with this sha256, if any:
    the one that ships with faces, else one measured on this machine."""
    for folder in (TABLES, cache):
        path = folder / f"{digest}.json"
        if path.is_file():
            return path
    return None


def photos_in(folder: Path, count: int = CALIBRATION_PHOTOS) -> list[Path]:
    """``count`` photos spread evenly over the sorted photos under ``folder``."""
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if not found:
        raise ModelError(f"no photos ({FORMATS}) under {folder} to calibrate with")
    step = max(1, len(found) // count)
    return found[::step][:count]


Feeds = Callable[[np.ndarray], dict[str, np.ndarray]]  # a BGR photo -> the model's inputs


def _reader(photos: list[Path], feeds: Feeds) -> object:
    """onnxruntime's calibration input: ``photos``, each prepared by
    ``feeds`` as the detector prepares a photo."""
    from onnxruntime.quantization import CalibrationDataReader

    from ..decode import decode

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(photos)

        def get_next(self) -> dict | None:
            for path in self.left:
                try:
                    image = decode(path.read_bytes(), CALIBRATION_MAX_PIXELS)
                except (OSError, ImageRejected):
                    continue
                return feeds(np.ascontiguousarray(image[:, :, :3]))
            return None

    return Reader()


def _quantize(model: Path, out: Path, table: Path, reader: object = None) -> None:
    """onnxruntime's static QDQ quantization of ``model`` into ``out`` with
    the activation ranges in ``table`` (measured from ``reader`` first when
    given: onnxruntime then saves them there)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    graph = onnx.load(str(model))
    opset = next((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), 0)
    with tempfile.TemporaryDirectory(prefix="faces-int8-") as scratch:
        source = model
        if opset < 13:  # per-channel QuantizeLinear/DequantizeLinear came with opset 13
            source = Path(scratch) / "opset13.onnx"
            onnx.save(version_converter.convert_version(graph, 13), str(source))
        logging.getLogger().disabled, was = True, logging.getLogger().disabled
        try:  # onnxruntime logs advice on the root logger for every model
            quantize_static(str(source), str(out), reader, quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibration_cache_path=str(table))
        finally:
            logging.getLogger().disabled = was


def quantized(model: Path, cache: Path, feeds: Feeds | None = None,
              photos: Path | None = None) -> tuple[Path, str]:
    """The int8 copy of ``model``, made now if it is missing or not made
    from this very model; with the note of what was done.

    With ``photos``, a calibration table is measured from them first (for a
    model faces has none for); raises NoCalibration when there is neither.
    """
    digest = sha256(model)
    out = int8_path(model, digest, cache)
    with locked(cache / f".{out.name}.lock"):
        if photos is None and out.is_file():
            if source_of(out, SOURCE_KEY) == digest:
                return out, f"int8 copy {out}"
            log.warning("%s was not made from %s as it is now: making it again", out, model)
        table, reader = cache / f"{digest}.json", None
        if photos is not None:  # measured now, and saved, by the same quantization
            if feeds is None:
                raise ModelError(f"{model.name}: this detector family cannot be calibrated")
            table.unlink(missing_ok=True)
            reader = _reader(photos_in(photos), feeds)
        else:
            table = table_path(digest, cache)
        if table is None:
            raise NoCalibration(
                f"no int8 calibration for {model.name} (sha256 {digest[:12]}…): measure one "
                f"from your photos with `faces quantize --calibrate DIR`, or set "
                f"FACES_PRECISION=fp32")
        started = time.monotonic()
        partial = out.with_name(f".{out.name}.partial")
        try:
            _quantize(model, partial, table, reader)
            _stamp(partial, digest)
            os.replace(partial, out)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise ModelError(f"could not make an int8 copy of {model.name}: {exc}") from None
        for stale in cache.glob(f"{model.stem}.int8-*.onnx"):  # copies of earlier versions
            if stale != out:
                stale.unlink(missing_ok=True)
        return out, f"int8 copy made in {time.monotonic() - started:.1f} s: {out}"


def _stamp(path: Path, digest: str) -> None:
    import onnx

    model = onnx.load(str(path))
    entry = model.metadata_props.add()
    entry.key, entry.value = SOURCE_KEY, digest
    onnx.save(model, str(path))


def cpu_name() -> str:
    """This CPU's model and instruction-set flags, and onnxruntime's version:
    what decides whether int8 is faster."""
    import onnxruntime

    name, flags = platform.machine(), ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and not name.endswith(")"):
                name = f"{name} ({value.strip()})"
            elif key.strip() in ("flags", "Features") and not flags:
                flags = hashlib.sha256(value.strip().encode()).hexdigest()[:8]
    return f"{name} flags {flags or '?'} onnxruntime {onnxruntime.__version__}"


def time_both(fp32: Path, int8: Path, side: int = 640) -> tuple[float, float]:
    """Median ms of one pass over a ``side`` x 3/4 ``side`` input on one
    thread, float and int8, timed in turns so both see the same machine."""
    from .. import runtime

    sessions = [runtime.session(path, threads=1) for path in (fp32, int8)]
    fixed = sessions[0].get_inputs()[0].shape
    shape = [1, 3, side * 3 // 4, side]
    if all(isinstance(d, int) for d in fixed[2:]):  # a fixed-size export
        shape[2:] = fixed[2:]
    blob = np.random.default_rng(0).normal(0, 0.5, shape).astype(np.float32)
    feeds = [{s.get_inputs()[0].name: blob} for s in sessions]
    for session, feed in zip(sessions, feeds, strict=True):
        session.run(None, feed)
    times: list[list[float]] = [[], []]
    for _ in range(TIMING_RUNS):
        for index, (session, feed) in enumerate(zip(sessions, feeds, strict=True)):
            started = time.perf_counter()
            session.run(None, feed)
            times[index].append(1000 * (time.perf_counter() - started))
    return float(np.median(times[0])), float(np.median(times[1]))


def faster(fp32: Path, int8: Path, cache: Path) -> tuple[bool, str]:
    """Whether int8 is measured faster on this CPU (timed once per CPU)."""
    record = cache / f"{int8.stem}.speed.json"
    cpu = cpu_name()
    with locked(cache / f".{record.name}.lock"):
        try:
            known = json.loads(record.read_text())
        except (OSError, ValueError):
            known = {}
        if cpu not in known:
            fp32_ms, int8_ms = time_both(fp32, int8)
            known[cpu] = {"fp32_ms": round(fp32_ms, 1), "int8_ms": round(int8_ms, 1)}
            partial = record.with_name(f".{record.name}.partial")
            partial.write_text(json.dumps(known, indent=1))
            os.replace(partial, record)
    fp32_ms, int8_ms = known[cpu]["fp32_ms"], known[cpu]["int8_ms"]
    chosen = fp32_ms >= FASTER * int8_ms
    return chosen, (f"a 640-pixel pass takes {int8_ms:.0f} ms in int8, {fp32_ms:.0f} ms in "
                    f"float32 on this CPU")


def choose(model: Path, precision: str, cache: Path, fp32_only: str = "") -> Choice:
    """The file to load for ``precision`` (auto, fp32 or int8). ``fp32_only``:
    why this family is never quantized (empty: it may be). Raises ModelError
    when int8 is asked for and cannot be had."""
    if precision == "fp32":
        return Choice(model, "fp32", "FACES_PRECISION=fp32")
    if fp32_only:
        return Choice(model, "fp32", fp32_only)
    try:
        int8, note = quantized(model, cache)
    except (ModelError, OSError) as exc:  # no table, or nowhere to write the copy
        reason = str(exc) if isinstance(exc, ModelError) else \
            f"cannot keep an int8 copy in {cache} ({exc.strerror}): set FACES_MODEL_CACHE"
        if precision == "int8":
            raise ModelError(reason) from None
        return Choice(model, "fp32", f"auto: {reason}")
    if precision == "int8":
        return Choice(int8, "int8", f"FACES_PRECISION=int8; {note}")
    chosen, timing = faster(model, int8, cache)
    if chosen:
        return Choice(int8, "int8", f"auto: {timing}; {note}")
    return Choice(model, "fp32", f"auto: {timing} (int8 not {FASTER}x faster)")

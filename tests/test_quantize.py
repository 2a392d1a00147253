"""The int8 detector: its cached copy (made once, reused, refused and remade
when the float model changes), calibration from the user's photos, the
`auto` choice, and the faces it finds on the real photos."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import onnx
import pytest

from faces.errors import ModelError
from faces.vision import detectors, models, pipeline
from faces.vision.contract import Options
from faces.vision.detectors import quantize
from faces.vision.models import source_of
from tests.conftest import CROWD, EXPECTED_FACES
from tests.support.process import faces


@pytest.fixture
def own_model(model_path: Path, tmp_path: Path) -> Path:
    """A copy of the SCRFD model in a folder of the test's own (writable:
    the int8 copy is made beside it)."""
    folder = tmp_path / "models"
    folder.mkdir()
    return Path(shutil.copy(model_path, folder / "det.onnx"))


def int8_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.int8-*.onnx"))


def changed(model: Path) -> None:
    """The same network saved again with other metadata: a different file."""
    graph = onnx.load(str(model))
    entry = graph.metadata_props.add()
    entry.key, entry.value = "retrained", "yes"
    onnx.save(graph, str(model))


def count(detector, images: Path, name: str) -> int:
    """Faces the server's pipeline finds in a shared photo."""
    image = cv2.imread(str(images / name))
    return len(pipeline.detect(detector, image, Options(max_pixels=50_000_000)))


BESIDE = {"FACES_MODEL_CACHE": ""}  # the command keeps the copy beside the model


def test_int8_copy_is_made_once_beside_the_model_then_reused(own_model: Path,
                                                               images: Path) -> None:
    first = detectors.load(own_model, precision="int8", detail_scale=0)
    [made] = int8_files(own_model.parent)
    assert first.precision == "int8" and first.path == made
    assert "int8 copy made in" in first.precision_reason
    assert source_of(made, quantize.SOURCE_KEY) == quantize.sha256(own_model)
    stamp = made.stat()
    again = detectors.load(own_model, precision="int8", detail_scale=0)
    assert again.path == made and "made in" not in again.precision_reason
    assert (made.stat().st_ino, made.stat().st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)
    # A copy cut short (a disk that filled up, a crash while it was written) is
    # not taken for ours: it is made again.
    made.write_bytes(made.read_bytes()[: made.stat().st_size // 2])
    assert source_of(made, quantize.SOURCE_KEY) == ""
    mended = detectors.load(own_model, precision="int8", detail_scale=0)
    assert mended.path == made and "int8 copy made in" in mended.precision_reason
    assert source_of(made, quantize.SOURCE_KEY) == quantize.sha256(own_model)
    # int8 runs its first pass at 1024 and finds what float32 finds on every photo
    assert first.input_size == (1024, 1024) and first.detail_size == 1280
    for name, expected in EXPECTED_FACES.items():
        assert count(first, images, name) == expected, name


def test_two_processes_starting_together_make_it_once(own_model: Path) -> None:
    starts = [subprocess.Popen([sys.executable, "-m", "faces", "quantize", "--model",
                                str(own_model)], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, **BESIDE})
              for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in starts]
    assert [p.returncode for p in starts] == [0, 0]
    assert sum("int8 copy made" in out for out in outputs) == 1, outputs
    assert len(int8_files(own_model.parent)) == 1


def test_a_changed_float_model_never_gets_the_old_copy(own_model: Path, images: Path) -> None:
    detectors.load(own_model, precision="int8")
    [old] = int8_files(own_model.parent)
    changed(own_model)
    # No calibration table ships for this file: int8 is refused with the way out ...
    with pytest.raises(ModelError, match="faces quantize --calibrate"):
        detectors.load(own_model, precision="int8")
    # ... and auto stays float32, saying why.
    auto = detectors.load(own_model, precision="auto")
    assert auto.precision == "fp32" and auto.path == own_model
    assert "no int8 calibration" in auto.precision_reason
    # Calibrated from the user's own photos, a new copy replaces the old one.
    done = faces("quantize", "--model", str(own_model), "--calibrate", str(images),
                 env=BESIDE, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "measuring a calibration table" in done.stdout
    [new] = int8_files(own_model.parent)
    assert new != old and not old.exists()
    assert source_of(new, quantize.SOURCE_KEY) == quantize.sha256(own_model)
    assert (own_model.parent / f"{quantize.sha256(own_model)}.json").is_file()
    loaded = detectors.load(own_model, precision="int8")
    assert loaded.path == new and count(loaded, images, "t1.jpg") == 6


def test_a_copy_not_made_from_this_model_is_refused_and_remade(
        own_model: Path, caplog: pytest.LogCaptureFixture) -> None:
    digest = quantize.sha256(own_model)
    forged = quantize.int8_path(own_model, digest, own_model.parent)
    shutil.copy(own_model, forged)  # right name, but not our int8 copy of it
    with caplog.at_level(logging.WARNING):
        loaded = detectors.load(own_model, precision="int8")
    assert "making it again" in caplog.text
    assert loaded.path == forged and source_of(forged, quantize.SOURCE_KEY) == digest
    assert forged.stat().st_size < own_model.stat().st_size / 2  # int8 weights


def test_auto_takes_int8_where_it_is_measured_faster(own_model: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    auto = detectors.load(own_model, precision="auto")
    [record] = own_model.parent.glob("*.speed.json")
    timing = json.loads(record.read_text())[quantize.cpu_name()]
    faster = timing["fp32_ms"] >= quantize.FASTER * timing["int8_ms"]
    assert auto.precision == ("int8" if faster else "fp32")
    assert f"{timing['int8_ms']:.0f} ms in int8" in auto.precision_reason
    # Timed once per CPU: later starts read the record ...
    monkeypatch.setattr(quantize, "time_both", lambda *a: pytest.fail("timed again"))
    assert detectors.load(own_model, precision="auto").precision == auto.precision
    # ... and a CPU where int8 is not faster keeps float32 at 640.
    record.write_text(json.dumps({quantize.cpu_name(): {"fp32_ms": 20.0, "int8_ms": 19.0}}))
    slow = detectors.load(own_model, precision="auto")
    assert slow.precision == "fp32" and slow.path == own_model
    assert slow.input_size == (640, 640) and "not 1.2x faster" in slow.precision_reason


def test_int8_finds_more_of_the_crowd(own_model: Path, images: Path) -> None:
    fp32 = detectors.load(own_model, precision="fp32", detail_scale=0)
    int8 = detectors.load(own_model, precision="int8", detail_scale=0)
    assert count(int8, images, CROWD) >= count(fp32, images, CROWD) >= 300


def test_yunet_stays_float32(yunet_path: Path) -> None:
    loaded = detectors.load(yunet_path, precision="int8")
    assert loaded.precision == "fp32" and "YuNet runs in float32" in loaded.precision_reason
    assert loaded.input_size == (640, 640)
    done = faces("quantize", "--model", str(yunet_path))
    assert done.returncode == 0 and "nothing to do" in done.stdout


def test_read_only_model_folder_caches_in_the_home(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(models.os, "access", lambda path, mode: False)
    assert models.cache_dir(tmp_path / "m.onnx") == tmp_path / "cache" / "faces"
    assert models.cache_dir(tmp_path / "m.onnx", tmp_path / "x") == tmp_path / "x"
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)  # no write bit: read-only, even to root
    assert models.cache_dir(locked / "m.onnx") == tmp_path / "cache" / "faces"


def test_nowhere_to_keep_the_copy(own_model: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    auto = detectors.load(own_model, precision="auto", cache=blocked / "cache")
    assert auto.precision == "fp32" and "FACES_MODEL_CACHE" in auto.precision_reason
    with pytest.raises(ModelError, match="cannot keep an int8 copy"):
        detectors.load(own_model, precision="int8", cache=blocked / "cache")


def test_bad_precision_is_one_clear_line(model_path: Path, images: Path) -> None:
    done = faces("detect", str(images / "t1.jpg"), "--model", str(model_path),
                 "--precision", "int4")
    assert done.returncode == 2
    assert done.stderr.strip() == ("faces: precision must be one of auto, fp32, int8, "
                                   "not 'int4'")


def test_a_face_filling_a_large_portrait_is_found(own_model: Path, images: Path) -> None:
    """A 1200-pixel portrait's face is larger than SCRFD's anchors at 1024:
    the coarse pass finds it."""
    int8 = detectors.load(own_model, precision="int8", detail_scale=0)
    assert count(int8, images / "people" / "biden", "biden2.jpg") == 1

"""`faces detect` and `faces reindex`, run as the real command."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from pathlib import Path

import cv2

from faces.library.catalogue import Catalogue
from faces.services import Services
from faces.settings import Settings
from tests.support.process import faces


def test_detect_prints_counts_and_fails_on_bad_files(images: Path, model_path: Path,
                                                     tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_text("<html>not a photo</html>")
    result = faces("detect", str(images / "t1.jpg"), str(images / "coffee.jpg"), str(junk),
                   str(tmp_path / "missing.jpg"), "--model", str(model_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{images / 't1.jpg'}: 6 faces",
                                          f"{images / 'coffee.jpg'}: 0 faces"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert "junk.jpg: This is not a supported image" in errors[0]
    assert "missing.jpg: No such file or directory" in errors[1]


def test_detect_json_annotate_and_blur(images: Path, model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = faces("detect", "--json", "--annotate", str(out), str(images / "two_people.jpg"),
                   "--model", str(model_path))
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["file"] == str(images / "two_people.jpg") and len(line["faces"]) == 2
    assert (line["width"], line["height"]) == (1126, 661)
    assert cv2.imread(line["annotated"]).shape == (661, 1126, 3)
    blurred = faces("detect", "--blur", "--annotate", str(out), str(images / "two_people.jpg"),
                    "--model", str(model_path))
    assert blurred.returncode == 0 and (out / "two_people.blurred.jpg").is_file()


def test_detect_without_model_is_a_clear_error(images: Path, tmp_path: Path) -> None:
    result = faces("detect", str(images / "t1.jpg"), "--model", str(tmp_path / "none.onnx"))
    assert result.returncode == 2 and "FACES_MODEL" in result.stderr


def test_reindex_rebuilds_the_catalogue(images: Path, pool, tmp_path: Path) -> None:
    data = tmp_path / "data"
    model_path = Path(pool.config.model)
    # Make a gallery of three photos the way the server does.
    services = Services.create(Settings(data_dir=data, model=model_path), backend=pool)
    gallery = services.gallery

    async def add_all() -> list[str]:
        return [(await gallery.add((images / name).read_bytes(), name, gallery.defaults))[0].id
                for name in ("obama_small.jpg", "kit_with_rose.jpg", "coffee.jpg")]

    ids = asyncio.run(add_all())
    before = {p.id: p for p in services.catalogue.since(None)}
    services.catalogue.close()
    # Lose the catalogue, one photo's files, and another photo's sidecar.
    (data / "catalogue.sqlite3").unlink()
    for extra in ("-wal", "-shm"):
        Path(f"{data / 'catalogue.sqlite3'}{extra}").unlink(missing_ok=True)
    (data / "meta" / f"{ids[1]}.json").unlink()
    shutil.rmtree(data / "tmp")
    result = faces("reindex", "--data-dir", str(data), "--model", str(model_path))
    assert result.returncode == 0, result.stderr
    assert "1 re-detected" in result.stdout and "2 restored" in result.stdout
    catalogue = Catalogue(data)
    after = {p.id: p for p in catalogue.since(None)}
    assert set(after) == set(ids)
    assert after[ids[0]] == before[ids[0]]
    assert len(after[ids[1]].faces) == 2  # found again on the stored original
    # A row whose files vanished stays, unless the user asks, and sees the count first.
    for name in after[ids[2]].files():
        (data / "photos" / name).unlink()
    catalogue.close()
    result = faces("reindex", "--data-dir", str(data), "--model", str(model_path))
    assert result.returncode == 0 and "0 rows removed" in result.stdout
    asked = faces("reindex", "--drop-missing", "--data-dir", str(data), "--model",
                  str(model_path))  # (no terminal to answer the question: nothing removed)
    assert asked.returncode == 2 and "1 of the 3 photos in the catalogue" in asked.stdout
    assert f"{ids[2]}  coffee.jpg" in asked.stdout and "nothing was removed" in asked.stderr
    with sqlite3.connect(data / "catalogue.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == 3
    result = faces("reindex", "--drop-missing", "--yes", "--data-dir", str(data), "--model",
                   str(model_path))
    assert result.returncode == 0 and "1 rows removed" in result.stdout
    with sqlite3.connect(data / "catalogue.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == 2


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from faces.cli.common import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen, pipe = Terminal(), io.StringIO()
    for stream in (screen, pipe):
        bar = Progress(3, stream=stream)
        for done in (1, 2, 3):
            bar(done)
    assert screen.getvalue().endswith("] 3/3\n") and "\r[" in screen.getvalue()
    assert pipe.getvalue() == ""
    # With a unit (faces import): what else is counted, the rate and the time left.
    screen = Terminal()
    line = Progress(4, "photos", stream=screen)
    line(1, extra="6 faces")
    assert "1/4 photos, 6 faces, " in screen.getvalue() and "s left" in screen.getvalue()


def test_each_command_lists_only_the_flags_it_uses() -> None:
    detect = faces("detect", "--help").stdout
    for used in ("--model", "--detector", "--score-threshold", "--detail-scale", "--precision",
                 "--model-cache", "--annotate"):
        assert used in detect
    for unused in ("--port", "--rate-limit", "--token", "--data-dir", "--workers"):
        assert unused not in detect
    reindex = faces("reindex", "--help").stdout
    assert "--data-dir" in reindex and "--port" not in reindex
    serve = faces("serve", "--help").stdout
    assert "--port" in serve and "--annotate" not in serve

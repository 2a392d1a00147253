"""The library's files: written atomically, never replaced, nothing left
behind by a failed write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from faces.library.files import Files
from tests.test_catalogue import photo


def test_files_are_written_atomically_and_never_replaced(tmp_path: Path) -> None:
    files = Files(tmp_path)
    files.write_photo({"a.jpg": b"first"})
    files.write_photo({"a.jpg": b"second"})
    assert (files.photos_dir / "a.jpg").read_bytes() == b"first"
    assert list(files.tmp_dir.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    files = Files(tmp_path)

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        files.write("b.jpg", b"data")
    assert list(files.tmp_dir.iterdir()) == [] and not (files.photos_dir / "b.jpg").exists()


def test_failed_set_removes_only_what_it_wrote(tmp_path: Path, monkeypatch) -> None:
    files = Files(tmp_path)
    files.write("kept.jpg", b"stored earlier")
    real_replace, calls = os.replace, []

    def replace_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("os.replace", replace_then_fail)
    with pytest.raises(OSError):
        files.write_photo({"new.jpg": b"a", "kept.jpg": b"b", "other.jpg": b"c"}, photo(1))
    assert sorted(p.name for p in files.photos_dir.iterdir()) == ["kept.jpg"]
    assert (files.photos_dir / "kept.jpg").read_bytes() == b"stored earlier"
    assert list(files.tmp_dir.iterdir()) == [] and list(files.meta_dir.iterdir()) == []

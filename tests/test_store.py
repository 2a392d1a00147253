from __future__ import annotations

import os
from pathlib import Path

import pytest

from faces.store import Photo, Store, content_id


def photo(n: int) -> Photo:
    pid = content_id(str(n).encode())
    return Photo(id=pid, filename=f"{n}.jpg", created="2026-01-01T00:00:00Z", width=10,
                 height=10, faces=[{"box": [1, 2, 3, 4], "score": 0.9, "landmarks": None}],
                 original=f"{pid}.jpg", annotated=f"{pid}.annotated.jpg",
                 thumbnail=f"{pid}.thumb.jpg")


def test_catalogue_survives_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path)
    assert store.add(photo(1)) and store.add(photo(2))
    assert not store.add(photo(1))  # same id
    store.close()
    again = Store(tmp_path)
    assert [p.filename for p in again.newest(10)] == ["2.jpg", "1.jpg"]
    assert again.get(photo(1).id) == photo(1)


def test_paging_and_since(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ids = [photo(n).id for n in range(5)]
    for n in range(5):
        store.add(photo(n))
    assert [p.id for p in store.newest(2, before=ids[3])] == [ids[2], ids[1]]
    assert [p.id for p in store.since(ids[2])] == ids[3:]
    assert [p.id for p in store.since(None)] == ids
    with pytest.raises(KeyError):
        store.newest(2, before="f" * 24)


def test_files_are_written_atomically_and_never_replaced(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.write_files({"a.jpg": b"first"})
    store.write_files({"a.jpg": b"second"})
    assert (store.photos_dir / "a.jpg").read_bytes() == b"first"
    assert list(store.tmp_dir.iterdir()) == []


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path)

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        store.write_file("b.jpg", b"data")
    assert list(store.tmp_dir.iterdir()) == [] and not (store.photos_dir / "b.jpg").exists()


def test_content_id_is_stable() -> None:
    assert content_id(b"abc") == content_id(b"abc") != content_id(b"abd")
    assert len(content_id(b"")) == 24


def test_failed_set_removes_only_what_it_wrote(tmp_path: Path, monkeypatch) -> None:
    store = Store(tmp_path)
    store.write_file("kept.jpg", b"stored earlier")
    real_replace, calls = os.replace, []

    def replace_then_fail(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("os.replace", replace_then_fail)
    with pytest.raises(OSError):
        store.write_files({"new.jpg": b"a", "kept.jpg": b"b", "other.jpg": b"c"}, photo(1))
    assert sorted(p.name for p in store.photos_dir.iterdir()) == ["kept.jpg"]
    assert (store.photos_dir / "kept.jpg").read_bytes() == b"stored earlier"
    assert list(store.tmp_dir.iterdir()) == [] and list(store.meta_dir.iterdir()) == []

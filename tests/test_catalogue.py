from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from tornado.testing import gen_test

from faces.library import migrations
from faces.library.catalogue import CATALOGUE, Catalogue
from faces.library.records import Photo, content_id
from tests.conftest import photo_bytes
from tests.support.helpers import multipart
from tests.support.server import FacesTestCase


def photo(n: int) -> Photo:
    pid = content_id(str(n).encode())
    return Photo(id=pid, filename=f"{n}.jpg", created="2026-01-01T00:00:00Z", width=10,
                 height=10, faces=[{"box": [1, 2, 3, 4], "score": 0.9, "landmarks": None}],
                 original=f"{pid}.jpg", annotated=f"{pid}.annotated.jpg",
                 thumbnail=f"{pid}.thumb.jpg")


def detected(faces: list[dict]) -> list[dict]:
    """Faces as detected: without the id and person the catalogue adds."""
    assert all(isinstance(f["id"], int) and f["person"] is None for f in faces)
    return [{k: v for k, v in f.items() if k not in ("id", "person")} for f in faces]


def test_catalogue_survives_reopening(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path)
    assert catalogue.add(photo(1)) and catalogue.add(photo(2))
    assert not catalogue.add(photo(1))  # same id
    catalogue.close()
    again = Catalogue(tmp_path)
    assert [p.filename for p in again.newest(10)] == ["2.jpg", "1.jpg"]
    stored = again.get(photo(1).id)
    assert dataclasses.replace(stored, faces=detected(stored.faces)) == photo(1)


def test_paging_and_since(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path)
    ids = [photo(n).id for n in range(5)]
    for n in range(5):
        catalogue.add(photo(n))
    assert [p.id for p in catalogue.newest(2, before=ids[3])] == [ids[2], ids[1]]
    assert [p.id for p in catalogue.since(ids[2])] == ids[3:]
    assert [p.id for p in catalogue.since(None)] == ids
    with pytest.raises(KeyError):
        catalogue.newest(2, before="f" * 24)


def test_content_id_is_stable() -> None:
    assert content_id(b"abc") == content_id(b"abc") != content_id(b"abd")
    assert len(content_id(b"")) == 24


V0_DUMP = Path(__file__).parent / "data" / "catalogue-v0.sql"


def v0_catalogue(data_dir: Path) -> list[dict]:
    """A catalogue as the first build left it (from its dump), and its photos."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(data_dir / CATALOGUE)
    db.execute("PRAGMA journal_mode=WAL")  # as the first build opened it
    db.executescript(V0_DUMP.read_text())
    rows = db.execute("SELECT id, filename, created, width, height, faces FROM photos "
                      "ORDER BY seq").fetchall()
    db.close()
    return [{"id": r[0], "filename": r[1], "created": r[2], "width": r[3], "height": r[4],
             "faces": json.loads(r[5])} for r in rows]


def test_first_build_catalogue_is_migrated_with_nothing_lost(tmp_path: Path) -> None:
    old = v0_catalogue(tmp_path)
    assert sum(len(p["faces"]) for p in old) >= 10  # real photos, real faces
    catalogue = Catalogue(tmp_path)
    photos = catalogue.since(None)
    assert [(p.id, p.filename, p.created, p.width, p.height, detected(p.faces))
            for p in photos] == \
        [(o["id"], o["filename"], o["created"], o["width"], o["height"], o["faces"])
         for o in old]
    assert migrations.version(catalogue.db) == migrations.VERSION
    columns = [row[1] for row in catalogue.db.execute("PRAGMA table_info(photos)")]
    assert "faces" not in columns  # one row per face now
    rows = catalogue.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    assert rows == sum(len(o["faces"]) for o in old)
    # The old file was kept, as it was, before anything changed.
    backup = tmp_path / f"{CATALOGUE}.v0.bak"
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == len(old)
    # Paging, deleting (faces go with their photo) and adding keep working.
    assert [p.id for p in catalogue.newest(2)] == [o["id"] for o in old[::-1][:2]]
    catalogue.delete(old[0]["id"])
    assert catalogue.db.execute("SELECT COUNT(*) FROM faces WHERE photo = ?",
                            (old[0]["id"],)).fetchone()[0] == 0
    assert catalogue.add(photo(99))
    assert detected(catalogue.get(photo(99).id).faces) == photo(99).faces
    catalogue.close()
    again = Catalogue(tmp_path)  # nothing left to migrate: no second backup
    assert len(again.since(None)) == len(old)
    assert sorted(p.name for p in tmp_path.glob("*.bak")) == [backup.name]


def test_a_failed_migration_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    old = v0_catalogue(tmp_path)
    broken = [*migrations.MIGRATIONS, ("a step that fails", "SELECT no_such_function();")]
    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    monkeypatch.setattr(migrations, "VERSION", len(broken))
    with pytest.raises(sqlite3.OperationalError):
        Catalogue(tmp_path)
    with sqlite3.connect(tmp_path / CATALOGUE) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM photos").fetchone()[0] == len(old)
        assert "faces" in [row[1] for row in db.execute("PRAGMA table_info(photos)")]


def test_a_newer_catalogue_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / CATALOGUE) as db:
        db.execute(f"PRAGMA user_version = {migrations.VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this faces"):
        Catalogue(tmp_path)


def test_faces_without_landmarks_are_stored(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path)
    bare = dataclasses.replace(photo(5), faces=[{"box": [1.5, 2, 30, 40], "score": 0.7,
                                                 "landmarks": None}] * 2)
    assert catalogue.add(bare)
    assert detected(catalogue.get(bare.id).faces) == bare.faces


class TestUpgradedGallery(FacesTestCase):
    """A gallery the first build made, after the upgrade: the same photos
    uploaded again, boxed or blurred, are found under the ids it gave them."""

    def get_app(self):
        v0_catalogue(self.settings.data_dir)
        return super().get_app()

    @gen_test(timeout=60)
    async def test_re_uploads_find_the_first_builds_photos(self) -> None:
        boxed = await self.upload("t1.jpg")
        body, kind = multipart([("file", "two_people.jpg", photo_bytes("two_people.jpg"))],
                               {"mode": "blur"})
        blurred = await self.http_client.fetch(self.get_url("/api/photos"), method="POST",
                                               body=body, headers={"Content-Type": kind})
        assert (boxed.code, blurred.code) == (200, 200)  # already there: nothing stored
        assert json.loads(boxed.body)["id"] == "47f682e945b659f93a9e490b"
        assert json.loads(blurred.body)["id"] == "e6c89031c60799f2f6a6a6f4"

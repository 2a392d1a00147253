from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from tornado.testing import gen_test

from faces.errors import DataDirError
from faces.library import migrations
from faces.library.catalogue import CATALOGUE, Catalogue
from faces.library.catalogue_people import COVER
from faces.library.records import Photo, content_id
from tests.conftest import photo_bytes
from tests.support.helpers import multipart
from tests.support.server import FacesTestCase


def photo(n: int) -> Photo:
    pid = content_id(str(n).encode())
    return Photo(id=pid, filename=f"{n}.jpg", created="2026-01-01T00:00:00Z", width=10,
                 height=10, faces=[{"box": [1, 2, 3, 4], "score": 0.9, "landmarks": None}],
                 display=f"{pid}.jpg", annotated=f"{pid}.annotated.jpg",
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


def v0_catalogue(data_dir: Path, with_files: bool = False) -> list[dict]:
    """A catalogue as the first build left it (from its dump), and its photos
    (``with_files``: and the files it names, as stand-ins, in photos/)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(data_dir / CATALOGUE)
    db.execute("PRAGMA journal_mode=WAL")  # as the first build opened it
    db.executescript(V0_DUMP.read_text())
    if with_files:
        (data_dir / "photos").mkdir(exist_ok=True)
        for names in db.execute("SELECT original, annotated, thumbnail FROM photos"):
            for name in names:
                (data_dir / "photos" / name).write_bytes(b"a stand-in")
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
    with pytest.raises(DataDirError, match="newer than this faces"):
        Catalogue(tmp_path)


def test_faces_without_landmarks_are_stored(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path)
    bare = dataclasses.replace(photo(5), faces=[{"box": [1.5, 2, 30, 40], "score": 0.7,
                                                 "landmarks": None}] * 2)
    assert catalogue.add(bare)
    assert detected(catalogue.get(bare.id).faces) == bare.faces


def test_people_are_paged_by_key_and_their_counts_kept_true(tmp_path: Path) -> None:
    """People, most photos first (ties by id), walked page by page through
    an index; the counts read are the ones kept as faces move."""
    catalogue = Catalogue(tmp_path)
    faces = []
    for n in range(30):
        stored = photo(n)
        assert catalogue.add(stored)
        faces.append(catalogue.get(stored.id).faces[0]["id"])
    sizes = {"a" * 12: 6, "b" * 12: 4, "c" * 12: 4, "d" * 12: 4, "e" * 12: 2,
             "f" * 12: 1, "0" * 12: 1, "1" * 12: 5}
    placed, start = {}, 0
    for person, size in sizes.items():
        placed.update({face: person for face in faces[start:start + size]})
        start += size
    catalogue.regroup(placed, list(sizes), [], pinned=False)
    catalogue.update_person("1" * 12, hidden=True)

    def walk(limit: int, hidden: bool = False) -> list[tuple[int, str]]:
        seen, after = [], None
        while True:
            page = catalogue.people_page(limit + 1, after, hidden)
            seen += [(p.photos, p.id) for p in page[:limit]]
            if len(page) <= limit:
                return seen
            after = page[limit - 1].id

    expected = sorted(((size, person) for person, size in sizes.items()),
                      key=lambda pair: (-pair[0], pair[1]))
    for limit in (1, 2, 3, 7, 50):
        assert walk(limit, hidden=True) == expected
        assert walk(limit) == [pair for pair in expected if pair[1] != "1" * 12]
    assert catalogue.people_page(5, "9" * 12) is None  # an unknown cursor
    # a face moves from the largest to the smallest: both counts follow
    catalogue.regroup({faces[0]: "f" * 12}, [], [], pinned=True)
    assert (catalogue.person("a" * 12).photos, catalogue.person("f" * 12).photos) == (5, 2)
    # every way of reading people is a search of an index, never a scan of faces
    plans = {
        "page": ("SELECT id FROM people WHERE hidden = 0 AND (photos < 3 OR (photos = 3 AND "
                 "id > 'x')) ORDER BY photos DESC, id LIMIT 5", ()),
        "cover": (f"UPDATE people SET cover = ({COVER}) WHERE id = ?", ("a" * 12,)),
        "photos of a person": ("SELECT seq FROM faces WHERE person = ? ORDER BY seq DESC "
                               "LIMIT 10", ("a" * 12,)),
    }
    for what, (sql, values) in plans.items():
        plan = " ".join(row[3] for row in catalogue.db.execute("EXPLAIN QUERY PLAN " + sql,
                                                               values))
        assert "SCAN" not in plan.replace("SCAN CONSTANT", "") and "TEMP B-TREE" not in plan, \
            (what, plan)


class TestUpgradedGallery(FacesTestCase):
    """A gallery the first build made, after the upgrade: the same photos
    uploaded again, boxed or blurred, are found under the ids it gave them."""

    def get_app(self):
        v0_catalogue(self.settings.data_dir, with_files=True)
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


def test_every_read_a_request_makes_is_planned_on_an_index(tmp_path: Path) -> None:
    """Each statement the catalogue runs for a page, a photo, a person or a
    photo's recognition, captured as it is run (with its values), then
    planned by SQLite after `PRAGMA optimize`: a search of an index, never a
    scan of a table or a sort in a temporary tree; a plan that does not
    depend on how the library happens to look."""
    catalogue = Catalogue(tmp_path)
    photos, faces = [], []
    for n in range(60):
        stored = photo(n)
        stored = dataclasses.replace(stored, faces=stored.faces * 3)
        assert catalogue.add(stored)
        photos.append(stored.id)
        faces += [f["id"] for f in catalogue.get(stored.id).faces]
    people = [f"{n:012x}" for n in range(6)]
    catalogue.regroup({face: people[n % 6] for n, face in enumerate(faces[::2])}, people, [])
    catalogue.update_person(people[0], name="Ada")
    catalogue.update_person(people[1], hidden=True)
    catalogue.close()
    catalogue = Catalogue(tmp_path)
    catalogue.serve()  # as the server opens it: reads on their own connection, and
    catalogue._writer.submit(lambda: None).result()  # the writer has optimized it
    statements: list[str] = []
    catalogue.db.set_trace_callback(statements.append)
    catalogue.get(photos[5])
    catalogue.newest(20)
    catalogue.newest(20, before=photos[30])
    catalogue.newest_of([people[0]], 20)
    catalogue.newest_of([people[0], people[2]], 20, before=photos[40])
    catalogue.newest(20, order="taken")  # the timeline: a page, the next, a year, a range
    catalogue.newest(20, before=photos[30], order="taken")
    catalogue.newest(20, order="taken", until="2026")
    catalogue.newest(20, order="taken", since="2025-12", until="2026-01")
    catalogue.newest_of([people[0]], 20, order="taken")
    catalogue.newest_of([people[0], people[2]], 20, before=photos[40], order="taken")
    catalogue.years()
    catalogue.months("2026")
    catalogue.count([people[0]])
    catalogue.people_page(10)
    catalogue.people_page(10, people[2])
    catalogue.people_page(10, people[2], hidden=True)
    catalogue.person(people[3])
    catalogue.person_named("ada")
    catalogue.faces_of(people[0], 10)
    catalogue.faces_of(people[0], 10, faces[10])
    catalogue.is_recognized(photos[7])
    catalogue.description_state(photos[7])
    catalogue.named_faces(photos[0])
    catalogue.face(faces[3])
    catalogue.db.set_trace_callback(None)
    assert len(statements) > 20
    for sql in statements:
        plan = " ".join(row[3] for row in catalogue.db.execute("EXPLAIN QUERY PLAN " + sql))
        scans = [part for part in plan.split("SCAN ")[1:]
                 if not part.startswith(("CONSTANT", "p USING", "f USING", "faces USING",
                                         "photos USING", "people USING", "o USING"))]
        if "FROM photos ORDER BY seq DESC LIMIT" in sql:  # (a walk of its own key, stopped)
            scans = [part for part in scans if not part.startswith("photos")]
        if "WHERE seq IN (" in sql:  # (a page's own rows, by key: sorted, at most a page)
            plan = plan.replace("USE TEMP B-TREE FOR ORDER BY", "")
        assert not scans and "TEMP B-TREE" not in plan, (sql, plan)


def test_a_gallery_from_before_originals_upgrades_in_place(tmp_path: Path) -> None:
    """A catalogue of schema 5 (its "original" the re-encoded copy): backed
    up, then migrated; each photo keeps the copy it has, marked as a copy
    (no original kept), dated when it was uploaded, on the timeline."""
    db = sqlite3.connect(tmp_path / CATALOGUE, isolation_level=None)
    for _, script in migrations.MIGRATIONS[:5]:
        for statement in migrations._statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 5")
    pid = "a" * 24
    db.execute("INSERT INTO photos (id, filename, created, width, height, original, annotated, "
               "thumbnail) VALUES (?, 'old.jpg', '2025-02-03T04:05:06.123456Z', 10, 10, ?, ?, ?)",
               (pid, f"{pid}.jpg", f"{pid}.annotated.jpg", f"{pid}.thumb.jpg"))
    db.close()
    catalogue = Catalogue(tmp_path)
    assert (tmp_path / f"{CATALOGUE}.v5.bak").is_file()
    photo = catalogue.get(pid)
    assert (photo.display, photo.original) == (f"{pid}.jpg", None)
    assert (photo.taken, photo.taken_source) == ("2025-02-03T04:05:06+00:00", "upload")
    assert photo.taken_key == "2025-02-03T04:05:06.000000" == catalogue.db.execute(
        "SELECT taken_key FROM photos").fetchone()[0]
    assert [p.id for p in catalogue.newest(5, order="taken")] == [pid]
    assert catalogue.years() == [("2025", 1)]
    assert photo.files() == [f"{pid}.jpg", f"{pid}.annotated.jpg", f"{pid}.thumb.jpg"]
    catalogue.close()

"""The data directory's faults, provoked for real on real servers: a photos
folder not mounted, an empty, truncated, zeroed or garbage catalogue, one
locked by another process, a read-only filesystem, a full disk at start and
while running, stored photos without a row. Each asserts what the user sees
(the status, the one line) and that every acknowledged photo, face, name and
assignment is still there. Then backup, restore and check."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tornado.testing import gen_test

from faces.library.catalogue import CATALOGUE
from faces.library.datadir import MARKER
from faces.services import Services
from faces.settings import Settings
from tests.conftest import RECOGNITION_MODEL, _require
from tests.support.disk import OnTmpfs, mount_tmpfs
from tests.support.helpers import stored
from tests.support.process import faces, free_port, get_json, server, upload
from tests.support.server import FacesTestCase

ADA = "a" * 12


def gallery(data: Path, pool, images: Path) -> list[str]:
    """Three photos stored as the server stores them, and a person named Ada
    holding the faces of two of them; returns the photo ids."""
    services = Services.create(Settings(data_dir=data, model=Path(pool.config.model)),
                               backend=pool, recognize=False)
    add = services.gallery

    async def add_all() -> list[str]:
        return [(await add.add((images / name).read_bytes(), name, add.defaults))[0].id
                for name in ("obama_small.jpg", "kit_with_rose.jpg", "coffee.jpg")]

    ids = asyncio.run(add_all())
    catalogue = services.catalogue
    faces_of = [catalogue.get(photo_id).faces[0]["id"] for photo_id in ids[:2]]
    catalogue.regroup({face: ADA for face in faces_of}, [ADA], [], pinned=True)
    catalogue.update_person(ADA, name="Ada")
    catalogue.close()
    return ids


def snapshot(data: Path) -> tuple:
    """Every photo, face and person the catalogue holds."""
    with contextlib.closing(sqlite3.connect(f"file:{data / CATALOGUE}?mode=ro",
                                            uri=True)) as db:
        return tuple(db.execute(sql).fetchall() for sql in (
            "SELECT id, filename, created, original FROM photos ORDER BY seq",
            "SELECT id, photo, x1, y1, x2, y2, person, pinned FROM faces ORDER BY id",
            "SELECT id, name, hidden, faces, photos FROM people ORDER BY id"))


def every(base: str, what: str = "photos", query: str = "") -> list[dict]:
    """Every photo (or person) a server lists, page by page."""
    found, url = [], f"/api/{what}?limit=200{query}"
    while url:
        page = get_json(base + url)[1]
        found += page[what]
        url = page["next"]
    return found


def refused(data: Path, model: Path, *extra: str, timeout: float = 60) -> str:
    """`faces serve` on ``data``: it must stop at once with one clear line
    (exit status 2, no traceback); returns the line."""
    result = faces("serve", "--data-dir", str(data), "--model", str(model), "--address",
                   "127.0.0.1", "--port", str(free_port()), "--workers", "1", *extra,
                   timeout=timeout)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("faces: "), result.stderr
    return last


def serves(data: Path, model: Path, ids: list[str]) -> None:
    """A real server on ``data`` serves every photo, and Ada with hers."""
    with (data.parent / "serve.log").open("w") as log, server(data, model, log=log) as (_, base):
        photos = get_json(base + "/api/photos")[1]["photos"]
        assert sorted(p["id"] for p in photos) == sorted(ids)
        [ada] = get_json(base + "/api/people?named=1")[1]["people"]
        assert (ada["name"], ada["photos"]) == ("Ada", 2)
        for photo in photos:
            assert get_json(base + f"/api/photos/{photo['id']}")[0] == 200


# -- start-up ----------------------------------------------------------------------


def test_a_photos_folder_not_mounted_stops_start_up_and_loses_nothing(
        tmp_path: Path, pool, images: Path, model_path: Path) -> None:
    data = tmp_path / "data"
    ids = gallery(data, pool, images)
    before = snapshot(data)
    (data / "photos").rename(tmp_path / "elsewhere")
    line = refused(data, model_path)
    assert f"{data / 'photos'} is missing, but the catalogue lists 3 photos" in line
    assert "mount it and start again" in line and "--drop-missing" in line
    assert not (data / "photos").exists()  # nothing made in its place
    (data / "photos").mkdir()  # an empty mount point, the volume not mounted on it
    line = refused(data, model_path)
    assert f"neither the gallery's marker ({MARKER})" in line and "mount it" in line
    (data / "photos").rmdir()
    (tmp_path / "elsewhere").rename(data / "photos")  # mounted again
    assert snapshot(data) == before
    serves(data, model_path, ids)
    assert snapshot(data)[1:] == before[1:]  # faces and people as they were


def test_a_gallery_made_before_markers_gets_one(tmp_path: Path, pool, images: Path,
                                                model_path: Path) -> None:
    data = tmp_path / "data"
    ids = gallery(data, pool, images)
    (data / "photos" / MARKER).unlink()
    serves(data, model_path, ids)  # its newest photos are there: it is this gallery's
    assert (data / "photos" / MARKER).is_file()


@pytest.mark.parametrize("damage", ["empty", "truncated", "zeroed", "garbage"])
def test_a_damaged_catalogue_is_one_line(tmp_path: Path, pool, images: Path,
                                         model_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    gallery(data, pool, images)
    path = data / CATALOGUE
    for extra in ("-wal", "-shm"):
        assert not Path(f"{path}{extra}").exists()  # (closed: all in the file)
    size = path.stat().st_size
    path.write_bytes({"empty": b"", "truncated": path.read_bytes()[: size // 3],
                      "zeroed": bytes(size), "garbage": os.urandom(size)}[damage])
    line = refused(data, model_path)
    expected = {"empty": "is empty (0 bytes), but", "truncated": "is damaged",
                "zeroed": "is not a SQLite database", "garbage": "is not a SQLite database"}
    assert f"the catalogue {path} {expected[damage]}" in line or \
        f"The catalogue {path} {expected[damage]}" in line, line
    assert "restore" in line and "faces reindex" in line
    if damage != "empty":
        checked = faces("check", "--data-dir", str(data))
        assert checked.returncode in (1, 2) and "Traceback" not in checked.stderr
    assert stored(data / "photos")  # the photos are untouched


def test_a_catalogue_locked_by_another_program_is_one_line(tmp_path: Path, pool,
                                                          images: Path,
                                                          model_path: Path) -> None:
    data = tmp_path / "data"
    ids = gallery(data, pool, images)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(data / CATALOGUE)!r}, isolation_level=None)\n"
         "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = refused(data, model_path)
        assert "is locked by another program" in line
    finally:
        holder.kill()
        holder.wait()
    serves(data, model_path, ids)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to mount a filesystem")
def test_a_read_only_filesystem_is_one_line(tmp_path: Path, pool, images: Path,
                                            model_path: Path) -> None:
    mount = tmp_path / "mount"
    mount_tmpfs(mount, "30m")
    try:
        data = mount / "data"
        ids = gallery(data, pool, images)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        line = refused(data, model_path)
        assert f"{data} is on a read-only filesystem: mount it read-write" in line
        subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        serves(data, model_path, ids)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """A file that takes every byte left on the disk holding ``folder``."""
    filler = folder / "filler"
    with filler.open("wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
    with contextlib.suppress(OSError), filler.open("ab") as handle:
        while True:  # (the last few bytes, one at a time)
            handle.write(b"\0")
            handle.flush()
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to mount a filesystem")
def test_start_up_on_a_full_disk(tmp_path: Path, pool, images: Path, model_path: Path) -> None:
    """A new gallery cannot be made on a full disk: one line. A gallery
    already there starts (deleting is how space comes back), and says so."""
    mount = tmp_path / "mount"
    mount_tmpfs(mount, "30m")
    try:
        data = mount / "data"
        ids = gallery(data, pool, images)
        filler = fill(mount)
        line = refused(mount / "new", model_path)
        assert "no space left on the disk" in line or "is full" in line, line
        with (tmp_path / "serve.log").open("w") as log, \
                server(data, model_path, log=log, failing=True) as (_, base):
            status, health = get_json(base + "/healthz")
            assert status == 503 and health["status"] == "failing"
            assert any("is full" in problem for problem in health["problems"])
            request = f"{base}/api/photos/{ids[2]}"
            assert subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                   "-X", "DELETE", request], capture_output=True,
                                  text=True).stdout == "204"
            filler.unlink()
            deadline = time.monotonic() + 10
            while get_json(base + "/healthz")[0] != 200:
                assert time.monotonic() < deadline, "health did not come back"
                time.sleep(0.2)
            assert len(get_json(base + "/api/photos")[1]["photos"]) == 2
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


# -- while running -------------------------------------------------------------------


class TestFullDiskWhileRunning(OnTmpfs, FacesTestCase):
    """A 30 MB disk filled while photos wait for recognition: uploads 507,
    deleting works, recognition stalls (and says so) and resumes by itself
    once space is freed; nothing acknowledged is lost."""

    overrides = {"recognition_model": RECOGNITION_MODEL, "rate_limit": 0}
    disk_size = "30m"

    def setUp(self) -> None:
        _require(RECOGNITION_MODEL, "recognition model")
        super().setUp()

    async def health(self) -> tuple[int, dict]:
        answer = await self.http_client.fetch(self.get_url("/healthz"), raise_error=False)
        return answer.code, json.loads(answer.body)

    @gen_test(timeout=180)
    async def test_a_full_disk_stalls_recognition_and_deleting_frees_it(self) -> None:
        recognition = self.services.recognition
        while not self.services.ready:
            await asyncio.sleep(0.05)
        assert recognition.state == "on"
        recognition.stop()  # (held, so that photos wait for it when the disk fills)
        recognition._task = None
        names = ["people/obama/obama.jpg", "people/obama/obama2.jpg",
                 "people/kit_harington/john1.jpg", "people/kit_harington/john2.jpg",
                 "two_people.jpg"]
        acknowledged = []
        for name in names:
            answer = await self.upload(name)
            assert answer.code == 201
            acknowledged.append(json.loads(answer.body)["id"])
        filler = await asyncio.get_running_loop().run_in_executor(None, fill, self.mount)
        refused = await self.upload("obama_and_biden.jpg")
        assert refused.code == 507
        assert json.loads(refused.body)["error"]["code"] == "insufficient_storage"
        status, health = await self.health()
        assert status == 503 and health["status"] == "failing"
        recognition.run()
        deadline = asyncio.get_running_loop().time() + 30
        while recognition.state != "stalled":
            assert asyncio.get_running_loop().time() < deadline, "recognition did not stall"
            await asyncio.sleep(0.1)
        status, health = await self.health()
        assert status == 503 and health["recognition"] == "stalled"
        assert any("stalled" in problem for problem in health["problems"])
        metrics = (await self.http_client.fetch(self.get_url("/metrics"))).body.decode()
        assert "faces_recognition_stalled 1.0" in metrics
        # Deleting works on the full disk: it is how space comes back.
        gone = acknowledged.pop()
        deleted = await self.http_client.fetch(self.get_url(f"/api/photos/{gone}"),
                                               method="DELETE", raise_error=False)
        assert deleted.code == 204, deleted.body
        filler.unlink()
        deadline = asyncio.get_running_loop().time() + 90
        while recognition.backlog or recognition.state != "on":
            assert asyncio.get_running_loop().time() < deadline, "recognition did not resume"
            await asyncio.sleep(0.2)
        assert (await self.health())[0] == 200
        photos = self.services.gallery.page(50).photos
        assert sorted(p.id for p in photos) == sorted(acknowledged)
        assert {len(p.faces) for p in photos} >= {1}
        people = self.services.people.list()
        assert sorted(p.photos for p in people)[-2:] == [2, 2]  # Obama's two, Kit's two
        metrics = (await self.http_client.fetch(self.get_url("/metrics"))).body.decode()
        assert "faces_recognition_stalled 0.0" in metrics


class TestLockedCatalogueWhileRunning(FacesTestCase):
    @gen_test(timeout=60)
    async def test_a_locked_catalogue_is_503_busy_and_leaves_no_file(self) -> None:
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(self.services.catalogue.path)!r}, "
            "isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        try:
            assert (await holder.stdout.readline()).strip() == b"locked"
            answer = await self.upload("t1.jpg")
            assert answer.code == 503 and answer.headers["Retry-After"] == "5"
            error = json.loads(answer.body)["error"]
            assert error["code"] == "catalogue_busy" and "locked by another program" in \
                error["message"]
            assert stored(self.files.photos_dir) == []  # nothing acknowledged, nothing left
            assert list(self.files.meta_dir.iterdir()) == []
            health = await self.http_client.fetch(self.get_url("/healthz"), raise_error=False)
            assert health.code == 503 and "locked" in json.loads(health.body)["problems"][0]
        finally:
            holder.stdin.close()
            await holder.wait()
        assert (await self.upload("t1.jpg")).code == 201
        health = await self.http_client.fetch(self.get_url("/healthz"), raise_error=False)
        assert health.code == 200


def test_stored_photos_without_a_row_are_added_back_after_start(
        tmp_path: Path, pool, images: Path, model_path: Path) -> None:
    """A crash between the files and the catalogue leaves photos without a
    row: the server adds them back by itself (from their sidecar, or by
    detecting again), tells the pages, and does not warn again."""
    data = tmp_path / "data"
    ids = gallery(data, pool, images)
    with contextlib.closing(sqlite3.connect(data / CATALOGUE)) as db, db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM photos WHERE id = ?", (ids[2],))
    (data / "meta" / f"{ids[1]}.json").unlink()  # and one without its sidecar
    with contextlib.closing(sqlite3.connect(data / CATALOGUE)) as db, db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM photos WHERE id = ?", (ids[1],))
        db.execute("DELETE FROM people")
    log = tmp_path / "serve.log"
    with log.open("w") as out, server(data, model_path, log=out) as (_, base):
        deadline = time.monotonic() + 30
        while len(get_json(base + "/api/photos")[1]["photos"]) < 3:
            assert time.monotonic() < deadline, "the photos were not added back"
            time.sleep(0.2)
        assert sorted(p["id"] for p in get_json(base + "/api/photos")[1]["photos"]) == \
            sorted(ids)
    assert "2 stored photos have no catalogue row" in log.read_text()
    assert "adopted 2 stored photos" in log.read_text()
    with log.open("w") as out, server(data, model_path, log=out):
        pass
    assert "no catalogue row" not in log.read_text()


# -- backup, restore, check ------------------------------------------------------------


def test_backup_restore_and_check(tmp_path: Path, pool, images: Path,
                                  model_path: Path) -> None:
    data = tmp_path / "data"
    ids = gallery(data, pool, images)
    (data / "photos" / "0123456789abcdef01234567.part").write_bytes(b"half")  # not ours
    before = snapshot(data)
    result = faces("backup", str(tmp_path / "copy"), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert "3 photos" in result.stdout and "copied" in result.stdout
    copy = tmp_path / "copy"
    assert snapshot(copy) == before
    assert not (copy / "photos" / "0123456789abcdef01234567.part").exists()
    again = faces("backup", str(copy), "--data-dir", str(data))  # into the earlier copy
    assert again.returncode == 0 and "(0 copied" in again.stdout
    checked = faces("check", "--data-dir", str(copy))
    assert checked.returncode == 0 and "catalogue: ok; 3 photos" in checked.stdout
    assert checked.stdout.strip().endswith("whole")
    # Restore into a new data directory, and serve it.
    restored = tmp_path / "restored"
    result = faces("restore", str(copy), "--data-dir", str(restored))
    assert result.returncode == 0, result.stderr
    assert snapshot(restored) == before
    serves(restored, model_path, ids)
    over = faces("restore", str(copy), "--data-dir", str(restored))
    assert over.returncode == 2 and "holds a gallery already" in over.stderr
    # check finds what is wrong, changing nothing.
    (restored / "photos" / f"{ids[0]}.thumb.jpg").unlink()
    shutil.copy(restored / "photos" / f"{ids[1]}.jpg", restored / "photos" / ("f" * 24 + ".jpg"))
    checked = faces("check", "--data-dir", str(restored))
    assert checked.returncode == 1
    assert "1 files named by the catalogue are missing from photos/" in checked.stdout
    assert "1 stored photos have no catalogue row" in checked.stdout
    assert snapshot(restored) == before
    # A folder that is not a backup.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    refused_copy = faces("backup", str(tmp_path / "other"), "--data-dir", str(data))
    assert refused_copy.returncode == 2 and "is not empty" in refused_copy.stderr


def test_a_backup_while_photos_are_imported_restores_whole(
        tmp_path: Path, images: Path, model_path: Path, recognition_model: Path) -> None:
    """As an operator would: a backup taken while `faces import` sends 200
    photos, restored into a fresh directory: every photo of the copy is
    served with its files; a second backup after the import, restored,
    serves every photo with the people and names it had."""
    wider = Path(os.environ.get("FACES_WIDER_IMAGES") or
                 images.parent / "eval" / "widerface" / "images")
    _require(wider, "WIDER photos (set FACES_WIDER_IMAGES)")  # (the docs cite this test)
    folder = tmp_path / "import"
    folder.mkdir()
    chosen = sorted((images / "people").glob("*/*.jpg"))[:60] + sorted(wider.glob("*/*.jpg"))
    for n, path in enumerate(chosen[:200]):
        shutil.copy(path, folder / f"{n:03d}-{path.name}")
    data = tmp_path / "data"
    people = ("--recognition-model", str(recognition_model), "--recognition-max-faces", "2")
    with (tmp_path / "serve.log").open("w") as log, \
            server(data, model_path, log=log, extra=("--workers", "2", "--rate-limit", "0",
                                                     *people)) as (_, base):
        importing = subprocess.Popen(
            [sys.executable, "-m", "faces", "import", str(folder), "--server", base],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 120
        while len(every(base)) < 40:
            assert time.monotonic() < deadline and importing.poll() is None
            time.sleep(0.1)
        during = faces("backup", str(tmp_path / "during"), "--data-dir", str(data))
        assert during.returncode == 0, during.stdout + during.stderr
        assert importing.poll() is None  # (the import was still running)
        output = importing.communicate(timeout=300)[0]
        assert importing.returncode == 0, output
        assert upload(base, "t1.jpg")[0] == 201
        deadline = time.monotonic() + 300
        while get_json(base + "/healthz")[1]["recognition_backlog"]:
            assert time.monotonic() < deadline, "recognition did not finish"
            time.sleep(0.5)
        named = get_json(base + "/api/people?limit=1")[1]["people"][0]
        subprocess.run(["curl", "-s", "-X", "PATCH", "-H", "Content-Type: application/json",
                        "-d", '{"name": "Named before the backup"}',
                        f"{base}/api/people/{named['id']}"], check=True, capture_output=True)
        after = faces("backup", str(tmp_path / "after"), "--data-dir", str(data))
        assert after.returncode == 0, after.stdout + after.stderr
        served = every(base)
        assert len(served) == 201
        expected_people = every(base, "people", "&hidden=1")
    for copy in ("during", "after"):
        checked = faces("check", "--data-dir", str(tmp_path / copy))
        assert checked.returncode == 0, checked.stdout  # every row has its files, no orphan
    mid = snapshot(tmp_path / "during")[0]
    assert 40 <= len(mid) < 201
    restored = tmp_path / "restored"
    assert faces("restore", str(tmp_path / "after"), "--data-dir", str(restored)).returncode == 0
    with (tmp_path / "restored.log").open("w") as log, \
            server(restored, model_path, log=log, extra=people) as (_, base):
        again = every(base)
        assert sorted((p["id"], p["filename"]) for p in again) == \
            sorted((p["id"], p["filename"]) for p in served)
        assert [(p["id"], p["name"], p["photos"]) for p in every(base, "people", "&hidden=1")] \
            == [(p["id"], p["name"], p["photos"]) for p in expected_people]
        assert any(p["name"] == "Named before the backup" for p in expected_people)
        for photo in again[:20]:
            original = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                       base + photo["urls"]["display"]],
                                      capture_output=True, text=True).stdout
            assert original == "200"

"""The library in place (faces.library.folders) through the real server:
folders indexed where they are and never written to, photos kept by
content when files move, roots that vanish, empty or swap changing
nothing, files copied in slowly read once and whole, bad files reported
once, sidecars read when they come later, and the shared people photos
scanned in place grouped as uploads are."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tornado.httpclient import HTTPResponse

from faces.library import walk
from faces.library.roots import check
from faces.vision import xmp
from tests.conftest import IMAGES, PEOPLE, RECOGNITION_MODEL, _require
from tests.support.server import FacesTestCase
from tests.test_people import pairwise, people_photos

SOLO = ["obama.jpg", "biden.jpg", "kit_with_rose.jpg", "obama_and_biden.jpg"]


def checksums(root: Path) -> dict[str, str]:
    """Every file under ``root`` (and each folder), by path: what must not change."""
    found = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            found[os.path.join(folder, name)] = "folder"
        for name in names:
            path = Path(folder, name)
            if path.is_symlink() or not path.is_file():
                found[str(path)] = "special"
                continue
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def content_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:24]


class LibraryCase(FacesTestCase):
    """A server with one library folder (``self.root``, made empty for each test)."""

    extra: dict = {}

    def setUp(self) -> None:
        self.root = self.settings.data_dir.parent / "photos"
        self.root.mkdir(parents=True, exist_ok=True)
        self.fill(self.root)
        self.before = checksums(self.root)
        self.overrides = {"library": str(self.root), "library_settle": 0.3,
                          "library_min_size": 1, "rate_limit": 0, **self.extra}
        super().setUp()

    def fill(self, root: Path) -> None:
        """The folder's first files (none by default)."""

    async def api(self, method: str, path: str, body: object = None) -> HTTPResponse:
        return await self.http_client.fetch(
            self.get_url(path), method=method, raise_error=False,
            body=None if body is None and method in ("GET", "DELETE") else json.dumps(body),
            headers={"Content-Type": "application/json"})

    async def get(self, path: str) -> dict:
        answer = await self.api("GET", path)
        assert answer.code == 200, (path, answer.code, answer.body)
        return json.loads(answer.body)

    async def settled(self, timeout: float = 120) -> None:
        """Until the folders are read: no pass running or asked, no file waiting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        folders = self.services.folders
        while not folders.status or folders.busy or any(
                s.state == "waiting" for s in folders.status.values()):
            assert loop.time() < deadline, "the library was never read"
            await asyncio.sleep(0.05)

    async def until(self, test, what: str, timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await test():
            assert loop.time() < deadline, f"never: {what}"
            await asyncio.sleep(0.05)

    async def root_json(self) -> dict:
        return (await self.get("/api/library"))["roots"][0]

    async def all_photos(self) -> list[dict]:
        return (await self.get("/api/photos?limit=200"))["photos"]

    async def scan(self) -> None:
        root = await self.root_json()
        assert (await self.api("POST", f"/api/library/roots/{root['id']}/scan", {})).code == 202
        await self.settled()

    def detections(self) -> int:
        """Jobs run through the workers so far (what a move must not add)."""
        for metric in self.web.metrics.detection_seconds.collect():
            for sample in metric.samples:
                if sample.name.endswith("_count"):
                    return int(sample.value)
        return 0

    def tearDown(self) -> None:
        after = checksums(self.root) if self.root.exists() else {}
        super().tearDown()
        # (tests that change the folder themselves compare their own snapshots)
        self.after = after


class TestInPlace(LibraryCase):
    def fill(self, root: Path) -> None:
        (root / "2019" / "summer").mkdir(parents=True)
        for name in SOLO:
            shutil.copy2(IMAGES / name, root / "2019" / "summer" / name)
        shutil.copy2(IMAGES / "obama_small.jpg", root / "small.jpg")
        (root / ".hidden").mkdir()
        shutil.copy2(IMAGES / "biden.jpg", root / ".hidden" / "secret.jpg")
        (root / "skip").mkdir()
        shutil.copy2(IMAGES / "coffee.jpg", root / "skip" / "a.jpg")
        (root / ".faces-ignore").write_text("# not these\nskip\n")

    def test_indexed_in_place_nothing_written_rescan_reads_nothing(self) -> None:
        self.io_loop.run_sync(self._in_place, timeout=180)

    async def _in_place(self) -> None:
        await self.settled()
        root = await self.root_json()
        assert root["state"] == "ok" and root["photos"] == 5, root
        assert root["watching"] == "events"
        photos = {p["filename"]: p for p in await self.all_photos()}
        assert set(photos) == {*SOLO, "small.jpg"}  # (hidden and ignored ones skipped)
        for name, photo in photos.items():
            path = self.root / ("small.jpg" if name == "small.jpg" else f"2019/summer/{name}")
            assert photo["id"] == content_id(path)
            assert photo["paths"] == [str(path)] and photo["online"] is True
            assert photo["original_kept"] is True
            original = await self.http_client.fetch(self.get_url(photo["urls"]["original"]))
            assert original.body == path.read_bytes()  # the file itself, byte for byte
        assert len(photos["obama_and_biden.jpg"]["faces"]) == 3
        # nothing of a library photo is copied into the data directory
        assert not list((self.settings.data_dir / "photos").glob("*.original.*"))
        # one folder of the gallery
        page = await self.get(f"/api/photos?folder={root['id']}/2019")
        assert {p["filename"] for p in page["photos"]} == set(SOLO)
        html = (await self.http_client.fetch(self.get_url(f"/?folder={root['id']}/2019"))).body
        assert b"in " + str(self.root / "2019").encode() in html
        # a library photo is not deleted from the gallery: its file is not ours
        answer = await self.api("DELETE", f"/api/photos/{photos['biden.jpg']['id']}")
        assert answer.code == 409 and b"in_library" in answer.body
        # a rescan of unchanged files reads none of them and runs no detection
        jobs = self.detections()
        await self.scan()
        status = self.services.folders.status[root["id"]]
        assert status.total == 0 and self.detections() == jobs
        health = await self.get("/healthz")
        assert health["library"][0]["state"] == "ok"
        metrics = (await self.http_client.fetch(self.get_url("/metrics"))).body.decode()
        assert f'faces_library_photos{{root="{self.root}"}} 5.0' in metrics
        # an export writes the library files themselves, byte for byte
        from faces.library.export import export

        out = self.settings.data_dir.parent / "export"
        done = await asyncio.get_running_loop().run_in_executor(
            None, export, self.settings.data_dir, out)
        assert done.photos == 5 and not done.left_out
        assert (out / "obama_and_biden.jpg").read_bytes() == \
            (self.root / "2019" / "summer" / "obama_and_biden.jpg").read_bytes()
        assert checksums(self.root) == self.before  # 0 bytes written under the root
        # folders that cannot be roots
        for path, code in ((str(self.settings.data_dir), 409), ("relative/path", 400),
                           (str(self.root / "none"), 404), (str(self.root / "2019"), 409)):
            answer = await self.api("POST", "/api/library", {"path": path})
            assert answer.code == code, (path, answer.body)

    def test_moved_folder_keeps_photos_without_detecting(self) -> None:
        self.io_loop.run_sync(self._moved, timeout=180)

    async def _moved(self) -> None:
        await self.settled()
        before = {p["id"]: p for p in await self.all_photos()}
        jobs = self.detections()
        page = await self.ws()  # (another page, told of the new places)
        os.rename(self.root / "2019", self.root / "Holidays 2019")  # seen by the watcher
        os.rename(self.root / "small.jpg", self.root / "Holidays 2019" / "renamed.jpg")

        async def moved() -> bool:
            photos = await self.all_photos()
            return all(p["paths"] and "Holidays 2019" in p["paths"][0] for p in photos)

        await self.until(moved, "the new paths shown")
        await self.settled()
        after = {p["id"]: p for p in await self.all_photos()}
        assert set(after) == set(before) and self.detections() == jobs
        for photo_id, photo in after.items():
            assert photo["faces"] == before[photo_id]["faces"]  # the same faces, ids and all
            assert photo["online"]
        root = await self.root_json()
        assert root["offline"] == 0 and root["state"] == "ok"
        heard = []
        while len(heard) < 20:
            message = await asyncio.wait_for(page.read_message(), 10)
            heard.append(json.loads(message))
            if any(m["type"] == "photo.changed" and "renamed.jpg" in m["photo"]["paths"][0]
                   for m in heard):
                break
        else:
            raise AssertionError("no page was told of the new place")


class TestSlowCopy(LibraryCase):
    # the writer pauses 0.5 s between parts: a settle time four times that
    # leaves room for a slow machine's scheduling before a pause looks finished
    extra = {"library_settle": 2.0}

    def test_a_photo_written_slowly_is_read_once_whole(self) -> None:
        self.io_loop.run_sync(self._slow, timeout=120)

    async def _slow(self) -> None:
        await self.settled()
        data = (IMAGES / "obama_and_biden.jpg").read_bytes()
        target = self.root / "incoming.jpg"
        done = threading.Event()

        def write() -> None:  # over ~3 s, pauses far shorter than the settle time
            with target.open("wb") as handle:
                step = len(data) // 6 + 1
                for start in range(0, len(data), step):
                    handle.write(data[start:start + step])
                    handle.flush()
                    time.sleep(0.5)
            done.set()

        writer = threading.Thread(target=write)
        writer.start()
        while not done.is_set():
            await asyncio.sleep(0.05)
            assert not await self.all_photos(), "a file still being written was read"
        writer.join()
        await self.until(lambda: self._count(1), "the photo imported")
        await self.settled()
        photos = await self.all_photos()
        assert len(photos) == 1 and photos[0]["id"] == content_id(target)
        assert len(photos[0]["faces"]) == 3
        root = await self.root_json()
        assert root["problems"]["files"] == 0

    async def _count(self, count: int) -> bool:
        return len(await self.all_photos()) == count


class TestBadFiles(LibraryCase):
    def fill(self, root: Path) -> None:
        shutil.copy2(IMAGES / "obama.jpg", root / "good.jpg")
        (root / "broken.jpg").write_bytes((IMAGES / "biden.jpg").read_bytes()[:3000])
        (root / "not-a-photo.png").write_bytes(b"this is text, not a PNG" * 100)
        (root / "empty.jpg").write_bytes(b"")
        os.mkfifo(root / "pipe.jpg")
        (root / "loop").mkdir()
        os.symlink(root / "loop", root / "loop" / "again")
        os.symlink("self.jpg", root / "self.jpg")  # (a link to itself: a loop)
        outside = root.parent / "outside"
        outside.mkdir(exist_ok=True)
        shutil.copy2(IMAGES / "biden.jpg", outside / "biden.jpg")
        os.symlink(outside / "biden.jpg", root / "escape.jpg")
        os.symlink(outside, root / "escape-folder")
        shutil.copy2(IMAGES / "biden.jpg", os.fsencode(root) + b"/caf\xe9.jpg")

    def test_each_bad_file_is_reported_once_and_the_scan_goes_on(self) -> None:
        self.io_loop.run_sync(self._bad, timeout=120)

    async def _bad(self) -> None:
        await self.settled()
        photos = await self.all_photos()
        assert [p["filename"] for p in photos] == ["good.jpg"]
        root = await self.root_json()
        problems = {p["path"]: p["why"] for p in root["problems"]["first"]}
        assert root["problems"]["files"] == len(problems) == 8, problems
        assert "empty" in problems["empty.jpg"]
        assert "regular file" in problems["pipe.jpg"]
        assert "loops" in problems["self.jpg"]
        assert "loop/again" not in problems  # (a link inside the root: its target is indexed)
        assert "out of the library folder" in problems["escape.jpg"]
        assert "out of the library folder" in problems["escape-folder"]
        assert "UTF-8" in problems["caf\\xe9.jpg"]
        assert problems["broken.jpg"] and problems["not-a-photo.png"]
        # reported once: a rescan reads none of them again
        jobs = self.detections()
        with self.assertLogs("faces.library.folders", "INFO") as logs:
            await self.scan()
        assert not [line for line in logs.output if "is not read" in line]
        assert self.detections() == jobs
        assert checksums(self.root) == self.before


SIDECAR_TURN = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="8"/></rdf:RDF></x:xmpmeta>"""


class TestSidecarOrientation(LibraryCase):
    """A file with no orientation of its own, stored turned, and a sidecar
    saying how to turn it (as a photo manager writes one)."""

    def fill(self, root: Path) -> None:
        import cv2

        image = cv2.imread(str(IMAGES / "obama.jpg"))
        self.upright = image.shape[:2]
        turned = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)  # (stored pixels: on its side)
        (root / "side.jpg").write_bytes(cv2.imencode(".jpg", turned)[1].tobytes())
        (root / "side.jpg.xmp").write_bytes(SIDECAR_TURN)
        (root / "plain.jpg").write_bytes(  # (other bytes: another photo)
            cv2.imencode(".jpg", turned, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())

    def test_a_sidecar_orientation_turns_a_file_without_one(self) -> None:
        self.io_loop.run_sync(self._turned, timeout=120)

    async def _turned(self) -> None:
        await self.settled()
        photos = {p["filename"]: p for p in await self.all_photos()}
        height, width = self.upright
        side, plain = photos["side.jpg"], photos["plain.jpg"]
        assert (side["width"], side["height"]) == (width, height)  # shown upright
        assert (plain["width"], plain["height"]) == (height, width)  # (no sidecar: as stored)
        assert len(side["faces"]) == 1
        face = side["faces"][0]["box"]
        assert face[2] - face[0] < face[3] - face[1] * 1.5  # an upright face's box
        # its face names go out in the file's stored frame (turned, as the sidecar says)
        await self.services.people.name_faces({side["faces"][0]["id"]: "Barack Obama"})
        sidecar = (await self.http_client.fetch(self.get_url(side["urls"]["xmp"]))).body
        assert f"stDim:w='{height}'".encode() in sidecar, sidecar[:600]
        from faces.library.export import export

        out = self.settings.data_dir.parent / "export"
        await asyncio.get_running_loop().run_in_executor(None, export,
                                                         self.settings.data_dir, out)
        written = (out / "side.jpg.xmp").read_bytes()
        assert f"stDim:w='{height}'".encode() in written, written[:600]
        assert f"stDim:h='{width}'".encode() in written


class TestSameBytes(LibraryCase):
    def test_uploaded_and_in_a_folder_is_one_photo(self) -> None:
        self.io_loop.run_sync(self._same, timeout=120)

    async def _same(self) -> None:
        await self.settled()
        uploaded = json.loads((await self.upload("obama.jpg")).body)
        shutil.copy2(IMAGES / "obama.jpg", self.root / "a.jpg")
        (self.root / "copy").mkdir()
        shutil.copy2(IMAGES / "obama.jpg", self.root / "copy" / "b.jpg")
        await self.scan()
        photos = await self.all_photos()
        assert len(photos) == 1 and photos[0]["id"] == uploaded["id"]
        assert sorted(photos[0]["paths"]) == [str(self.root / "a.jpg"),
                                              str(self.root / "copy" / "b.jpg")]
        # one place gone: the photo stays, still online through the other
        (self.root / "a.jpg").unlink()
        await self.scan()
        photo = (await self.all_photos())[0]
        assert photo["online"] and photo["paths"][0] == str(self.root / "copy" / "b.jpg")


class TestNeverLose(LibraryCase):
    def fill(self, root: Path) -> None:
        for n, path in enumerate(people_photos()[:12]):
            shutil.copy2(path, root / f"{n:02d}-{path.name}")

    def rows(self) -> tuple[list, list]:
        db = self.services.catalogue.db
        return (db.execute("SELECT * FROM photos ORDER BY id").fetchall(),
                db.execute("SELECT * FROM places ORDER BY path").fetchall())

    def test_gone_files_are_held_then_offline_then_back(self) -> None:
        self.io_loop.run_sync(self._held, timeout=180)

    async def _held(self) -> None:
        await self.settled()
        assert (await self.root_json())["photos"] == 12
        aside = self.root.parent / "aside"
        aside.mkdir()
        for path in sorted(self.root.iterdir())[:3]:  # 3 of 12: more than 5 %
            shutil.move(path, aside / path.name)
        rows = self.rows()
        await self.scan()
        root = await self.root_json()
        assert root["state"] == "held" and root["held"] == 3 and "confirm" in root["why"]
        assert self.rows() == rows  # nothing marked offline
        page = (await self.http_client.fetch(self.get_url("/"))).body.decode()
        assert "Confirm" in page and "3 files of" in page
        # the user says yes
        answer = await self.api("POST", f"/api/library/roots/{root['id']}/confirm", {})
        assert answer.code == 202
        await self.settled()
        root = await self.root_json()
        assert root["state"] == "ok" and root["offline"] == 3 and root["photos"] == 9
        photos = await self.all_photos()
        assert len(photos) == 12 and sum(not p["online"] for p in photos) == 3
        offline = next(p for p in photos if not p["online"])
        answer = await self.api("GET", f"/api/photos/{offline['id']}/original")
        assert answer.code == 404 and b"offline" in answer.body
        # back: online, with the same faces
        for path in aside.iterdir():
            shutil.move(path, self.root / path.name)
        await self.scan()
        again = {p["id"]: p for p in await self.all_photos()}
        assert all(p["online"] for p in again.values())
        assert {i: p["faces"] for i, p in again.items()} == {p["id"]: p["faces"]
                                                             for p in photos}

    def test_a_root_emptied_or_swapped_changes_nothing(self) -> None:
        self.io_loop.run_sync(self._swapped, timeout=180)

    async def _swapped(self) -> None:
        await self.settled()
        rows = self.rows()
        away = self.root.parent / "away"
        os.rename(self.root, away)  # gone
        await self.scan()
        root = await self.root_json()
        assert root["state"] == "unavailable" and "is not there" in root["why"]
        assert self.rows() == rows
        health = await self.get("/healthz")
        assert health["status"] == "ok" and "is not there" in health["library"][0]["why"]
        self.root.mkdir()  # an empty folder in its place
        await self.scan()
        root = await self.root_json()
        assert root["state"] == "unavailable" and "is empty" in root["why"], root
        assert self.rows() == rows
        self.root.rmdir()
        os.rename(away, self.root)  # back
        await self.scan()
        root = await self.root_json()
        assert root["state"] == "ok" and root["photos"] == 12 and root["offline"] == 0
        assert self.rows() == rows
        assert checksums(self.root) == self.before


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
class TestUnmounted(LibraryCase):
    def setUp(self) -> None:
        self.mounted = self.settings.data_dir.parent / "photos"
        self.mounted.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs",
                        str(self.mounted)], check=True)
        super().setUp()

    def fill(self, root: Path) -> None:
        for name in SOLO:
            shutil.copy2(IMAGES / name, root / name)

    def tearDown(self) -> None:
        super().tearDown()
        subprocess.run(["umount", str(self.mounted)], check=False, capture_output=True)

    def test_an_unmounted_root_changes_nothing_and_comes_back(self) -> None:
        self.io_loop.run_sync(self._unmounted, timeout=180)

    async def _unmounted(self) -> None:
        await self.settled()
        db = self.services.catalogue.db
        rows = db.execute("SELECT * FROM places ORDER BY path").fetchall()
        assert len(rows) == 4
        subprocess.run(["umount", str(self.mounted)], check=True)
        # the watcher and the monitor notice by themselves; a scan asked changes nothing either
        await self.scan()
        root = await self.root_json()
        assert root["state"] == "unavailable", root
        assert "another device" in root["why"] or "is empty" in root["why"]
        assert db.execute("SELECT * FROM places ORDER BY path").fetchall() == rows
        assert all(p["online"] for p in await self.all_photos())  # (not even offline)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs",
                        str(self.mounted)], check=True)
        for name in SOLO:
            shutil.copy2(IMAGES / name, self.mounted / name)
        await self.scan()
        root = await self.root_json()
        if root["state"] != "ok":  # (a tmpfs is a new device each time it is mounted)
            assert "another device" in root["why"]
            await self.api("POST", f"/api/library/roots/{root['id']}/confirm", {})
            await self.settled()
            root = await self.root_json()
        assert root["state"] == "ok" and root["photos"] == 4 and root["offline"] == 0


def _as_nobody(code: str) -> subprocess.CompletedProcess:
    """Python run as the unprivileged user ``nobody`` (root reads everything)."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run a check as another user")
    return subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=str(Path(__file__).parent.parent))


def test_an_unreadable_root_and_folder_are_said_as_such_never_missing(tmp_path: Path) -> None:
    """Permission errors, as a user without root meets them: the root check
    says it cannot be read (no change is made); a folder inside that
    cannot be listed is reported and its files are not counted as gone."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="faces-perm-", dir="/tmp"))  # (pytest's is root's)
    base.chmod(0o755)
    root = base / "library"
    (root / "open").mkdir(parents=True)
    (root / "closed").mkdir()
    shutil.copy2(IMAGES / "obama.jpg", root / "open" / "a.jpg")
    shutil.copy2(IMAGES / "biden.jpg", root / "closed" / "b.jpg")
    (root / "closed").chmod(0o700)  # root's alone
    code = ("import json; from pathlib import Path; from faces.library import walk, roots; "
            f"w = walk.walk(Path({str(root)!r})); "
            f"c = roots.check(Path({str(root / 'closed')!r}), None, 1); "
            "print(json.dumps([sorted(w.files), w.unreadable, c.ok, c.why]))")
    try:
        done = _as_nobody(code)
    finally:
        shutil.rmtree(base)
    assert done.returncode == 0, done.stderr
    files, unreadable, ok, why = json.loads(done.stdout)
    assert files == ["open/a.jpg"]
    assert "Permission denied" in unreadable["closed"]
    assert not ok and "cannot be read" in why and "Permission denied" in why


def test_walk_skips_hidden_and_ignored_and_finds_sidecars(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jpg", "a/b/y.JPG", "a/b/z.png", "a/b/keep.jpg", ".h.jpg", "a/raw.cr2"):
        (tmp_path / name).write_bytes(b"x" * 2000)
    (tmp_path / "a" / "b" / "y.xmp").write_text("<x/>")
    (tmp_path / "a" / "x.jpg.xmp").write_text("<x/>")
    (tmp_path / "a" / ".faces-ignore").write_text("*.png\n  # comment\nb/keep.jpg\n")
    found = walk.walk(tmp_path, min_size=1)
    assert sorted(found.files) == ["a/b/y.JPG", "a/x.jpg"]
    assert found.files["a/b/y.JPG"].sidecar_name == "y.xmp"
    assert walk.sidecar_path(found.files["a/x.jpg"]) == "a/x.jpg.xmp"
    assert sorted(walk.walk(tmp_path, "a/b", 1).files) == ["a/b/y.JPG"]  # (rules above apply)
    assert walk.walk(tmp_path, min_size=5000).files == {}


def test_a_root_not_there_or_not_a_folder_is_not_scanned(tmp_path: Path) -> None:
    assert "is not there" in check(tmp_path / "nope", None, 0).why
    (tmp_path / "file").write_text("x")
    assert "not a folder" in check(tmp_path / "file", None, 0).why
    assert check(tmp_path, None, 0).ok  # (empty, and no photo came from it: fine)


class PeopleLibraryCase(LibraryCase):
    extra = {"recognition_model": RECOGNITION_MODEL}

    def setUp(self) -> None:
        _require(RECOGNITION_MODEL, "recognition model")
        super().setUp()

    async def recognized(self, timeout: float = 180) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.services.recognition.backlog or not self.services.recognition.all_told:
            assert loop.time() < deadline, "recognition never finished"
            await asyncio.sleep(0.05)


class TestSidecarLater(PeopleLibraryCase):
    def fill(self, root: Path) -> None:
        shutil.copy2(IMAGES / "obama_and_biden.jpg", root / "pair.jpg")

    def test_a_sidecar_written_later_names_the_faces(self) -> None:
        self.io_loop.run_sync(self._later, timeout=180)

    async def _later(self) -> None:
        await self.settled()
        await self.recognized()
        photo = (await self.all_photos())[0]
        largest = max(photo["faces"], key=lambda f: f["box"][2] - f["box"][0])
        assert largest["person"] is None or not (await self.get(
            f"/api/people/{largest['person']}"))["name"]
        packet = xmp.sidecar(photo["width"], photo["height"],
                             [(tuple(largest["box"]), "Barack Obama")],
                             taken="2009-01-20T12:05:00")
        (self.root / "pair.xmp").write_bytes(packet)  # (a tagging tool, later)

        async def named() -> bool:
            stored = await self.get(f"/api/photos/{photo['id']}")
            face = next(f for f in stored["faces"] if f["id"] == largest["id"])
            if not face["person"]:
                return False
            return (await self.get(f"/api/people/{face['person']}"))["name"] == "Barack Obama"

        await self.until(named, "the sidecar's name on the face")
        stored = await self.get(f"/api/photos/{photo['id']}")
        assert stored["taken"].startswith("2009-01-20T12:05")


class TestPeopleInPlace(PeopleLibraryCase):
    """The 74 shared people photos, scanned where they are (../shared is
    read-only to us): the same 18 people as uploading them gives
    (tests/test_people.py), and not a byte written."""

    def setUp(self) -> None:
        _require(PEOPLE, "people photos")
        self.extra = {**self.extra, "library": str(PEOPLE)}
        self.shared_before = checksums(PEOPLE)
        super().setUp()

    def test_the_same_people_as_uploading(self) -> None:
        self.io_loop.run_sync(self._people, timeout=400)

    async def _people(self) -> None:
        from faces.vision.jobs import DESCRIBE

        jobs: list[str] = []
        run = self.services.backend.run

        async def counted(job: str, *args, **kwargs):
            jobs.append(job)
            return await run(job, *args, **kwargs)

        self.services.backend.run = counted  # (the shared pool, counted for this test)
        try:
            await self.settled(timeout=300)
            await self.recognized(timeout=300)
        finally:
            del self.services.backend.run
        # each photo's faces were described in its own detection job: no second
        # decode of its copy, no job of People's own
        assert DESCRIBE not in jobs and len(jobs) == len(people_photos())
        described = self.services.catalogue.db.execute(
            "SELECT COUNT(*) FROM faces WHERE descriptor IS NOT NULL").fetchone()[0]
        assert described >= len(people_photos())
        roots = (await self.get("/api/library"))["roots"]
        shared = next(r for r in roots if r["path"] == str(PEOPLE))
        assert shared["photos"] == len(people_photos()), shared
        labels, truth = {}, {}
        for photo in (await self.get("/api/photos?limit=200"))["photos"]:
            path = Path(photo["paths"][0])
            face = max(photo["faces"], key=lambda f: (f["box"][2] - f["box"][0])
                       * (f["box"][3] - f["box"][1]))
            labels[str(path)], truth[str(path)] = face["person"], path.parent.name
        precision, recall = pairwise(labels, truth)
        assert precision == 1.0 and recall == 1.0, (precision, recall)
        people = (await self.get("/api/people?limit=200"))["people"]
        assert len(people) == 18 == len({v for v in labels.values() if v})
        assert checksums(PEOPLE) == self.shared_before

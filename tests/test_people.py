"""People: recognition with SFace (and ArcFace), grouping the 74 shared
people photos through the real server, the corrections a user makes (name,
hide, merge, move, not this person, split, same person?, a face drawn by
hand), their live events, and what happens when the recognizer changes.
(The grouping rules themselves: tests/test_grouping.py.)"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path

import cv2
import numpy as np
from tornado.httpclient import HTTPResponse

from faces.vision import describe, pipeline, recognizers
from faces.vision.contract import Options
from tests.conftest import MODEL, PEOPLE, RECOGNITION_MODEL, _require
from tests.support.server import FacesTestCase
from tests.test_api import check


def people_photos() -> list[Path]:
    return sorted(p for p in PEOPLE.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))


def pairwise(labels: dict[str, str | None], truth: dict[str, str]) -> tuple[float, float]:
    """Pairwise precision and recall of a grouping of labelled faces."""
    true_positive = false_positive = false_negative = 0
    for a, b in itertools.combinations(sorted(truth), 2):
        same = truth[a] == truth[b]
        together = labels[a] is not None and labels[a] == labels[b]
        true_positive += same and together
        false_positive += together and not same
        false_negative += same and not together
    return (true_positive / max(1, true_positive + false_positive),
            true_positive / max(1, true_positive + false_negative))


class PeopleCase(FacesTestCase):
    overrides = {"recognition_model": RECOGNITION_MODEL, "rate_limit": 0}

    def setUp(self) -> None:
        _require(RECOGNITION_MODEL, "recognition model")
        super().setUp()

    async def recognized(self, timeout: float = 120) -> None:
        """Wait until recognition has caught up."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.services.recognition.backlog:
            assert asyncio.get_running_loop().time() < deadline, "recognition never finished"
            await asyncio.sleep(0.05)

    async def listen(self) -> tuple[object, list[dict], asyncio.Future]:
        """Another page's live connection: the events it hears, as they come."""
        other_page = await self.ws()
        events: list[dict] = []

        async def listen() -> None:
            while (message := await other_page.read_message()) is not None:
                events.append(json.loads(message))

        return other_page, events, asyncio.ensure_future(listen())

    @staticmethod
    async def heard(events: list[dict], test: object, timeout: float = 60) -> None:
        """Wait until a message the page heard passes ``test`` (the
        event itself, never a guess at how long it takes)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(test(e) for e in events):
            assert asyncio.get_running_loop().time() < deadline, "never heard"
            await asyncio.sleep(0.02)

    async def api(self, method: str, path: str, body: object = None) -> HTTPResponse:
        return await self.http_client.fetch(
            self.get_url(path), method=method, raise_error=False,
            body=None if body is None and method == "GET" else json.dumps(body),
            headers={"Content-Type": "application/json"})

    async def people(self, hidden: bool = False) -> list[dict]:
        answer = await self.api("GET", "/api/people?limit=200" + ("&hidden=1" if hidden else ""))
        assert answer.code == 200
        return json.loads(answer.body)["people"]

    async def person_of(self, face_id: int, photo_id: str) -> str | None:
        photo = json.loads((await self.api("GET", f"/api/photos/{photo_id}")).body)
        return next(f["person"] for f in photo["faces"] if f["id"] == face_id)

    async def upload_person(self, name: str) -> dict:
        answer = await self.upload(f"people/{name}")
        assert answer.code == 201, answer.body
        return json.loads(answer.body)


class TestGroupingThe74Photos(PeopleCase):
    def test_one_person_per_identity(self) -> None:
        self.io_loop.run_sync(self._all, timeout=300)

    async def _all(self) -> None:
        _require(PEOPLE, "people photos")
        photos = {}
        for path in people_photos():
            name = f"{path.parent.name}/{path.name}"
            photos[name] = await self.upload_person(name)
        await self.recognized()
        labels, truth = {}, {}
        for name, photo in photos.items():
            stored = json.loads((await self.api("GET", f"/api/photos/{photo['id']}")).body)
            face = max(stored["faces"], key=lambda f: (f["box"][2] - f["box"][0])
                       * (f["box"][3] - f["box"][1]))
            labels[name], truth[name] = face["person"], name.split("/")[0]
        precision, recall = pairwise(labels, truth)
        assert precision == 1.0 and recall == 1.0, (precision, recall)  # measured: 1.0, 1.0
        people = await self.people()
        assert len({labels[n] for n in labels if labels[n]}) == 18 == len(people)
        # each identity's photos are one person's: the People list agrees
        sizes = sorted(p["photos"] for p in people if p["photos"] >= 2)
        expected = sorted({n: sum(1 for t in truth.values() if t == n)
                           for n in set(truth.values())}.values())
        assert sizes[-18:] == expected
        assert all(p["urls"]["cover"] for p in people)
        cover = await self.http_client.fetch(self.get_url(people[0]["urls"]["cover"]))
        assert cover.headers["Content-Type"] == "image/jpeg"
        # most photos first, ties by id; each cover is the person's best face
        assert [(-p["photos"], p["id"]) for p in people] == \
            sorted((-p["photos"], p["id"]) for p in people)
        # page by page (18 people, 4 a page): the same people in the same order
        walked, url, pages = [], "/api/people?limit=4", 0
        while url:
            page = json.loads((await self.api("GET", url)).body)
            assert len(page["people"]) <= 4
            walked += [p["id"] for p in page["people"]]
            url, pages = page["next"], pages + 1
        assert walked == [p["id"] for p in people] and pages == 5
        assert (await self.api("GET", "/api/people?before=" + "0" * 12)).code == 404
        catalogue = self.services.catalogue
        for person in people:
            best = catalogue.db.execute(
                "SELECT crop FROM faces WHERE person = ? ORDER BY quality * MIN(y2 - y1, 300) "
                "DESC, y2 - y1 DESC, id LIMIT 1", (person["id"],)).fetchone()[0]
            assert person["urls"]["cover"].endswith(best)


class TestEditingPeople(PeopleCase):
    def test_name_merge_move_delete_live(self) -> None:
        self.io_loop.run_sync(self._flow, timeout=180)

    async def _flow(self) -> None:
        other_page, events, listening = await self.listen()
        kit = [await self.upload_person(f"kit_harington/{n}") for n in
               ("john1.jpg", "john2.jpg", "johnsnow_knn_test.jpg")]
        obama = [await self.upload_person(f"obama/{n}") for n in ("obama.jpg", "obama2.jpg")]
        await self.recognized()
        people = await self.people()
        assert [p["photos"] for p in people] == [3, 2]
        kit_id, obama_id = people[0]["id"], people[1]["id"]
        # recognition's own events go out gathered
        await self.heard(events, lambda e: e["type"] == "photos.recognized")
        await self.heard(events, lambda e: e["type"] == "people.changed" and e["people"])

        # name one: everyone hears it
        answer = await self.api("PATCH", f"/api/people/{kit_id}", {"name": "Kit Harington"})
        assert answer.code == 200 and json.loads(answer.body)["name"] == "Kit Harington"
        await self.heard(events, lambda e: e["type"] == "people.changed" and any(
            p["name"] == "Kit Harington" for p in e["people"]))
        listed = await self.api("GET", f"/api/photos?person={kit_id}")
        assert {p["id"] for p in json.loads(listed.body)["photos"]} == {p["id"] for p in kit}

        # move a face into another person and back: every page hears it
        face = json.loads((await self.api("GET", f"/api/photos/{obama[0]['id']}")).body)[
            "faces"][0]
        moved = await self.api("PUT", f"/api/faces/{face['id']}/person", {"person": kit_id})
        assert moved.code == 200 and json.loads(moved.body)["person"] == kit_id
        await self.heard(events, lambda e: e["type"] == "faces.changed" and {
            "id": face["id"], "photo": obama[0]["id"], "person": kit_id} in e["faces"])
        back = await self.api("PUT", f"/api/faces/{face['id']}/person", {"person": obama_id})
        assert json.loads(back.body)["person"] == obama_id

        # split it off into a person of its own: later grouping leaves it there
        split = await self.api("PUT", f"/api/faces/{face['id']}/person", {"person": "new"})
        new_id = json.loads(split.body)["person"]
        assert new_id not in (kit_id, obama_id)
        await self.upload_person("obama/obama3.jpg")
        await self.recognized()
        assert (await self.person_of(face["id"], obama[0]["id"])) == new_id
        assert json.loads((await self.api("GET", f"/api/people/{new_id}")).body)["photos"] >= 1

        # merge the split-off person back into Obama
        merged = await self.api("POST", f"/api/people/{obama_id}/merge", {"people": [new_id]})
        assert merged.code == 200 and json.loads(merged.body)["photos"] == 3
        assert (await self.api("GET", f"/api/people/{new_id}")).code == 404
        await self.heard(events, lambda e: e["type"] == "people.changed" and
                         new_id in e["removed"])

        # hide Obama: listed only with hidden=1
        await self.api("PATCH", f"/api/people/{obama_id}", {"hidden": True})
        assert [p["id"] for p in await self.people()] == [kit_id]
        assert {p["id"] for p in await self.people(hidden=True)} == {kit_id, obama_id}

        # deleting Kit's photos: the person goes with the last one, crops and all
        crops = self.files.crops_dir
        assert list(crops.glob(f"{kit[0]['id']}.*.jpg"))
        for photo in kit:
            await self.http_client.fetch(self.get_url(f"/api/photos/{photo['id']}"),
                                         method="DELETE")
            assert not list(crops.glob(f"{photo['id']}.*"))
        assert (await self.api("GET", f"/api/people/{kit_id}")).code == 404
        await self.heard(events, lambda e: e["type"] == "people.changed" and
                         kit_id in e["removed"])
        other_page.close()
        await listening

    def test_errors_a_user_can_cause(self) -> None:
        self.io_loop.run_sync(self._errors, timeout=120)

    async def _errors(self) -> None:
        photo = await self.upload_person("obama/obama.jpg")
        await self.recognized()
        face = json.loads((await self.api("GET", f"/api/photos/{photo['id']}")).body)["faces"][0]
        cases = [
            ("GET", "/api/people/0123456789ab", None, 404),
            ("PATCH", "/api/people/0123456789ab", {"name": "x"}, 404),
            ("PUT", "/api/faces/999999/person", {"person": None}, 404),
            ("PUT", f"/api/faces/{face['id']}/person", {"person": "0123456789ab"}, 404),
            ("PUT", f"/api/faces/{face['id']}/person", {"who": None}, 400),
            ("PUT", f"/api/faces/{face['id']}/person", "not an object", 400),
            ("POST", "/api/people/0123456789ab/merge", {"people": []}, 400),
        ]
        for method, path, body, status in cases:
            answer = await self.api(method, path, body)
            assert answer.code == status, (method, path, answer.body)
            assert set(json.loads(answer.body)["error"]) == {"code", "message"}
        bad = await self.http_client.fetch(self.get_url(f"/api/faces/{face['id']}/person"),
                                           method="PUT", body="{", raise_error=False)
        assert bad.code == 400 and json.loads(bad.body)["error"]["code"] == "bad_json"
        page = await self.http_client.fetch(self.get_url("/people/nobody"), raise_error=False)
        assert page.code == 404


class TestRecognitionNeverSlowsUploads(PeopleCase):
    def test_crowd_backlog(self) -> None:
        self.io_loop.run_sync(self._crowd, timeout=180)

    async def _crowd(self) -> None:
        crowd = await self.upload("crowd_selfie.jpg")
        assert crowd.code == 201
        health = json.loads((await self.http_client.fetch(self.get_url("/healthz"))).body)
        assert health["recognition"] == "on" and health["recognition_backlog"] == 1
        started = asyncio.get_running_loop().time()
        small = await self.upload("t1.jpg")  # while the crowd's faces are described
        assert small.code == 201
        assert self.services.recognition.backlog >= 1  # t1 waits behind the crowd ...
        # ... but its upload did not wait for the crowd's recognition: at most
        # one chunk of faces (8, about 0.6 s) stood before its detection
        assert asyncio.get_running_loop().time() - started < 3
        await self.recognized()
        stored = json.loads((await self.api("GET", f"/api/photos/{json.loads(crowd.body)['id']}")
                             ).body)
        described = self.services.catalogue.db.execute(
            "SELECT COUNT(*) FROM faces WHERE photo = ? AND descriptor IS NOT NULL",
            (stored["id"],)).fetchone()[0]
        assert described == self.settings.recognition_max_faces  # capped, largest first
        # A page that connects now hears where recognition stands first (the
        # last change went out before it connected: its text would stay behind)
        page = await self.ws()
        assert json.loads(await page.read_message()) == \
            {"type": "recognition", "state": "on", "backlog": 0, "redescribing": 0}
        page.close()


class TestPeopleOff(FacesTestCase):
    overrides = {"recognition_model": Path("no/such/model.onnx")}

    def test_healthz_and_page_say_so(self) -> None:
        health = json.loads(self.fetch("/healthz").body)
        assert health["recognition"] == "off" and health["recognition_backlog"] == 0
        page = self.fetch("/people").body.decode()
        assert "Recognition is off" in page and "no/such/model.onnx" in page
        assert json.loads(self.fetch("/api/people").body)["recognition"]["state"] == "off"


def test_cli_lists_and_backfills(tmp_path: Path, recognition_model: Path) -> None:
    """Photos stored before People: `faces people --recognize` catches up."""
    from faces.services import Services
    from faces.settings import Settings
    from tests.support.process import faces

    data = tmp_path / "data"

    async def fill() -> None:  # two photos stored as a server without People would
        settings = Settings(data_dir=data, model=MODEL, workers=1, recognition_model=Path())
        services = Services.create(settings)
        await services.start()
        try:
            gallery = services.gallery
            for name in ("obama/obama.jpg", "obama/obama2.jpg"):
                await gallery.add((PEOPLE / name).read_bytes(), name, gallery.defaults)
        finally:
            services.stop()

    asyncio.run(fill())
    before = faces("people", "--data-dir", str(data), "--model", str(MODEL))
    assert before.returncode == 0 and before.stdout.strip().endswith("0 people")
    after = faces("people", "--recognize", "--data-dir", str(data), "--model", str(MODEL),
                  "--recognition-model", str(recognition_model), timeout=180)
    assert after.returncode == 0, after.stderr
    assert "(unnamed): 2 photos, 2 faces" in after.stdout and "1 people" in after.stdout
    again = faces("people", "--recognize", "--data-dir", str(data), "--model", str(MODEL),
                  "--recognition-model", str(recognition_model), "--json")
    assert again.returncode == 0 and "recognizing" not in again.stderr
    assert [json.loads(line)["photos"] for line in again.stdout.splitlines()] == [2]


def test_fetch_model_recognition_checks_what_it_downloads(tmp_path: Path,
                                                         recognition_model: Path,
                                                         model_path: Path) -> None:
    """SFace from a server on loopback, its sha256 pinned: a wrong file is
    refused and nothing is left; the right one is kept, readable by all."""
    import http.server
    import threading

    from tests.support.process import faces

    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "sface.onnx").write_bytes(recognition_model.read_bytes())
    (tmp_path / "served" / "other.onnx").write_bytes(model_path.read_bytes())
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path / "served"), **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        dest = tmp_path / "models" / "sface.onnx"
        refused = faces("fetch-model", "--recognition", "--dest", str(dest), "--url",
                        base + "/other.onnx")
        assert refused.returncode == 2 and "checksum mismatch" in refused.stderr
        assert not dest.exists() and not list(dest.parent.glob("*.part"))
        done = faces("fetch-model", "--recognition", "--dest", str(dest), "--url",
                     base + "/sface.onnx", timeout=120)
        assert done.returncode == 0, done.stderr
        assert dest.read_bytes() == recognition_model.read_bytes()
        assert dest.stat().st_mode & 0o044 == 0o044 and "Apache-2.0" in done.stdout
        again = faces("fetch-model", "--recognition", "--dest", str(dest))
        assert "already present" in again.stdout and "sface" in again.stdout
    finally:
        httpd.shutdown()


def test_large_faces_are_described_from_a_smaller_decode(recognition_model: Path,
                                                         model_path: Path) -> None:
    """A photo whose faces are all large is decoded at a fraction of its size
    for recognition: the same descriptors, for less memory and time."""
    from faces.vision.worker import Worker, WorkerConfig

    worker = Worker(WorkerConfig(model=str(model_path),
                                 recognition_model=str(recognition_model)))
    recognizer = worker.recognizer
    image = cv2.imread(str(PEOPLE / "obama" / "obama.jpg"))
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    data = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    faces = [f.to_json() for f in pipeline.detect(worker.detector, big,
                                                  Options(max_pixels=50_000_000))]
    assert len(faces) == 1 and faces[0]["box"][3] - faces[0]["box"][1] > 4 * 250
    pixels, scale = describe.load(data, faces, 50_000_000)
    assert abs(scale - 0.25) < 0.01 and pixels.shape[1] == -(-big.shape[1] // 4)
    [found] = describe.describe_faces(worker, data, faces, 50_000_000)
    assert found.family == "sface" and found.norm > 0
    full = recognizer.describe(big, [faces[0]["landmarks"]])[0].vector
    own = recognizer.describe(image, [np.asarray(faces[0]["landmarks"]) / 3])[0].vector
    reduced = np.frombuffer(found.vector, np.float32)
    # cosine distances; two photos of one person are up to 0.49 apart, people >= 0.6
    assert 1 - reduced @ full < 0.05
    assert 1 - reduced @ own <= 1 - full @ own + 0.02  # no further from the photo itself
    crop = cv2.imdecode(np.frombuffer(found.crop, np.uint8), cv2.IMREAD_COLOR)
    assert crop.shape == (160, 160, 3)


class TestCorrections(PeopleCase):
    """Not this person, split, same person?, a face drawn by hand, and the
    photos of several people: through the API, told to every page."""

    def test_corrections_that_teach(self) -> None:
        self.io_loop.run_sync(self._corrections, timeout=240)

    async def _corrections(self) -> None:
        other_page, events, listening = await self.listen()
        obama = [await self.upload_person(f"obama/{n}") for n in
                 ("obama.jpg", "obama2.jpg", "obama3.jpg", "obama1_knn_test.jpg")]
        biden = [await self.upload_person(f"biden/{n}") for n in ("biden.jpg", "biden2.jpg")]
        await self.recognized()
        people = await self.people()
        assert [p["photos"] for p in people] == [4, 2]
        obama_id, biden_id = people[0]["id"], people[1]["id"]
        faces = [json.loads((await self.api("GET", f"/api/photos/{p['id']}")).body)["faces"][0]
                 for p in obama]

        listed = await self.api("GET", f"/api/people/{obama_id}/faces?limit=3")
        page = check(listed.body, "PersonFaces")
        assert len(page["faces"]) == 3 and page["next"]
        assert check((await self.api("GET", "/api/people")).body, "PeopleList")

        # Not this person: the face leaves, and grouping never puts it back
        answer = await self.api("POST", f"/api/faces/{faces[3]['id']}/reject")
        assert answer.code == 200 and check(answer.body, "FacePerson")["person"] is None
        assert (await self.person_of(faces[3]["id"], obama[3]["id"])) is None
        await self.api("PATCH", f"/api/people/{obama_id}", {"name": "Barack Obama"})  # gathers
        assert (await self.person_of(faces[3]["id"], obama[3]["id"])) is None
        again = await self.api("POST", f"/api/faces/{faces[3]['id']}/reject")
        assert again.code == 409  # in no person now

        # Split: two of Obama's faces become a person of their own
        split = await self.api("POST", f"/api/people/{obama_id}/split",
                               {"faces": [faces[1]["id"], faces[2]["id"]]})
        assert split.code == 201
        young = check(split.body, "Person")
        assert young["photos"] == 2 and young["name"] is None
        assert json.loads((await self.api("GET", f"/api/people/{obama_id}")).body)["photos"] == 1
        wrong = await self.api("POST", f"/api/people/{biden_id}/split", {"faces": [faces[0]["id"]]})
        assert wrong.code == 400

        # Same person? The two Obamas are offered, nearest first; no is remembered
        found = check((await self.api("GET", "/api/people/suggestions")).body, "Suggestions")
        pairs = [{s["a"]["id"], s["b"]["id"]} for s in found["suggestions"]]
        assert pairs == [{obama_id, young["id"]}]  # never Biden with Obama
        no = await self.api("POST", f"/api/people/{obama_id}/same",
                            {"person": young["id"], "same": False})
        assert no.code == 200 and check(no.body, "Merged")["merged"] is None
        found = json.loads((await self.api("GET", "/api/people/suggestions")).body)
        assert found["suggestions"] == []
        page = (await self.http_client.fetch(self.get_url("/people"))).body.decode()
        assert re.search(r'<section id="review"[^>]* hidden>', page)  # nothing to ask
        yes = await self.api("POST", f"/api/people/{young['id']}/same",
                             {"person": obama_id, "same": True})
        merged = json.loads(yes.body)["merged"]
        assert merged["id"] == young["id"] and merged["photos"] == 3
        assert merged["name"] == "Barack Obama"  # the name one of them had stays

        # A face the detector missed, drawn by hand: described, then it can be named
        coffee = json.loads((await self.upload("coffee.jpg")).body)
        assert coffee["faces"] == []
        drawn = await self.api("POST", f"/api/photos/{coffee['id']}/faces",
                               {"box": [200, 100, 320, 250]})
        assert drawn.code == 201
        added = check(drawn.body, "Photo")["faces"]
        assert len(added) == 1 and added[0]["box"] == [200, 100, 320, 250]
        assert len(added[0]["landmarks"]) == 5
        await self.recognized()
        named = await self.api("PUT", f"/api/faces/{added[0]['id']}/person", {"person": "new"})
        assert named.code == 200
        cup = json.loads(named.body)["person"]
        renamed = await self.api("PATCH", f"/api/people/{cup}", {"name": "The cup"})
        assert json.loads(renamed.body)["name"] == "The cup"
        outside = await self.api("POST", f"/api/photos/{coffee['id']}/faces",
                                 {"box": [500, 300, 700, 500]})
        assert outside.code == 400 and json.loads(outside.body)["error"]["code"] == "bad_box"

        # Photos of several people: every one of them in the photo
        group = json.loads((await self.upload("obama_and_biden.jpg")).body)
        await self.recognized()
        both = json.loads((await self.api(
            "GET", f"/api/photos?person={young['id']}&person={biden_id}")).body)
        assert [p["id"] for p in both["photos"]] == [group["id"]]
        one = json.loads((await self.api("GET", f"/api/photos?person={biden_id}")).body)
        assert {p["id"] for p in one["photos"]} == {group["id"], *(b["id"] for b in biden)}
        gallery = (await self.http_client.fetch(self.get_url(
            f"/?person={young['id']}&person={biden_id}"))).body.decode()
        assert "Barack Obama" in gallery and 'data-id="' + group["id"] in gallery

        for kind in ("faces.changed", "people.changed", "photo.changed"):
            await self.heard(events, lambda e, kind=kind: e["type"] == kind)
        other_page.close()
        await listening


def test_a_file_that_is_no_recognizer_turns_people_off_in_one_line(
        tmp_path: Path, model_path: Path) -> None:
    """FACES_RECOGNITION_MODEL naming a detector's file: one line naming the
    setting, People off, uploads work; the health check says People cannot
    run (503 "failing": a container reports it unhealthy)."""
    from tests.support.process import get_json, server, upload

    log = tmp_path / "server.log"
    with open(log, "w") as out, server(tmp_path / "data", model_path, log=out, failing=True,
                                       extra=("--recognition-model", str(model_path))) \
            as (_, base):
        status, health = get_json(base + "/healthz")
        assert health["recognition"] == "off" and health["recognizer"] is None
        assert status == 503 and health["status"] == "failing"
        assert "People is off" in health["problems"][0]
        assert "FACES_RECOGNITION_MODEL" in health["problems"][0]
        status, photo = upload(base, "t1.jpg")
        assert status == 201 and len(photo["faces"]) == 6
    lines = [line for line in log.read_text().splitlines() if "People is off" in line]
    assert len(lines) == 1 and "FACES_RECOGNITION_MODEL" in lines[0], log.read_text()
    assert "Traceback" not in log.read_text()


def test_arcface_describes_one_person_closer_than_another(arcface_model: Path,
                                                          model_path: Path) -> None:
    """The non-commercial ArcFace family, chosen from its file: 512 numbers a
    face, Obama's photos nearer each other than to Biden's."""
    from faces.vision import detectors

    assert recognizers.identify(arcface_model) == "arcface"
    recognizer = recognizers.load(arcface_model)
    detector = detectors.load(model_path)
    vectors = {}
    for name in ("obama/obama.jpg", "obama/obama2.jpg", "biden/biden.jpg"):
        image = cv2.imread(str(PEOPLE / name))
        face = max(pipeline.detect(detector, image, Options(max_pixels=50_000_000)),
                   key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
        [found] = recognizer.describe(image, [face.landmarks])
        assert found.vector.shape == (512,) and abs(np.linalg.norm(found.vector) - 1) < 1e-4
        vectors[name] = found.vector
    same = 1 - vectors["obama/obama.jpg"] @ vectors["obama/obama2.jpg"]
    other = 1 - vectors["obama/obama.jpg"] @ vectors["biden/biden.jpg"]
    assert same < 0.58 < other  # ArcFace's join distance between them


V3_DUMP = Path(__file__).parent / "data" / "catalogue-v3.sql"


def v3_gallery(data_dir: Path) -> None:
    """A gallery as main left it before SFace (catalogue schema 3, dlib's
    descriptors; from its dump), the user's decisions in it: three people
    named, one hidden, Kit split and merged back, a face taken out of
    Obama, a child's face put in a person of its own and named. Its stored
    originals are the shared photos they were made from (found by id)."""
    import sqlite3

    from faces.library.records import content_id

    data_dir.mkdir(parents=True)
    (data_dir / "photos").mkdir()
    with sqlite3.connect(data_dir / "catalogue.sqlite3") as db:
        db.executescript(V3_DUMP.read_text())
        stored = dict(db.execute("SELECT id, original FROM photos"))
    sources = [*PEOPLE.glob("*/*.jpg"), *PEOPLE.parent.glob("*.jpg")]
    for path in sources:
        photo_id = content_id(path.read_bytes())
        if photo_id in stored:
            (data_dir / "photos" / stored.pop(photo_id)).write_bytes(path.read_bytes())
    assert not stored, f"photos not found among the shared ones: {stored}"


class TestANewRecognizerLosesNothing(PeopleCase):
    """Upgrading a gallery made with dlib's descriptors: every face is
    described again in the background, uploads go on, and every decision
    of the user stays."""

    def get_app(self):
        _require(PEOPLE, "people photos")
        v3_gallery(self.settings.data_dir)
        return super().get_app()

    def test_upgrade(self) -> None:
        self.io_loop.run_sync(self._upgrade, timeout=240)

    async def _upgrade(self) -> None:
        catalogue = self.services.catalogue
        assert (self.settings.data_dir / "catalogue.sqlite3.v3.bak").is_file()
        await asyncio.sleep(0)  # (begin() has run: the re-description is queued)
        health = json.loads((await self.http_client.fetch(self.get_url("/healthz"))).body)
        assert health["recognizer"] == "sface"
        assert health["recognition_redescribing"] == 13 or health["recognition_backlog"] < 13
        during = await self.upload("t1.jpg")  # uploads go on meanwhile
        assert during.code == 201
        await self.recognized()
        assert self.services.recognition.redescribing == 0
        assert catalogue.db.execute("SELECT COUNT(*) FROM faces WHERE descriptor IS NOT NULL "
                                    "AND recognizer != 'sface'").fetchone()[0] == 0
        listed = await self.people(hidden=True)
        everyone = {p["name"]: p for p in listed if p["name"]}
        # names stay with their faces; the user's placements stand
        assert everyone["Barack Obama"]["photos"] >= 3  # obama, obama2, the group photo
        assert everyone["Joe Biden"]["photos"] >= 2
        assert everyone["Kit Harington"]["photos"] >= 2
        assert everyone["Child"]["faces"] == 1
        hidden = [p for p in listed if p["hidden"]]
        assert len(hidden) == 1 and hidden[0]["photos"] == 2
        assert catalogue.db.execute("SELECT person, pinned FROM faces WHERE id = 3"
                                    ).fetchone() == (None, 1)  # "not Obama" stays nobody's
        assert catalogue.db.execute("SELECT pinned FROM faces WHERE id = 7").fetchone()[0] == 1
        # the faces of the person nobody touched are grouped again: Rose, by SFace
        rose = [p for p in listed if p["name"] is None and not p["hidden"]]
        assert [p["photos"] for p in rose] == [3]


def test_switching_recognizers_keeps_every_decision_and_a_restart_resumes(
        tmp_path: Path, model_path: Path, recognition_model: Path, arcface_model: Path,
        images: Path) -> None:
    """One gallery, SFace -> ArcFace -> SFace: every name, hidden person and
    face the user placed stays. A server stopped half way through
    recognition, or half way through describing every face again for a new
    recognizer, finishes the job after its restart. Real servers, real
    models; each stop is made once progress is seen, not after a guess."""
    import signal
    import sqlite3
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tests.support.process import call_json, get_json, server, upload

    folders = ("obama", "kit_harington", "rose_leslie", "biden")
    photos = [p for folder in folders for p in sorted((PEOPLE / folder).glob("*.jpg"))[:4]]
    data = tmp_path / "data"
    sface = ("--recognition-model", str(recognition_model), "--rate-limit", "0")
    arcface = ("--recognition-model", str(arcface_model), "--rate-limit", "0")

    def health(base: str) -> dict:
        return get_json(base + "/healthz")[1]

    def until(base: str, test: object, what: str) -> dict:
        deadline = time.monotonic() + 180
        while not test(found := health(base)):
            assert time.monotonic() < deadline, f"never {what}: {found}"
            time.sleep(0.02)
        return found

    def stop(process: object) -> None:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0

    def catalogue(query: str) -> list[tuple]:
        with sqlite3.connect(f"file:{data / 'catalogue.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute(query).fetchall()

    # Recognition stopped half way is finished after a restart. The photos come
    # in while People is off (a new upload's faces are described in its own
    # detection job, and grouping them alone is over in a moment): then the
    # server with People has them all to describe, in jobs of its own.
    with server(data, model_path, extra=("--recognition-model", "", "--rate-limit", "0")
                ) as (process, base):
        with ThreadPoolExecutor(len(photos)) as pool:
            answers = list(pool.map(
                lambda path: upload(base, f"people/{path.parent.name}/{path.name}")[0],
                photos))
        assert answers == [201] * len(photos)
        stop(process)
    with server(data, model_path, extra=sface) as (process, base):
        first = health(base)["recognition_backlog"]
        assert first > 1
        left = until(base, lambda h: h["recognition_backlog"] < first, "progressed")
        stop(process)
    assert 0 < left["recognition_backlog"] < len(photos)
    assert catalogue("SELECT COUNT(*) FROM photos WHERE recognized = 0")[0][0] > 0
    with server(data, model_path, extra=sface) as (process, base):
        until(base, lambda h: h["recognition_backlog"] == 0, "caught up")
        # The user's decisions: each person named after the folder most of
        # their photos come from, the smallest one hidden, one face placed.
        people = get_json(base + "/api/people?limit=200")[1]["people"]
        assert len(people) >= 3
        named = {}
        for person in people:
            listed = get_json(f"{base}/api/photos?person={person['id']}&limit=100")[1]
            folder = max(folders, key=lambda f: sum(
                p["filename"] in {q.name for q in (PEOPLE / f).glob("*.jpg")}
                for p in listed["photos"]))
            if folder not in named.values() and person["photos"] >= 2:
                named[person["id"]] = folder
                assert call_json(f"{base}/api/people/{person['id']}", "PATCH",
                                 {"name": folder})[0] == 200
        hidden = people[-1]["id"]
        assert call_json(f"{base}/api/people/{hidden}", "PATCH", {"hidden": True})[0] == 200
        placed_face, placed_person = catalogue(
            "SELECT id, person FROM faces WHERE person IS NOT NULL ORDER BY id LIMIT 1")[0]
        assert call_json(f"{base}/api/faces/{placed_face}/person", "PUT",
                         {"person": "new"})[0] == 200
        stop(process)
    decisions = catalogue("SELECT f.id, p.name FROM faces AS f JOIN people AS p "
                          "ON p.id = f.person WHERE p.name IS NOT NULL ORDER BY f.id")
    placed = catalogue(f"SELECT person FROM faces WHERE id = {placed_face}")[0][0]
    assert decisions and placed not in (None, placed_person)

    def kept() -> None:
        now = set(catalogue("SELECT f.id, p.name FROM faces AS f JOIN people AS p ON p.id = "
                            "f.person WHERE p.name IS NOT NULL"))
        assert set(decisions) <= now  # (the new recognizer may name more faces, never fewer)
        assert catalogue(f"SELECT hidden FROM people WHERE id = '{hidden}'") == [(1,)]
        assert catalogue(f"SELECT person, pinned FROM faces WHERE id = {placed_face}") == \
            [(placed, 1)]

    # A new recognizer: every face described again in the background; a stop
    # half way through is finished after the restart; nothing decided is lost.
    for family, extra in (("arcface", arcface), ("sface", sface)):
        with server(data, model_path, extra=extra) as (process, base):
            first = health(base)
            assert first["recognizer"] == family
            assert first["recognition_redescribing"] > 0
            total = first["recognition_redescribing"]
            left = until(base, lambda h, total=total: h["recognition_redescribing"] < total,
                         "re-described a photo")
            stop(process)
        assert left["recognition_redescribing"] > 0  # stopped with work left
        with server(data, model_path, extra=extra) as (process, base):
            until(base, lambda h: h["recognition_backlog"] == 0, "caught up again")
            stop(process)
        assert catalogue("SELECT COUNT(*) FROM faces WHERE descriptor IS NOT NULL AND "
                         f"recognizer != '{family}'") == [(0,)]
        kept()

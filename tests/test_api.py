"""The JSON API: every endpoint's status, body and broadcast, with real
responses validated against the served OpenAPI document."""

from __future__ import annotations

import asyncio
import json

import cv2
import numpy as np
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from tornado.testing import gen_test

from faces.vision.detectors.scrfd import SCRFD
from faces.web import openapi
from tests.conftest import MODEL, YUNET_MODEL, photo_bytes
from tests.support.helpers import decode, multipart, stored
from tests.support.server import FacesTestCase

DOCUMENT = openapi.document()
REGISTRY = Registry().with_resource("urn:faces", Resource.from_contents(
    {**DOCUMENT, "$schema": "https://json-schema.org/draft/2020-12/schema"}))


def check(body: bytes, schema: str) -> dict:
    payload = json.loads(body)
    validator = Draft202012Validator({"$ref": f"urn:faces#/components/schemas/{schema}"},
                                     registry=REGISTRY)
    validator.validate(payload)
    return payload


def test_document_is_valid_openapi_3_1() -> None:
    validate(DOCUMENT)
    assert DOCUMENT["openapi"] == "3.1.0"


class TestApi(FacesTestCase):
    async def post(self, path: str, name: str, data: bytes | None = None,
                   fields: dict | None = None):
        body, content_type = multipart([("file", name, photo_bytes(name) if data is None
                                         else data)], fields)
        return await self.http_client.fetch(self.get_url(path), method="POST", body=body,
                                            headers={"Content-Type": content_type},
                                            raise_error=False)

    @gen_test(timeout=30)
    async def test_served_document_and_documented_responses(self) -> None:
        served = await self.http_client.fetch(self.get_url("/api/openapi.json"))
        assert json.loads(served.body) == DOCUMENT
        created = await self.post("/api/photos", "t1.jpg")
        photo = check(created.body, "Photo")
        listing = await self.http_client.fetch(self.get_url("/api/photos"))
        check(listing.body, "PhotoList")
        one = await self.http_client.fetch(self.get_url(f"/api/photos/{photo['id']}"))
        check(one.body, "Photo")
        health = await self.http_client.fetch(self.get_url("/healthz"))
        check(health.body, "Health")
        for response in (await self.post("/api/photos", "x.jpg", b"nope"),
                         await self.http_client.fetch(self.get_url("/api/photos/x"),
                                                      raise_error=False)):
            check(response.body, "Error")
        for path, methods in DOCUMENT["paths"].items():
            for method, operation in methods.items():
                if method != "parameters":
                    assert operation["responses"], (path, method)

    @gen_test(timeout=30)
    async def test_delete_removes_files_row_and_tells_every_gallery(self) -> None:
        photo = json.loads((await self.post("/api/photos", "obama.jpg")).body)
        listener = await self.ws()
        response = await self.http_client.fetch(self.get_url(f"/api/photos/{photo['id']}"),
                                                method="DELETE")
        assert response.code == 204
        event = json.loads(await asyncio.wait_for(listener.read_message(), 10))
        assert isinstance(event.pop("seq"), int)  # (numbered: a page replays what it missed)
        assert event == {"type": "photo.deleted", "id": photo["id"]}
        assert self.services.gallery.count() == 0
        assert stored(self.files.photos_dir) == []
        assert list(self.files.meta_dir.iterdir()) == []
        gone = await self.http_client.fetch(self.get_url(f"/api/photos/{photo['id']}"),
                                            method="DELETE", raise_error=False)
        assert gone.code == 404 and check(gone.body, "Error")["error"]["code"] == "unknown_photo"
        listener.close()

    @gen_test(timeout=30)
    async def test_detect_only_stores_and_broadcasts_nothing(self) -> None:
        listener = await self.ws()
        response = await self.post("/api/detect", "two_people.jpg")
        assert response.code == 200
        result = check(response.body, "Detection")
        assert (result["width"], result["height"], len(result["faces"])) == (1126, 661, 2)
        annotated = await self.post("/api/detect?annotate=1", "two_people.jpg")
        assert annotated.headers["Content-Type"] == "image/jpeg"
        assert annotated.headers["X-Faces-Count"] == "2"
        assert decode(annotated.body).shape[:2] == (661, 1126)
        assert self.services.gallery.count() == 0
        assert stored(self.files.photos_dir) == []
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(listener.read_message(), 0.5)
        bad = await self.post("/api/detect", "x.png", b"\x89PNG\r\n\x1a\nbroken")
        assert bad.code == 422 and check(bad.body, "Error")
        listener.close()

    @gen_test(timeout=30)
    async def test_blur_mode_hides_faces_and_keeps_no_clear_copy(self) -> None:
        boxed = json.loads((await self.post("/api/photos", "two_people.jpg")).body)
        blurred = await self.post("/api/photos?mode=blur", "two_people.jpg")
        assert blurred.code == 201  # a different photo from the boxed one
        photo = json.loads(blurred.body)
        assert photo["id"] != boxed["id"] and len(photo["faces"]) == 2
        # no unblurred pixel kept: no original, and the API says so
        assert photo["original_kept"] is False and photo["urls"]["original"] is None
        refused = await self.http_client.fetch(
            self.get_url(f"/api/photos/{photo['id']}/original"), raise_error=False)
        assert refused.code == 404 and check(refused.body, "Error")["error"]["code"] == \
            "no_original"
        stored = sorted(p.name for p in self.files.photos_dir.iterdir()
                        if p.name.startswith(photo["id"]))
        assert not [name for name in stored if ".original" in name], stored
        detector = SCRFD(MODEL)
        served = {}
        for kind in ("display", "annotated", "thumbnail"):
            response = await self.http_client.fetch(self.get_url(photo["urls"][kind]))
            served[kind] = decode(response.body, cv2.IMREAD_COLOR)
            assert detector.detect(served[kind]) == [], kind  # faces no longer findable
        clear = decode((await self.http_client.fetch(
            self.get_url(boxed["urls"]["display"]))).body, cv2.IMREAD_COLOR)
        x1, y1, x2, y2 = (int(v) for v in photo["faces"][0]["box"])
        blurred_face = served["display"][y1:y2, x1:x2]
        detail = cv2.Laplacian(cv2.cvtColor(clear[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY),
                               cv2.CV_64F).var()
        left = cv2.Laplacian(cv2.cvtColor(blurred_face, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        assert left < detail / 20  # almost no fine detail survives

    @gen_test(timeout=30)
    async def test_mode_as_form_field_and_threshold(self) -> None:
        normal = await self.post("/api/photos", "obama_and_biden.jpg")
        assert normal.code == 201
        scores = sorted(face["score"] for face in json.loads(normal.body)["faces"])
        assert len(scores) == 3
        cut = round(scores[0] + 0.005, 3)  # just above the weakest face
        strict = await self.post("/api/photos", "obama_and_biden.jpg",
                                 fields={"threshold": str(cut)})
        assert strict.code == 201
        kept = [face["score"] for face in json.loads(strict.body)["faces"]]
        assert len(kept) == 2 and min(kept) >= cut
        for query, code in (("?threshold=2", "bad_threshold"), ("?threshold=abc", "bad_threshold"),
                            ("?mode=swirl", "bad_mode")):
            response = await self.post("/api/photos" + query, "coffee.jpg")
            assert response.code == 400 and check(response.body, "Error")["error"]["code"] == code
        blurred_form = await self.post("/api/photos", "kit_with_rose.jpg", fields={"mode": "blur"})
        assert blurred_form.code == 201

    @gen_test(timeout=30)
    async def test_transparent_png_answers_png(self) -> None:
        rgba = np.zeros((200, 200, 4), np.uint8)
        rgba[50:150, 50:150] = (0, 0, 255, 255)
        _, data = cv2.imencode(".png", rgba)
        response = await self.post("/api/photos", "t.png", data.tobytes())
        photo = check(response.body, "Photo")
        served = await self.http_client.fetch(self.get_url(photo["urls"]["display"]))
        assert served.headers["Content-Type"] == "image/png"
        annotated = await self.post("/api/detect?annotate=1", "t.png", data.tobytes())
        assert annotated.headers["Content-Type"] == "image/png"


class TestApiWithYuNet(TestApi):
    """The same API, on the licence-clean YuNet detector."""

    family = "yunet"

    def test_healthz_names_the_family(self) -> None:
        body = json.loads(self.fetch("/healthz").body)
        assert (body["detector"], body["model"]) == ("yunet", YUNET_MODEL.name)

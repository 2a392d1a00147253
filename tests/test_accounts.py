"""Accounts, roles, sessions, API keys and share links, against a real
server with real photos and People on: a viewer looks and is refused every
edit; an editor names; sessions end (and their live connections close) when
ended, when the role changes; a share link of a person shows that person's
photos and nothing else, without metadata (ExifTool reads what it serves),
and stops in page, files and WebSocket when revoked and when it expires; no
secret is in the catalogue in clear; wrong link passwords are throttled."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError, HTTPRequest, HTTPResponse
from tornado.testing import gen_test
from tornado.websocket import websocket_connect

from faces.library.catalogue import CATALOGUE
from tests.conftest import IMAGES, PEOPLE, _require, photo_bytes
from tests.support.helpers import multipart
from tests.support.server import FacesTestCase
from tests.test_metadata import exiftool, need_exiftool, written
from tests.test_people import PeopleCase, v3_gallery

TOKEN = "an old gallery's access token"
CHEAP = {"password_time": 1, "password_memory": 8}  # Argon2 at a test's cost, never production
PASSWORDS = {"olive": "olive-owner-pw", "vera": "vera-viewer-pw", "ed": "ed-the-editor"}
OBAMA = ["people/obama/" + name for name in ("obama.jpg", "obama2.jpg", "obama3.jpg")]
LATER = "people/obama/obama1_knn_test.jpg"
BIDEN = ["people/biden/" + name for name in ("biden.jpg", "biden2.jpg")]


def cookie_of(response: HTTPResponse, name: str) -> tuple[str, str]:
    """The ``name=value`` pair a response sets, and its whole header."""
    for header in response.headers.get_list("Set-Cookie"):
        if header.startswith(name + "="):
            return header.split(";")[0], header
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('Set-Cookie')}")


def faces_user(data_dir: Path, *args: str, password: str = "") -> str:
    """The real `faces user` command, on the data directory the server runs on."""
    done = subprocess.run(
        [sys.executable, "-m", "faces", "user", *args, "--data-dir", str(data_dir),
         "--password-time", "1", "--password-memory", "8"],
        input=password + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


class AccountsCase(PeopleCase):
    overrides = {**PeopleCase.overrides, **CHEAP}

    async def call(self, method: str, path: str, cookie: str = "", body: object = None,
                   headers: dict | None = None, **kwargs) -> HTTPResponse:
        data = None if body is None else body if isinstance(body, bytes) else \
            json.dumps(body).encode()
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        return await self.http_client.fetch(
            self.get_url(path), method=method, body=data, raise_error=False,
            follow_redirects=False, headers={"Content-Type": "application/json",
                                             **({"Cookie": cookie} if cookie else {}),
                                             **(headers or {})}, **kwargs)

    async def log_in(self, name: str) -> str:
        answer = await self.call("POST", "/api/session",
                                 body={"name": name, "password": PASSWORDS[name]})
        assert answer.code == 201, answer.body
        pair, header = cookie_of(answer, "faces_session")
        assert "HttpOnly" in header and "SameSite=Strict" in header
        return pair

    async def live(self, cookie: str) -> object:
        return await websocket_connect(HTTPRequest(
            f"ws://127.0.0.1:{self.get_http_port()}/ws", headers={"Cookie": cookie}))

    async def closed(self, socket: object, timeout: float = 10) -> float:
        """Read until the server closes ``socket``; the seconds it took."""
        started = time.monotonic()
        while await asyncio.wait_for(socket.read_message(), timeout) is not None:
            pass
        return time.monotonic() - started

    async def upload_as(self, name: str, cookie: str, data: bytes | None = None) -> dict:
        body, kind = multipart([("file", Path(name).name,
                                 photo_bytes(name) if data is None else data)])
        answer = await self.call("POST", "/api/photos", cookie, body,
                                 {"Content-Type": kind})
        assert answer.code in (200, 201), answer.body
        return json.loads(answer.body)

    def secrets_in_clear(self, secrets: list[str]) -> list[str]:
        data = b""
        for path in Path(self.settings.data_dir).glob(CATALOGUE + "*"):
            data += path.read_bytes()
        return [secret for secret in secrets if secret.encode() in data]


class TestRolesAndSessions(AccountsCase):
    overrides = {**AccountsCase.overrides, "token": TOKEN}

    @gen_test(timeout=240)
    async def test_viewer_editor_sessions_keys(self) -> None:
        data = Path(self.settings.data_dir)
        # Before any account: the token gallery works as it did.
        token = {"Authorization": f"Bearer {TOKEN}"}
        body, kind = multipart([("file", "a.jpg", photo_bytes(OBAMA[0]))])
        assert (await self.call("POST", "/api/photos", body=body,
                                headers={"Content-Type": kind})).code == 401
        first = json.loads((await self.call("POST", "/api/photos", body=body,
                                            headers={"Content-Type": kind, **token})).body)
        assert (await self.call("GET", "/api/photos")).code == 200  # viewing stays open
        # The owner from the token's holder (or `faces user add`), then the family.
        assert "added olive (owner)" in faces_user(data, "add", "olive", "--role", "owner",
                                                   password=PASSWORDS["olive"])
        faces_user(data, "add", "vera", "--role", "viewer", password=PASSWORDS["vera"])
        faces_user(data, "add", "ed", "--role", "editor", password=PASSWORDS["ed"])
        listed = faces_user(data, "list")
        assert re.search(r"vera\tviewer", listed) and re.search(r"ed\teditor", listed)
        # Accounts on: nothing without a session, a key, a link or the token.
        assert (await self.call("GET", "/api/photos")).code == 401
        page = await self.call("GET", "/")
        assert page.code == 302 and page.headers["Location"] == "/login"
        wrong = await self.call("POST", "/api/session", body={"name": "vera",
                                                               "password": "nope-nope"})
        assert wrong.code == 401 and b"do not match" in wrong.body
        nobody = await self.call("POST", "/api/session", body={"name": "nobody",
                                                                "password": "nope-nope"})
        assert nobody.body == wrong.body  # one generic answer
        assert (await self.call("GET", "/api/photos", headers=token)).code == 200

        owner, vera, ed = (await self.log_in("olive"), await self.log_in("vera"),
                           await self.log_in("ed"))
        second = await self.upload_as(OBAMA[1], ed)
        await self.recognized()
        person = next(face["person"] for face in
                      json.loads((await self.call("GET", f"/api/photos/{second['id']}",
                                                  vera)).body)["faces"])
        face = json.loads((await self.call("GET", f"/api/photos/{second['id']}",
                                           vera)).body)["faces"][0]["id"]
        # A viewer sees everything and may change nothing: 403 for every edit.
        assert (await self.call("GET", "/", vera)).code == 200
        assert (await self.call("GET", f"/api/people/{person}", vera)).code == 200
        box = {"box": [10, 10, 60, 60]}
        edits = [("POST", "/api/photos", body, {"Content-Type": kind}),
                 ("DELETE", f"/api/photos/{first['id']}", None, {}),
                 ("PATCH", f"/api/photos/{first['id']}", {"taken": "2019-03-14T15:09:26"}, {}),
                 ("POST", f"/api/photos/{first['id']}/faces", box, {}),
                 ("PATCH", f"/api/people/{person}", {"name": "Barack"}, {}),
                 ("POST", f"/api/people/{person}/merge", {"into": person}, {}),
                 ("PUT", f"/api/faces/{face}/person", {"person": person}, {}),
                 ("POST", f"/api/faces/{face}/reject", None, {}),
                 ("POST", "/api/shares", {"person": person}, {}),
                 ("POST", "/api/library", {"path": "/tmp"}, {}),
                 ("POST", "/api/detect", body, {"Content-Type": kind})]
        for method, path, payload, headers in edits:
            answer = await self.call(method, path, vera, payload, headers)
            assert answer.code == 403, (method, path, answer.code)
            assert json.loads(answer.body)["error"]["code"] == "forbidden"
        # An editor names and corrects; sharing stays the owner's.
        named = await self.call("PATCH", f"/api/people/{person}", ed, {"name": "Barack"})
        assert named.code == 200 and json.loads(named.body)["name"] == "Barack"
        assert (await self.call("PUT", f"/api/faces/{face}/person", ed,
                                {"person": person})).code == 200
        assert (await self.call("POST", "/api/shares", ed, {"person": person})).code == 403
        assert (await self.call("POST", "/api/shares", owner, {"person": person})).code == 201

        # Sessions: listed; one ended from another; its live connection closes.
        other = await self.log_in("vera")
        listed = json.loads((await self.call("GET", "/api/sessions", vera)).body)["sessions"]
        assert len(listed) == 2 and sum(row["current"] for row in listed) == 1
        other_id = next(row["id"] for row in listed if not row["current"])
        socket = await self.live(other)
        assert (await self.call("DELETE", f"/api/sessions/{other_id}", vera)).code == 204
        waited = await self.closed(socket)
        assert socket.close_code == 4401, (socket.close_code, waited)
        assert (await self.call("GET", "/api/photos", other)).code == 401
        assert (await self.call("GET", "/api/photos", vera)).code == 200
        # A new role (from the command line, the server running): sessions end at once.
        socket = await self.live(vera)
        faces_user(data, "role", "vera", "editor")
        await self.closed(socket)
        assert socket.close_code == 4401
        assert (await self.call("GET", "/api/photos", vera)).code == 401
        vera = await self.log_in("vera")
        assert (await self.call("PATCH", f"/api/photos/{first['id']}", vera,
                                {"taken": "2019-03-14T15:09:26"})).code == 200
        # API keys: at most the maker's role, made from a session, never by a key.
        assert (await self.call("POST", "/api/keys", ed, {"role": "owner"})).code == 403
        made = await self.call("POST", "/api/keys", ed, {"role": "viewer", "label": "script"})
        assert made.code == 201
        key = json.loads(made.body)["key"]
        bearer = {"Authorization": f"Bearer {key}"}
        assert (await self.call("GET", "/api/photos", headers=bearer)).code == 200
        assert (await self.call("DELETE", f"/api/photos/{first['id']}",
                                headers=bearer)).code == 403
        assert (await self.call("POST", "/api/keys", body={"role": "viewer"},
                                headers=bearer)).code == 403  # a key makes no keys
        keys = json.loads((await self.call("GET", "/api/keys", ed)).body)["keys"]
        assert [(k["label"], k["role"]) for k in keys] == [("script", "viewer")]
        assert keys[0]["last_used"] is not None
        # Removing a user ends everything they hold.
        socket = await self.live(ed)
        faces_user(data, "remove", "ed", "--yes")
        await self.closed(socket)
        assert (await self.call("GET", "/api/photos", ed)).code == 401
        assert (await self.call("GET", "/api/photos", headers=bearer)).code == 401
        # The token is the owner's key still.
        assert (await self.call("DELETE", f"/api/photos/{first['id']}",
                                headers=token)).code == 204
        # No password, session token or key in the catalogue in clear.
        secrets = [*PASSWORDS.values(), key] + [c.split("=", 1)[1] for c in (owner, vera, other)]
        assert self.secrets_in_clear(secrets) == []


class TestOpenGallery(AccountsCase):
    @gen_test(timeout=60)
    async def test_the_owner_made_from_this_machine(self) -> None:
        photo = await self.upload_as(OBAMA[0], "")  # open: as today
        early = await self.call("POST", "/api/users", body={
            "name": "olive", "role": "owner", "password": PASSWORDS["olive"]})
        assert early.code == 409  # the owner is made on this machine's page, or by the CLI
        assert (await self.call("GET", "/login")).headers["Location"] == "/setup"
        proxied = await self.call("GET", "/setup", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.code == 403  # through a proxy on this machine: not this machine
        form = await self.call("GET", "/setup")
        assert form.code == 200 and b"Make the owner" in form.body
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.body.decode())[1]
        pair, _ = cookie_of(form, "_xsrf")
        made = await self.call("POST", "/setup", pair, f"_xsrf={xsrf}&name=olive&password="
                               f"{PASSWORDS['olive']}&again={PASSWORDS['olive']}".encode(),
                               {"Content-Type": "application/x-www-form-urlencoded"})
        assert made.code == 303, made.body
        session, _ = cookie_of(made, "faces_session")
        assert (await self.call("GET", "/api/photos")).code == 401  # open no more
        assert (await self.call("GET", "/setup", session)).code == 404  # made once
        who = json.loads((await self.call("GET", "/api/session", session)).body)
        assert who == {"user": "olive", "role": "owner", "via": "session", "accounts": True}
        assert (await self.call("DELETE", f"/api/photos/{photo['id']}", session)).code == 204
        assert (await self.call("DELETE", "/api/session", session)).code == 204
        assert (await self.call("GET", "/api/photos", session)).code == 401
        # Wrong passwords: one answer for all; past five, the name and the address wait.
        wrong = {"name": "olive", "password": "not-her-password"}
        codes = [(await self.call("POST", "/api/session", body=wrong)).code for _ in range(6)]
        assert codes == [401] * 6
        right = await self.call("POST", "/api/session",
                                body={"name": "olive", "password": PASSWORDS["olive"]})
        assert right.code == 429 and int(right.headers["Retry-After"]) >= 1
        counted = self.web.metrics.exposition().decode()
        for outcome, times in (("ok", 1), ("wrong", 6), ("throttled", 1)):
            assert f'faces_logins_total{{outcome="{outcome}"}} {times}.0' in counted


class TestTheOwnersAccounts(AccountsCase):
    @gen_test(timeout=60)
    async def test_accounts_from_the_api_and_the_account_page(self) -> None:
        data = Path(self.settings.data_dir)
        faces_user(data, "add", "olive", "--role", "owner", password=PASSWORDS["olive"])
        owner = await self.log_in("olive")
        added = await self.call("POST", "/api/users", owner, {
            "name": "vera", "role": "viewer", "password": PASSWORDS["vera"]})
        assert added.code == 201, added.body
        vera_id = json.loads(added.body)["id"]
        taken = await self.call("POST", "/api/users", owner, {
            "name": "Vera", "password": "another-password"})
        assert taken.code == 409  # names are one account whatever their case
        users = json.loads((await self.call("GET", "/api/users", owner)).body)["users"]
        assert [(u["name"], u["role"]) for u in users] == [("olive", "owner"), ("vera", "viewer")]
        olive_id = users[0]["id"]
        vera = await self.log_in("vera")
        assert (await self.call("GET", "/api/users", vera)).code == 403
        # A new role from the owner: her sessions end, her page's connection closes.
        socket = await self.live(vera)
        changed = await self.call("PATCH", f"/api/users/{vera_id}", owner, {"role": "editor"})
        assert changed.code == 200 and json.loads(changed.body)["role"] == "editor"
        await self.closed(socket)
        assert socket.close_code == 4401
        assert (await self.call("GET", "/api/photos", vera)).code == 401
        # The only owner stays one.
        for method, body in (("PATCH", {"role": "viewer"}), ("DELETE", None)):
            refused = await self.call(method, f"/api/users/{olive_id}", owner, body)
            assert refused.code == 409 and json.loads(refused.body)["error"]["code"] == \
                "last_owner"
        # Her own new password, on /account: the current one first.
        vera = await self.log_in("vera")
        page = await self.call("GET", "/account", vera)
        xsrf = html.unescape(re.search(r'name="_xsrf" value="([^"]+)"', page.body.decode())[1])
        pair, _ = cookie_of(page, "_xsrf")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        new = "vera-new-password"
        wrong = await self.call("POST", "/account", f"{vera}; {pair}", (
            f"_xsrf={xsrf}&do=password&current=guess-guess&password={new}&again={new}"
        ).encode(), form)
        assert wrong.code == 401 and b"not your current password" in wrong.body
        done = await self.call("POST", "/account", f"{vera}; {pair}", (
            f"_xsrf={xsrf}&do=password&current={PASSWORDS['vera']}&password={new}&again={new}"
        ).encode(), form)
        assert done.code == 303, done.body
        fresh, _ = cookie_of(done, "faces_session")
        assert (await self.call("GET", "/api/photos", vera)).code == 401  # the old session
        assert (await self.call("GET", "/api/photos", fresh)).code == 200
        assert (await self.call("POST", "/api/session", body={
            "name": "vera", "password": new})).code == 201
        # Removed: everything she held ends.
        assert (await self.call("DELETE", f"/api/users/{vera_id}", owner)).code == 204
        assert (await self.call("GET", "/api/photos", fresh)).code == 401
        assert self.secrets_in_clear([new, PASSWORDS["vera"]]) == []


class TestShareLinks(AccountsCase):
    @gen_test(timeout=300)
    async def test_a_person_shared_and_nothing_else(self) -> None:
        need_exiftool()
        data = Path(self.settings.data_dir)
        faces_user(data, "add", "olive", "--role", "owner", password=PASSWORDS["olive"])
        owner = await self.log_in("olive")
        # A photo of Obama with a place and a camera in its EXIF.
        tagged = data.parent / "gps.jpg"
        shutil.copyfile(IMAGES / OBAMA[2], tagged)
        placed = written(tagged, "-GPSLatitude=48.8584", "-GPSLatitudeRef=N",
                         "-GPSLongitude=2.2945", "-GPSLongitudeRef=E", "-Make=Canon",
                         "-Model=EOS 5D")
        mine = [await self.upload_as(name, owner) for name in OBAMA[:2]]
        mine.append(await self.upload_as("gps.jpg", owner, placed))
        others = [await self.upload_as(name, owner) for name in BIDEN]
        await self.recognized()
        obama = {face["person"] for photo in mine for face in
                 json.loads((await self.call("GET", f"/api/photos/{photo['id']}",
                                             owner)).body)["faces"]}
        assert len(obama) == 1, obama
        person = obama.pop()
        made = await self.call("POST", "/api/shares", owner, {"person": person,
                                                              "label": "Barack"})
        assert made.code == 201, made.body
        share = json.loads(made.body)
        assert share["photos"] == 3 and share["expires"] and not share["downloads"]
        link = share["url"].split(str(self.get_http_port()), 1)[1]
        # The link is exchanged for a cookie: the token leaves the address bar.
        opened = await self.call("GET", link)
        assert opened.code == 303 and opened.headers["Location"] == "/shared"
        assert opened.headers["Referrer-Policy"] == "no-referrer"
        guest, header = cookie_of(opened, "faces_share")
        assert "HttpOnly" in header
        listing = json.loads((await self.call("GET", "/api/shared", guest)).body)
        assert {p["id"] for p in listing["photos"]} == {p["id"] for p in mine}
        for photo in listing["photos"]:  # no names, boxes, places, cameras, file names
            assert set(photo) == {"id", "width", "height", "urls", "faces"}
            assert photo["faces"] == [] and set(photo["urls"]) == {"display", "thumbnail"}
        page = await self.call("GET", "/shared", guest)
        assert page.code == 200 and b"Barack" in page.body
        # Its own display copies and thumbnails; nothing else answers but 404.
        for photo in listing["photos"]:
            assert photo["urls"]["thumbnail"] == photo["urls"]["display"]  # no boxes drawn
            assert (await self.call("GET", photo["urls"]["display"], guest)).code == 200
        gps = next(p for p in mine if p["filename"] == "gps.jpg")
        copy = data.parent / "served.jpg"
        copy.write_bytes((await self.call("GET", gps["urls"]["display"], guest)).body)
        read = exiftool("-a", "-G1", str(copy))[0]
        assert not [tag for tag in read if tag.startswith(("GPS", "EXIF", "XMP", "IFD0"))], read
        refused = []
        for photo in mine + others:  # (the gallery's thumbnails have the boxes drawn in)
            refused += [f"/api/photos/{photo['id']}", f"/api/photos/{photo['id']}/original",
                        f"/api/photos/{photo['id']}/xmp", photo["urls"]["annotated"],
                        photo["urls"]["thumbnail"],
                        f"/api/shared/photos/{photo['id']}/download"]
        for photo in others:
            refused += [photo["urls"]["display"]]
        face_ids = [f["id"] for p in mine for f in json.loads(
            (await self.call("GET", f"/api/photos/{p['id']}", owner)).body)["faces"]]
        refused += [f"/crops/{mine[0]['id']}.{face_ids[0]}.jpg", "/api/photos", "/api/people",
                    f"/api/people/{person}", "/api/shares", "/api/library", "/", "/people",
                    "/metrics", "/api/people/suggestions"]
        for path in refused:
            answer = await self.call("GET", path, guest)
            assert answer.code == 404, (path, answer.code)
        # Live for its own set: a photo grouped into the person later is not shared
        # until the owner confirms it (a wrong grouping never leaks a stranger).
        socket = await self.live(guest)
        heard: list[dict] = []

        async def listen() -> None:
            while (message := await socket.read_message()) is not None:
                heard.append(json.loads(message))

        listening = asyncio.ensure_future(listen())
        later = await self.upload_as(LATER, owner)
        await self.recognized()
        listing = json.loads((await self.call("GET", "/api/shared", guest)).body)
        assert later["id"] not in {p["id"] for p in listing["photos"]}
        assert (await self.call("GET", later["urls"]["display"], guest)).code == 404
        assert not any(m["type"] != "shared" for m in heard)  # nothing of other photos
        later_face = json.loads((await self.call("GET", f"/api/photos/{later['id']}",
                                                 owner)).body)["faces"][0]["id"]
        confirmed = await self.call("PUT", f"/api/faces/{later_face}/person", owner,
                                    {"person": person})
        assert confirmed.code == 200, confirmed.body
        await self.heard(heard, lambda m: m["type"] == "shared")
        listing = json.loads((await self.call("GET", "/api/shared", guest)).body)
        assert later["id"] in {p["id"] for p in listing["photos"]}
        # The owner sees its views and last use.
        listed = json.loads((await self.call("GET", "/api/shares", owner)).body)["shares"]
        assert listed[0]["views"] == 1 and listed[0]["last_used"]
        # Revoked: page, files, API and live connection stop at once.
        revoked = await self.call("DELETE", f"/api/shares/{share['id']}", owner)
        assert revoked.code == 204
        await asyncio.wait_for(listening, 5)
        assert socket.close_code == 4401
        for path in ("/shared", "/api/shared", link, mine[0]["urls"]["display"],
                     "/api/photos"):
            assert (await self.call("GET", path, guest)).code == 404, path
        with pytest.raises(HTTPClientError) as refused_ws:
            await self.live(guest)
        assert refused_ws.value.code == 404
        # At expiry too (a link made to last a day, the server's clock then a day
        # on: no race with a slow machine): the connection is closed by the server.
        brief = json.loads((await self.call("POST", "/api/shares", owner, {
            "photos": [mine[0]["id"]], "days": 1})).body)
        opened = await self.call("GET", brief["url"].split(str(self.get_http_port()), 1)[1])
        guest, _ = cookie_of(opened, "faces_share")
        assert (await self.call("GET", mine[0]["urls"]["display"], guest)).code == 200
        socket = await self.live(guest)
        self.services.accounts.clock = lambda: time.time() + 86400 + 1
        await self.closed(socket)
        assert socket.close_code == 4401
        assert (await self.call("GET", mine[0]["urls"]["display"], guest)).code == 404
        assert (await self.call("GET", "/api/shared", guest)).code == 404
        # No link token in the catalogue in clear.
        tokens = [share["url"].rsplit("/", 1)[1], brief["url"].rsplit("/", 1)[1]]
        assert self.secrets_in_clear(tokens) == []

    @gen_test(timeout=120)
    async def test_a_link_password_posted_and_throttled(self) -> None:
        need_exiftool()
        data = Path(self.settings.data_dir)
        faces_user(data, "add", "olive", "--role", "owner", password=PASSWORDS["olive"])
        owner = await self.log_in("olive")
        photo = await self.upload_as(OBAMA[0], owner)
        password = "grandma-2026"
        made = json.loads((await self.call("POST", "/api/shares", owner, {
            "photos": [photo["id"]], "password": password, "downloads": True,
            "boxes": True})).body)
        assert made["password"] and made["downloads"] and made["boxes"]
        link = made["url"].split(str(self.get_http_port()), 1)[1]

        async def ask(secret: str) -> HTTPResponse:
            form = await self.call("GET", link)
            assert form.code == 200 and b'type="password"' in form.body
            assert "faces_share" not in str(form.headers.get_list("Set-Cookie"))
            xsrf = html.unescape(re.search(r'name="_xsrf" value="([^"]+)"',
                                           form.body.decode())[1])
            pair, _ = cookie_of(form, "_xsrf")
            return await self.call("POST", link, pair, f"_xsrf={xsrf}&password={secret}".encode(),
                                   {"Content-Type": "application/x-www-form-urlencoded"})

        # Never by GET: a password in the query opens nothing.
        query = await self.call("GET", f"{link}?password={password}")
        assert "faces_share" not in str(query.headers.get_list("Set-Cookie"))
        opened = await ask(password)
        assert opened.code == 303
        guest, _ = cookie_of(opened, "faces_share")
        [shared] = json.loads((await self.call("GET", "/api/shared", guest)).body)["photos"]
        assert shared["faces"] and all(set(face) == {"box"} for face in shared["faces"])
        for url in (photo["urls"]["thumbnail"], photo["urls"]["annotated"]):  # boxes allowed
            assert shared["urls"]["thumbnail"] == photo["urls"]["thumbnail"]
            assert (await self.call("GET", url, guest)).code == 200
        download = await self.call("GET", f"/api/shared/photos/{photo['id']}/download", guest)
        assert download.code == 200 and "attachment" in download.headers["Content-Disposition"]
        copy = data.parent / "download.jpg"
        copy.write_bytes(download.body)
        read = exiftool("-a", "-G1", str(copy))[0]
        assert not [tag for tag in read if tag.startswith(("GPS", "EXIF", "XMP", "IFD0"))], read
        # Wrong passwords: refused alike; past five, the link and the address wait
        # (the limiter's growing lock-out), even with the right one.
        codes = [(await ask("wrong-guess")).code for _ in range(6)]
        assert codes == [401] * 6, codes
        locked = await ask(password)
        assert locked.code == 429 and int(locked.headers["Retry-After"]) >= 1
        counted = self.web.metrics.exposition().decode()
        for outcome, times in (("opened", 1), ("wrong_password", 6), ("throttled", 1)):
            assert f'faces_share_link_opens_total{{outcome="{outcome}"}} {times}.0' in counted
        assert self.secrets_in_clear([password, link.rsplit("/", 1)[1]]) == []


class TestAGalleryMadeBefore(FacesTestCase):
    """A gallery from before accounts (catalogue schema 3, behind its token)
    starts on this version and works with its token as it did."""

    overrides = {"token": TOKEN, **CHEAP}

    def get_app(self):
        _require(PEOPLE, "people photos")
        v3_gallery(self.settings.data_dir)
        return super().get_app()

    @gen_test(timeout=60)
    async def test_its_token_as_before(self) -> None:
        listed = json.loads((await self.fetch_json("/api/photos")).body)["photos"]
        assert listed and (await self.fetch_json("/")).code == 200  # viewing: open, as before
        body, kind = multipart([("file", "t.jpg", photo_bytes("t1.jpg"))])
        headers = {"Content-Type": kind}
        anonymous = await self.http_client.fetch(self.get_url("/api/photos"), method="POST",
                                                 body=body, headers=headers, raise_error=False)
        assert anonymous.code == 401
        added = await self.http_client.fetch(
            self.get_url("/api/photos"), method="POST", body=body, raise_error=False,
            headers={**headers, "Authorization": f"Bearer {TOKEN}"})
        assert added.code == 201
        who = json.loads((await self.fetch_json("/api/session")).body)
        assert who == {"user": None, "role": "viewer", "via": "anonymous", "accounts": False}
        gone = await self.http_client.fetch(
            self.get_url(f"/api/photos/{listed[0]['id']}"), method="DELETE", raise_error=False,
            headers={"Authorization": f"Bearer {TOKEN}"})
        assert gone.code == 204

    async def fetch_json(self, path: str) -> HTTPResponse:
        return await self.http_client.fetch(self.get_url(path), raise_error=False,
                                            follow_redirects=False)


def test_sessions_end_when_idle_or_old_and_hashes_follow_the_cost(tmp_path: Path) -> None:
    """The idle and absolute timeouts, on the catalogue with a clock the test
    moves; a password hashed at another cost is hashed again at login."""
    from faces.library.accounts import Accounts, Passwords
    from faces.library.catalogue import Catalogue

    now = [1_000_000.0]
    catalogue = Catalogue(tmp_path)
    try:
        accounts = Accounts(catalogue, Passwords(1, 8), session_idle=3600.0,
                            session_max=86400.0, clock=lambda: now[0])
        user = accounts.add_user_now("olive", "owner", accounts.hash_password("olive-owner-pw"))
        token, session = accounts.start_session_now(user, "127.0.0.1", "test")
        assert accounts.by_session(token)[0].user.name == "olive"
        now[0] += 3599
        assert accounts.by_session(token) is not None
        now[0] += 2  # over an hour unused
        assert accounts.by_session(token) is None
        catalogue.seen(session, now[0])  # used now: lasts again, until a day from its start
        assert accounts.by_session(token) is not None
        now[0] = 1_000_000.0 + 86400 + 1
        catalogue.seen(session, now[0])
        assert accounts.by_session(token) is None  # a day old: over, used or not
        accounts.start_session_now(user, "127.0.0.1", "test")  # (timed-out rows go)
        assert catalogue.session_by_id(session) is None
        stronger = Accounts(catalogue, Passwords(2, 16), clock=lambda: now[0])
        found = asyncio.run(stronger.log_in("olive", "olive-owner-pw", "127.0.0.1", "test"))
        assert found is not None
        assert "m=16,t=2" in catalogue.user(user.id).password
        assert asyncio.run(stronger.log_in("olive", "wrong-password", "127.0.0.1", "")) is None
    finally:
        catalogue.close()


class TestBehindAProxy(AccountsCase):
    """Behind a trusted reverse proxy that speaks HTTPS: the session cookie is
    Secure, links are made with https:// and the public name."""

    overrides = {**AccountsCase.overrides, "trusted_proxies": "127.0.0.1",
                 "allowed_hosts": "photos.example.com"}

    @gen_test(timeout=60)
    async def test_secure_cookies_and_https_links(self) -> None:
        faces_user(Path(self.settings.data_dir), "add", "olive", "--role", "owner",
                   password=PASSWORDS["olive"])
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7",
                   "Host": "photos.example.com"}
        answer = await self.call("POST", "/api/session", body={
            "name": "olive", "password": PASSWORDS["olive"]}, headers=proxied)
        assert answer.code == 201
        session, header = cookie_of(answer, "faces_session")
        assert "Secure" in header and "HttpOnly" in header and "SameSite=Strict" in header
        photo = await self.upload_as(OBAMA[0], session)
        made = json.loads((await self.call("POST", "/api/shares", session,
                                           {"photos": [photo["id"]]}, proxied)).body)
        assert made["url"].startswith("https://photos.example.com/s/")
        sessions = json.loads((await self.call("GET", "/api/sessions", session,
                                               headers=proxied)).body)["sessions"]
        assert sessions[0]["address"] == "198.51.100.7"  # the client's, not the proxy's
        opened = await self.call("GET", "/s/" + made["url"].rsplit("/", 1)[1], headers=proxied)
        assert "Secure" in cookie_of(opened, "faces_share")[1]

"""Share links: the owner's API (``/api/shares``: make, list, revoke), the
link itself (``/s/<token>``: its password asked by POST, then exchanged for
a cookie so the token leaves the address bar), and what its holder sees
(``/shared`` and ``/api/shared``): the set's display copies, no metadata,
no names or boxes unless allowed, live; everything stops when the link is
revoked or expires (every request, file and live connection is checked
again: :mod:`faces.library.accounts`)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..library.accounts import NewShare
from ..library.catalogue_accounts import Share
from . import access, forms
from .base import ApiOriginCheck, BaseHandler
from .errors import ApiError, too_many
from .forms import MAX_SHARE_PHOTOS
from .views import UPLOADS, when

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger(__name__)

GONE = "This link does not work: it was revoked, it has expired, or it was never made."


def share_json(share: Share, services: Services) -> dict[str, Any]:
    person = None
    if share.person is not None:
        try:
            found = services.people.person(share.person)
            person = {"id": found.id, "name": found.name}
        except NotFound:
            person = None
    return {"id": share.id, "kind": share.kind, "label": share.label, "person": person,
            "created": when(share.created), "expires": when(share.expires),
            "expired": not services.accounts.works(share),
            "password": share.password is not None, "downloads": share.downloads,
            "names": share.names, "boxes": share.boxes, "views": share.views,
            "last_used": when(share.used),
            "photos": services.catalogue.shared_count(share, MAX_SHARE_PHOTOS)}


def existing(new: NewShare, services: Services) -> NewShare:
    """A link's request whose person or photos are there (404 otherwise)."""
    if new.person is not None:
        services.people.person(new.person)
    for photo in new.photos:
        services.gallery.photo(photo)
    return new


def link_url(handler: BaseHandler, token: str) -> str:
    return f"{handler.request.protocol}://{handler.request.host}/s/{token}"


class SharesBase(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        self.only_allowed_methods()
        self.require("share")


class SharesApiHandler(SharesBase):
    """GET: every link, with its views and last use. POST: a new link of a
    person or of chosen photos; its ``url`` is shown this once."""

    def get(self) -> None:
        self.write_json({"shares": [share_json(share, self.services)
                                    for share in self.services.catalogue.shares()]})

    async def post(self) -> None:
        new = existing(forms.new_share(forms.json_body(self.request.body)), self.services)
        token, share = await self.accounts.add_share(self.who(), new)
        self.set_header("Location", f"/api/shares/{share.id}")
        self.write_json({**share_json(share, self.services), "url": link_url(self, token)}, 201)


class ShareApiHandler(SharesBase):
    def get(self, share_id: str) -> None:
        share = self.services.catalogue.share(int(share_id))
        if share is None:
            raise NotFound("not_found", "There is no such link.")
        self.write_json(share_json(share, self.services))

    async def delete(self, share_id: str) -> None:
        """The link stops working at once: page, files, API, live updates."""
        await self.accounts.revoke_share(int(share_id))
        self.set_status(204)
        self.finish()


class LinkHandler(BaseHandler):
    """``/s/<token>``: the link someone was sent. Without a password it is
    exchanged for a cookie at once; with one, the password is asked (sent
    by POST only, throttled per link and per address)."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")

    def share(self, token: str) -> Share:
        share = self.accounts.link(token)
        if share is None:
            self.web.metrics.link_opens.labels("gone").inc()
            raise ApiError(404, "link_gone", GONE)
        return share

    async def get(self, token: str) -> None:
        share = self.share(token)
        if share.password is not None:
            self.render("link.html", error=None)
            return
        await self.exchange(token, share)

    async def post(self, token: str) -> None:
        share = self.share(token)
        keys = [f"link:{share.id}", f"link:{access.client_key(self.request.remote_ip)}"]
        wait = self.web.throttle.wait_for_all(keys)
        opens = self.web.metrics.link_opens
        if wait > 0:
            opens.labels("throttled").inc()
            raise too_many("too_many_failures", "Too many wrong passwords", wait)
        if not await self.accounts.link_password_ok(share, self.get_body_argument("password",
                                                                                  "")):
            opens.labels("wrong_password").inc()
            self.web.throttle.failed_all(keys)
            log.warning("wrong password for share link %d from %s", share.id,
                        self.request.remote_ip)
            self.set_status(401)
            self.render("link.html", error="That password is not right.")
            return
        await self.exchange(token, share)

    async def exchange(self, token: str, share: Share) -> None:
        self.set_cookie(access.SHARE_COOKIE, token, httponly=True, samesite="Lax",
                        secure=self.request.protocol == "https",
                        expires=datetime.fromtimestamp(share.expires, timezone.utc))
        await self.services.catalogue.write(self.services.catalogue.share_used, share.id,
                                            self.accounts.clock(), True)
        self.web.metrics.link_opens.labels("opened").inc()
        self.redirect("/shared", status=303)


def shared_photo_json(photo: Any, share: Share, names: dict[str, str | None]) -> dict:
    """A shared photo as its link's holder sees it: its display copy and
    thumbnail; boxes and names only when the link allows them; never its
    file name, date, camera, place or paths."""
    # (the gallery's thumbnails and annotated copies have the boxes drawn in)
    urls = {"display": UPLOADS + photo.display,
            "thumbnail": UPLOADS + (photo.thumbnail if share.boxes else photo.display)}
    if share.boxes:
        urls["annotated"] = UPLOADS + photo.annotated
    if share.downloads:
        urls["download"] = f"/api/shared/photos/{photo.id}/download"
    faces = []
    if share.boxes or share.names:
        for face in photo.faces:
            shown: dict[str, Any] = {}
            if share.boxes:
                shown["box"] = face["box"]
            if share.names and face.get("person"):
                shown["name"] = names.get(face["person"])
            faces.append(shown)
    return {"id": photo.id, "width": photo.width, "height": photo.height, "urls": urls,
            "faces": faces}


class SharedBase(BaseHandler):
    def prepare(self) -> None:
        self.only_allowed_methods()
        if self.who().share is None:
            raise ApiError(404, "not_found", "Open the link you were sent to see what it "
                           "shares.")
        self.require("shared")

    def listing(self) -> dict[str, Any]:
        share = self.who().share
        services = self.services
        ids = services.catalogue.shared_photos(share, MAX_SHARE_PHOTOS)
        photos = [services.gallery.photo(photo) for photo in ids]
        names: dict[str, str | None] = {}
        if share.names:
            for photo in photos:
                for face in photo.faces:
                    if face.get("person") and face["person"] not in names:
                        try:
                            names[face["person"]] = services.people.person(face["person"]).name
                        except NotFound:
                            names[face["person"]] = None
        self.accounts.used(share.used, services.catalogue.share_used, share.id)
        return {"label": share.label, "expires": when(share.expires),
                "downloads": share.downloads,
                "photos": [shared_photo_json(photo, share, names) for photo in photos]}


class SharedPageHandler(SharedBase):
    """``/shared``: the link's photos, a page of their own."""

    def get(self) -> None:
        self.render("shared.html", shared=self.listing())


class SharedApiHandler(ApiOriginCheck, SharedBase):
    def get(self) -> None:
        self.write_json(self.listing())


class SharedDownloadHandler(ApiOriginCheck, SharedBase):
    """A shared photo's display copy as a download, when the link allows
    downloads (the copy carries no metadata: no EXIF, no GPS)."""

    async def get(self, photo_id: str) -> None:
        self.require("shared_download", [photo_id])
        photo = self.services.gallery.photo(photo_id)
        data = (self.services.files.photos_dir / photo.display).read_bytes()
        kind = "png" if photo.display.endswith(".png") else "jpeg"
        self.set_header("Content-Type", f"image/{kind}")
        self.set_header("Content-Disposition", f'attachment; filename="{photo.display}"')
        self.set_header("Cache-Control", "private, no-store")
        self.finish(data)


ROUTES = [
    (r"/api/shares", SharesApiHandler),
    (r"/api/shares/([0-9]{1,18})", ShareApiHandler),
    (r"/s/([A-Za-z0-9_-]{20,100})", LinkHandler),
    (r"/shared", SharedPageHandler),
    (r"/api/shared", SharedApiHandler),
    (r"/api/shared/photos/([^/]+)/download", SharedDownloadHandler),
]

"""Photos: the gallery page, the no-JavaScript upload form, and the photos
API (list, upload, one photo, delete, detect without storing)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import BadRequest, NotFound
from ..library.records import PAGE_SIZE, Photo
from ..vision.probe import ACCEPT
from . import forms
from .base import ApiOriginCheck, BaseHandler, UploadHandlerBase
from .views import CROPS, photo_json, photo_urls, root_json

FACES_PAGE = 60  # faces a person's page shows before "more faces"


def next_page(photos: list[Photo], limit: int, people: list[str], order: str = "taken",
              since: str | None = None, until: str | None = None,
              folder: tuple[int, str] | None = None) -> str | None:
    """The URL of the page after a full one."""
    if len(photos) < limit:
        return None
    return f"/api/photos?before={photos[-1].id}&limit={limit}" + \
        "".join(f"&person={person}" for person in people) + \
        (f"&order={order}" if order != "taken" else "") + \
        (f"&from={since}" if since else "") + (f"&to={until}" if until else "") + \
        (f"&folder={folder_arg(folder)}" if folder else "")


def folder_arg(folder: tuple[int, str]) -> str:
    return quote(f"{folder[0]}/{folder[1]}", safe="/")


def folder_name(roots: list, folder: tuple[int, str] | None) -> str | None:
    """"/photos/2019" for the folder shown (None: the whole gallery)."""
    if folder is None:
        return None
    for status in roots:
        if status.root.id == folder[0]:
            return status.root.path.rstrip("/") + (f"/{folder[1]}" if folder[1] else "")
    return None


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def month_name(month: str) -> str:
    """"March 2019" from "2019-03" (the timeline's headings; the page's
    script writes the same)."""
    return f"{MONTHS[int(month[5:7]) - 1]} {month[:4]}" if len(month) == 7 else month


class GalleryHandler(BaseHandler):
    """``/``: the newest photos (of one person with ``?person=``), older ones
    with ``?before=``, and the upload form."""

    def get(self) -> None:
        if self.login_first():
            return
        self.require("view")
        services = self.services
        before = forms.photo_id(self.get_argument("before", None))
        people = []
        try:
            people = [services.people.person(who) for who in
                      forms.person_ids(self.get_arguments("person"))]
        except NotFound:
            people = []  # an unknown person: the whole gallery
        who = [person.id for person in people]
        try:
            until = forms.date_prefix(self.get_argument("to", None), "to")
        except BadRequest:
            until = None  # (a link typed wrong: from the newest)
        try:
            folder = forms.folder(self.get_argument("folder", None))
        except BadRequest:
            folder = None  # (a link typed wrong: the whole gallery)
        roots = services.folders.list()
        if folder is not None and not any(s.root.id == folder[0] for s in roots):
            folder = None
        try:
            page = services.gallery.page(PAGE_SIZE, before, who, until=until, folder=folder)
        except NotFound:  # an unknown 'before': from the newest
            page = services.gallery.page(PAGE_SIZE, None, who, until=until, folder=folder)
        notice = None
        uploaded = forms.photo_id(self.get_argument("uploaded", None))
        if uploaded:
            try:
                photo = services.gallery.photo(uploaded)
                count = len(photo.faces)
                faces = f"{count} face{'' if count == 1 else 's'}"
                notice = f"Uploaded {photo.filename}: {faces} found."
            except NotFound:
                pass
        faces = services.people.faces(who[0], FACES_PAGE) if len(who) == 1 else []
        named = [p for p in services.people.named() if p.id not in who] if who else []
        self.render("index.html", photos=page.photos, notice=notice,
                    total=services.gallery.count(who), page_size=PAGE_SIZE, more=page.more,
                    people=people, urls=photo_urls, accept=ACCEPT, faces=faces,
                    faces_page=FACES_PAGE, named=named, crops=CROPS,
                    years=services.gallery.years() if not who else [], until=until,
                    months=services.gallery.months(until[:4]) if until and not who else [],
                    month_name=month_name, roots=[root_json(s) for s in roots],
                    folder=folder, folder_name=folder_name(roots, folder),
                    folder_arg=folder_arg)


class UploadFormHandler(UploadHandlerBase):
    """The no-JavaScript form: upload, then redirect back to the gallery."""

    async def post(self) -> None:
        photo, _ = await self.add()
        self.redirect(f"/?uploaded={photo.id}", status=303)


class PhotosApiHandler(ApiOriginCheck, UploadHandlerBase):
    async def post(self) -> None:
        photo, created = await self.add()
        if created:
            self.set_header("Location", f"/api/photos/{photo.id}")
        self.write_json(photo_json(photo), 201 if created else 200)

    def get(self) -> None:
        limit = forms.page_limit(self.get_argument("limit", None))
        before = self.get_argument("before", None)
        people = forms.person_ids(self.get_arguments("person"))
        order = forms.order(self.get_argument("order", None))
        since = forms.date_prefix(self.get_argument("from", None), "from")
        until = forms.date_prefix(self.get_argument("to", None), "to")
        folder = forms.folder(self.get_argument("folder", None))
        for person in people:
            self.services.people.person(person)  # 404 for nobody
        page = self.services.gallery.page(limit, before, people, order, since, until, folder)
        self.write_json({"photos": [photo_json(p) for p in page.photos],
                         "next": next_page(page.photos, limit, people, order, since, until,
                                           folder)})


class PhotoApiHandler(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        self.require({"DELETE": "delete", "PATCH": "edit"}.get(self.request.method, "view"))

    def get(self, photo_id: str) -> None:
        self.write_json(photo_json(self.services.gallery.photo(photo_id)))

    async def patch(self, photo_id: str) -> None:
        """Correct the date taken: ``{"taken": "2019-03-14T15:09:26+01:00"}``."""
        taken = forms.taken(forms.json_body(self.request.body))
        self.write_json(photo_json(await self.services.gallery.set_taken(photo_id, taken)))

    async def delete(self, photo_id: str) -> None:
        await self.services.gallery.delete(photo_id)
        self.set_status(204)
        self.finish()


class PhotoFacesApiHandler(ApiOriginCheck, BaseHandler):
    """A face the detector missed, drawn by the user."""

    def prepare(self) -> None:
        self.require("edit")

    async def post(self, photo_id: str) -> None:
        box = forms.box(forms.json_body(self.request.body))
        photo = await self.services.gallery.add_face(photo_id, box)
        self.write_json(photo_json(photo), 201)


class PhotoOriginalHandler(ApiOriginCheck, BaseHandler):
    """The photo as it was uploaded, byte for byte: a download (never shown
    inline, never sniffed, sandboxed), under its own name and media type."""

    def prepare(self) -> None:
        self.require("download")

    async def get(self, photo_id: str) -> None:
        photo = self.services.gallery.photo(photo_id)
        data = await self.services.gallery.original(photo)
        self.set_header("Content-Type", MEDIA_TYPES.get(photo.original_suffix.lower(),
                                                        "application/octet-stream"))
        self.set_header("Content-Disposition", attachment(photo.export_name()))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox; default-src 'none'")
        self.set_header("Cache-Control", "private, max-age=31536000, immutable")
        self.finish(data)


MEDIA_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".jpe": "image/jpeg",
               ".png": "image/png", ".webp": "image/webp", ".heic": "image/heic",
               ".heif": "image/heif", ".avif": "image/avif", ".bmp": "image/bmp",
               ".tif": "image/tiff", ".tiff": "image/tiff", ".gif": "image/gif"}


class PhotoXmpHandler(ApiOriginCheck, BaseHandler):
    """The photo's face names as an XMP sidecar, for other tools."""

    def prepare(self) -> None:
        self.require("download")

    def get(self, photo_id: str) -> None:
        name, body = self.services.gallery.xmp(photo_id)
        self.set_header("Content-Type", "application/rdf+xml")
        self.set_header("Content-Disposition", attachment(name))
        self.finish(body)


def attachment(name: str) -> str:
    """A Content-Disposition that saves as ``name`` (any characters)."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                    for c in name)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


class DetectApiHandler(ApiOriginCheck, UploadHandlerBase):
    """Detect only: nothing is stored or broadcast."""

    async def post(self) -> None:
        annotate = forms.flag(self.get_query_argument("annotate", None), "annotate")
        data, _, options = self.upload()
        result: dict[str, Any] = await self.services.gallery.detect(data, options, annotate)
        self.outcome = "detected"
        if annotate:
            kind = "png" if result["extension"] == ".png" else "jpeg"
            self.set_header("Content-Type", f"image/{kind}")
            self.set_header("X-Faces-Count", str(len(result["faces"])))
            self.finish(result["image"])
        else:
            self.write_json(result)


ROUTES = [
    (r"/", GalleryHandler),
    (r"/upload", UploadFormHandler),
    (r"/api/photos", PhotosApiHandler),
    (r"/api/photos/([^/]+)", PhotoApiHandler),
    (r"/api/photos/([^/]+)/faces", PhotoFacesApiHandler),
    (r"/api/photos/([^/]+)/xmp", PhotoXmpHandler),
    (r"/api/photos/([^/]+)/original", PhotoOriginalHandler),
    (r"/api/detect", DetectApiHandler),
]

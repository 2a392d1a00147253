"""Photos: the gallery page, the no-JavaScript upload form, and the photos
API (list, upload, one photo, delete, detect without storing)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..errors import NotFound
from ..library.records import PAGE_SIZE, Photo
from ..vision.probe import ACCEPT
from . import forms
from .base import ApiOriginCheck, BaseHandler, UploadHandlerBase
from .views import CROPS, photo_json, photo_urls

FACES_PAGE = 60  # faces a person's page shows before "more faces"


def next_page(photos: list[Photo], limit: int, people: list[str]) -> str | None:
    """The URL of the page after a full one."""
    if len(photos) < limit:
        return None
    return f"/api/photos?before={photos[-1].id}&limit={limit}" + \
        "".join(f"&person={person}" for person in people)


class GalleryHandler(BaseHandler):
    """``/``: the newest photos (of one person with ``?person=``), older ones
    with ``?before=``, and the upload form."""

    def get(self) -> None:
        if not self.can_view():
            self.redirect("/login")
            return
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
            page = services.gallery.page(PAGE_SIZE, before, who)
        except NotFound:  # an unknown 'before': from the newest
            page = services.gallery.page(PAGE_SIZE, None, who)
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
                    faces_page=FACES_PAGE, named=named, crops=CROPS)


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
        for person in people:
            self.services.people.person(person)  # 404 for nobody
        page = self.services.gallery.page(limit, before, people)
        self.write_json({"photos": [photo_json(p) for p in page.photos],
                         "next": next_page(page.photos, limit, people)})


class PhotoApiHandler(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        if self.request.method == "DELETE":
            self.require_write()
        else:
            self.require_view()

    def get(self, photo_id: str) -> None:
        self.write_json(photo_json(self.services.gallery.photo(photo_id)))

    async def delete(self, photo_id: str) -> None:
        await self.services.gallery.delete(photo_id)
        self.set_status(204)
        self.finish()


class PhotoFacesApiHandler(ApiOriginCheck, BaseHandler):
    """A face the detector missed, drawn by the user."""

    def prepare(self) -> None:
        self.require_write()

    async def post(self, photo_id: str) -> None:
        box = forms.box(forms.json_body(self.request.body))
        photo = await self.services.gallery.add_face(photo_id, box)
        self.write_json(photo_json(photo), 201)


class PhotoXmpHandler(ApiOriginCheck, BaseHandler):
    """The photo's face names as an XMP sidecar, for other tools."""

    def prepare(self) -> None:
        self.require_view()

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
    (r"/api/detect", DetectApiHandler),
]

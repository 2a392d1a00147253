"""Photos: the gallery page, the no-JavaScript upload form, and the photos
API (list, upload, one photo, delete, detect without storing)."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..library.records import PAGE_SIZE, Photo
from ..vision.probe import ACCEPT
from . import forms
from .base import ApiOriginCheck, BaseHandler, UploadHandlerBase
from .views import photo_json, photo_urls


def next_page(photos: list[Photo], limit: int, person: str | None) -> str | None:
    """The URL of the page after a full one."""
    if len(photos) < limit:
        return None
    return f"/api/photos?before={photos[-1].id}&limit={limit}" + \
        (f"&person={person}" if person else "")


class GalleryHandler(BaseHandler):
    """``/``: the newest photos (of one person with ``?person=``), older ones
    with ``?before=``, and the upload form."""

    def get(self) -> None:
        if not self.can_view():
            self.redirect("/login")
            return
        services = self.services
        before = forms.photo_id(self.get_argument("before", None))
        person = None
        if self.get_argument("person", ""):
            try:
                person = services.people.person(self.get_argument("person"))
            except NotFound:
                person = None  # an unknown person: the whole gallery
        who = person.id if person else None
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
        self.render("index.html", photos=page.photos, notice=notice,
                    total=services.gallery.count(who), page_size=PAGE_SIZE, more=page.more,
                    person=person, urls=photo_urls, accept=ACCEPT)


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
        person = self.get_argument("person", None)
        if person is not None:
            self.services.people.person(person)  # 404 for nobody
        page = self.services.gallery.page(limit, before, person)
        self.write_json({"photos": [photo_json(p) for p in page.photos],
                         "next": next_page(page.photos, limit, person)})


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
    (r"/api/detect", DetectApiHandler),
]

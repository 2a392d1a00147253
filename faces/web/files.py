"""Files served as they are: the page's own assets (``static/``), the
stored photos (``/uploads/``) and the faces' crops (``/crops/``)."""

from __future__ import annotations

from typing import Any

from tornado.web import HTTPError, StaticFileHandler

from ..library.files import ORIGINAL_MARK, Files
from .base import AccessMixin, SecurityHeaders
from .views import CROPS, UPLOADS


class AssetsHandler(SecurityHeaders, StaticFileHandler):
    """static/: the page's own scripts, styles and icon, with our headers."""


class UploadsHandler(SecurityHeaders, AccessMixin, StaticFileHandler):
    """Serves stored photos: only the files we re-encoded, only as JPEG or PNG.
    Their names derive from their content, so they never change and may be
    cached for a year. Every file passes the one check (its photo's id
    begins its name): a share link's holder gets its own photos' display
    copies (thumbnails and annotated copies, which have the boxes drawn in,
    only when boxes are shared; never a crop), and the same 404 for anything
    else as for a file that is not there."""

    kind = "photos"

    def initialize(self, path: str, default_filename: str | None = None,
                   kind: str = "photos") -> None:
        super().initialize(path, default_filename)
        self.kind = kind

    async def get(self, path: str, include_body: bool = True) -> None:
        name = path.rsplit("/", 1)[-1]
        photo_id = name.split(".", 1)[0]
        share = self.who().share
        if share is not None:
            boxed = ".annotated." in name or ".thumb." in name  # (boxes drawn in)
            if self.kind != "photos" or (boxed and not share.boxes):
                raise HTTPError(404)
        self.may_see([photo_id])
        await super().get(path, include_body)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        # Only the copies made from a photo: an uploaded original (whatever
        # its format, with its EXIF and GPS) is downloaded through the API.
        if not absolute_path.endswith((".jpg", ".png")) or ORIGINAL_MARK in absolute_path:
            raise HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return self.CACHE_MAX_AGE

    def set_extra_headers(self, path: str) -> None:
        who = self.who()
        if who.share is not None:  # (a revoked link leaves nothing in shared caches)
            self.set_header("Cache-Control", "private, no-store")
            return
        scope = "public" if who.via in ("open", "anonymous") else "private"
        self.set_header("Cache-Control", f"{scope}, max-age={self.CACHE_MAX_AGE}, immutable")


def routes(files: Files) -> list[tuple]:
    return [
        (rf"{UPLOADS}(.*)", UploadsHandler, {"path": str(files.photos_dir)}),
        (rf"{CROPS}(.*)", UploadsHandler, {"path": str(files.crops_dir), "kind": "crops"}),
    ]

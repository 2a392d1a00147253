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
    cached for a year."""

    def prepare(self) -> None:
        if not self.can_view():
            raise HTTPError(401)

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        # Only the copies made from a photo: an uploaded original (whatever
        # its format, with its EXIF and GPS) is downloaded through the API.
        if not absolute_path.endswith((".jpg", ".png")) or ORIGINAL_MARK in absolute_path:
            raise HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return self.CACHE_MAX_AGE

    def set_extra_headers(self, path: str) -> None:
        scope = "private" if self.config.private else "public"
        self.set_header("Cache-Control", f"{scope}, max-age={self.CACHE_MAX_AGE}, immutable")


def routes(files: Files) -> list[tuple]:
    return [
        (rf"{UPLOADS}(.*)", UploadsHandler, {"path": str(files.photos_dir)}),
        (rf"{CROPS}(.*)", UploadsHandler, {"path": str(files.crops_dir)}),
    ]

"""HTTP and WebSocket handlers. Each request flows one way:
handler (read + validate) -> worker pool -> store -> hub."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from tornado import httputil
from tornado.web import HTTPError, RequestHandler, StaticFileHandler, stream_request_body
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from . import openapi, pipeline
from .decode import check_limits
from .filenames import display_name
from .pool import PoolUnavailable
from .probe import ImageRejected, probe
from .store import ID_PATTERN, Photo, content_id, utc_now

if TYPE_CHECKING:
    from .app import Services

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 1024  # room for multipart headers around the file itself
THRESHOLD_RANGE = (0.05, 0.95)
PAGE_SIZE = 48
MAX_PAGE_SIZE = 200

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class ApiError(HTTPError):
    """An error the user caused, with a stable code and a readable message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(status, reason=HTTPStatus(status).phrase)
        self.code = code
        self.message = message
        self.headers = headers or {}


def rejected(exc: ImageRejected) -> ApiError:
    status = 413 if exc.code == "too_many_pixels" else 415 if exc.code in (
        "unsupported_type", "animated_image") else 422
    return ApiError(status, exc.code, exc.message)


class BaseHandler(RequestHandler):
    @property
    def services(self) -> Services:
        return self.application.settings["services"]

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(payload, separators=(",", ":")))

    def wants_html(self) -> bool:
        return not self.request.path.startswith("/api/")

    def error_parts(self, status_code: int, exc: BaseException | None) -> tuple[str, str]:
        if isinstance(exc, ApiError):
            return exc.code, exc.message
        if status_code >= 500:
            return "internal_error", "Something went wrong on the server; it has been logged."
        reason = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ \
            else "Error"
        return reason.lower().replace(" ", "_"), f"{reason}."

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        code, message = self.error_parts(status_code, exc)
        if isinstance(exc, ApiError):
            for name, value in exc.headers.items():
                self.set_header(name, value)
        if self.wants_html():
            self.render("error.html", status=status_code, message=message)
        else:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(json.dumps({"error": {"code": code, "message": message}}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ApiError):
            log.info("%s %s -> %d %s", self.request.method, self.request.uri,
                     value.status_code, value.code)
        else:
            super().log_exception(typ, value, tb)


@stream_request_body
class UploadHandlerBase(BaseHandler):
    """Reads a multipart upload as it streams in, refusing oversize bodies
    from the headers, before the body is read."""

    def prepare(self) -> None:
        if self.request.method != "POST":
            return
        cap = self.services.settings.max_upload_bytes + MULTIPART_SLACK
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise self.too_large()
        self.request.connection.set_max_body_size(cap)
        self._chunks: list[bytes] = []
        self._received = 0
        self._fields: dict[str, list[bytes]] = {}

    def too_large(self) -> ApiError:
        limit = self.services.settings.max_upload_mb
        return ApiError(413, "file_too_large", f"The upload is larger than the {limit:g} MB limit.")

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._received += len(chunk)

    def uploaded_file(self) -> tuple[bytes, str]:
        """The single ``file`` part of the body and its sanitised display name."""
        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise ApiError(415, "not_multipart",
                           "Send the photo as multipart/form-data in a field named 'file'.")
        body = b"".join(self._chunks)
        self._chunks = []
        arguments: dict = {}
        files: dict = {}
        try:
            httputil.parse_body_arguments(content_type, body, arguments, files)
        except httputil.HTTPInputError:
            raise ApiError(400, "bad_multipart",
                           "The upload is not valid multipart/form-data.") from None
        parts = files.get("file", [])
        if not parts:
            raise ApiError(400, "missing_file", "No file was sent: use a form field named 'file'.")
        if len(parts) > 1:
            raise ApiError(400, "too_many_files", "Send one photo per request.")
        part = parts[0]
        if len(part.body) > self.services.settings.max_upload_bytes:
            raise self.too_large()
        self._fields = arguments
        return part.body, display_name(part.filename)

    def option(self, name: str) -> str | None:
        """An upload option from the query string, else from a form field."""
        value = self.get_query_argument(name, None)
        if value is None and name in self._fields:
            value = self._fields[name][-1].decode("utf-8", "replace")
        return value

    def upload_options(self) -> pipeline.Options:
        options = self.services.options
        mode = self.option("mode") or "box"
        if mode not in pipeline.MODES:
            raise ApiError(400, "bad_mode", "mode must be 'box' or 'blur'.")
        threshold = self.option("threshold")
        score = options.score_threshold
        if threshold:
            low, high = THRESHOLD_RANGE
            try:
                score = float(threshold)
            except ValueError:
                score = -1.0
            if not low <= score <= high:
                raise ApiError(400, "bad_threshold",
                               f"threshold must be a number from {low} to {high}.")
        return dataclasses.replace(options, mode=mode, score_threshold=score)

    async def checked_upload(self) -> tuple[bytes, str, pipeline.Options]:
        """The file, its display name and the options, refused early if bad."""
        data, filename = self.uploaded_file()
        options = self.upload_options()
        try:
            check_limits(probe(data), options.max_pixels)
        except ImageRejected as exc:
            raise rejected(exc) from None
        return data, filename, options

    async def in_pool(self, fn: Any, *args: Any) -> Any:
        try:
            return await self.services.pool.run(fn, *args)
        except ImageRejected as exc:
            raise rejected(exc) from None
        except PoolUnavailable as exc:
            raise ApiError(503, "detector_unavailable",
                           f"{exc}; please try again.", {"Retry-After": "2"}) from None

    async def ingest(self) -> tuple[Photo, bool]:
        """Process the upload; returns the photo and whether it is new."""
        data, filename, options = await self.checked_upload()
        services = self.services
        default = services.options
        variant = "" if (options.mode, options.score_threshold) == (
            default.mode, default.score_threshold) else f"{options.mode}:{options.score_threshold}"
        loop = asyncio.get_running_loop()
        photo_id = await loop.run_in_executor(None, content_id, data, variant)
        existing = services.store.get(photo_id)
        if existing is not None:
            return existing, False
        rendered = await self.in_pool(pipeline.render, data, options)
        names = services.store.file_names(photo_id, rendered.extension)
        photo = Photo(id=photo_id, filename=filename, created=utc_now(), width=rendered.width,
                      height=rendered.height, faces=rendered.faces, **names)
        await loop.run_in_executor(None, services.store.write_files, {
            names[kind]: getattr(rendered, kind) for kind in names}, photo)
        if not services.store.add(photo):  # the same bytes finished first elsewhere
            return services.store.get(photo_id), False
        services.hub.broadcast({"type": "photo.added", "photo": photo.to_json()})
        log.info("stored %s (%s): %d faces", photo_id, filename, len(photo.faces))
        return photo, True


class PhotosApiHandler(UploadHandlerBase):
    async def post(self) -> None:
        photo, created = await self.ingest()
        if created:
            self.set_header("Location", f"/api/photos/{photo.id}")
        self.write_json(photo.to_json(), 201 if created else 200)

    def get(self) -> None:
        before = self.get_argument("before", None)
        try:
            limit = int(self.get_argument("limit", str(PAGE_SIZE)))
        except ValueError:
            raise ApiError(400, "bad_limit", "limit must be a whole number.") from None
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ApiError(400, "bad_limit", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
        try:
            photos = self.services.store.newest(limit, before)
        except KeyError:
            raise ApiError(404, "unknown_photo", "No photo has the id given in 'before'.") from None
        following = None
        if len(photos) == limit:
            following = f"/api/photos?before={photos[-1].id}&limit={limit}"
        self.write_json({"photos": [p.to_json() for p in photos], "next": following})


class PhotoApiHandler(BaseHandler):
    def find(self, photo_id: str) -> Photo:
        photo = self.services.store.get(photo_id) if ID_PATTERN.match(photo_id) else None
        if photo is None:
            raise ApiError(404, "unknown_photo", "There is no photo with that id.")
        return photo

    def get(self, photo_id: str) -> None:
        self.write_json(self.find(photo_id).to_json())

    async def delete(self, photo_id: str) -> None:
        services = self.services
        photo = self.find(photo_id)
        services.store.delete(photo.id)
        await asyncio.get_running_loop().run_in_executor(None, services.store.remove_files, photo)
        services.hub.broadcast({"type": "photo.deleted", "id": photo.id})
        log.info("deleted %s (%s)", photo.id, photo.filename)
        self.set_status(204)
        self.finish()


class DetectApiHandler(UploadHandlerBase):
    """Detect only: nothing is stored or broadcast."""

    async def post(self) -> None:
        data, _, options = await self.checked_upload()
        annotate = self.get_query_argument("annotate", "0") in ("1", "true", "yes")
        result = await self.in_pool(pipeline.detect_only, data, options, annotate)
        if annotate:
            kind = "png" if result["extension"] == ".png" else "jpeg"
            self.set_header("Content-Type", f"image/{kind}")
            self.set_header("X-Faces-Count", str(len(result["faces"])))
            self.finish(result["image"])
        else:
            self.write_json(result)


class OpenApiHandler(BaseHandler):
    def get(self) -> None:
        self.write_json(openapi.document())


class UploadFormHandler(UploadHandlerBase):
    """The no-JavaScript form: upload, then redirect back to the gallery."""

    async def post(self) -> None:
        photo, _ = await self.ingest()
        self.redirect(f"/?uploaded={photo.id}", status=303)


class GalleryHandler(BaseHandler):
    def get(self) -> None:
        store = self.services.store
        before = self.get_argument("before", None)
        try:
            photos = store.newest(PAGE_SIZE, before if before and ID_PATTERN.match(before)
                                  else None)
        except KeyError:
            photos = store.newest(PAGE_SIZE)
        uploaded = self.get_argument("uploaded", "")
        notice = None
        if ID_PATTERN.match(uploaded):
            photo = store.get(uploaded)
            if photo is not None:
                count = len(photo.faces)
                faces = f"{count} face{'' if count == 1 else 's'}"
                notice = f"Uploaded {photo.filename}: {faces} found."
        self.render("index.html", photos=photos, notice=notice, total=store.count(),
                    page_size=PAGE_SIZE, more=len(photos) == PAGE_SIZE)


class HealthHandler(BaseHandler):
    def get(self) -> None:
        services = self.services
        if not services.pool.ready:
            self.write_json({"status": "starting"}, 503)
            return
        self.write_json({"status": "ok", "model": services.settings.model.name,
                         "workers": services.pool.workers})


class UploadsHandler(StaticFileHandler):
    """Serves stored photos. Their names derive from their content, so they
    never change and may be cached for a year."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return self.CACHE_MAX_AGE

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", f"public, max-age={self.CACHE_MAX_AGE}, immutable")


class GalleryWebSocket(WebSocketHandler):
    """Pushes ``photo.added`` events. ``/ws?after=<id>`` first replays every
    photo newer than ``<id>``, oldest first."""

    @property
    def services(self) -> Services:
        return self.application.settings["services"]

    def open(self) -> None:
        after = self.get_argument("after", None)  # "" replays everything
        hub = self.services.hub
        if after is not None:
            try:
                backlog = self.services.store.since(after or None) \
                    if after == "" or ID_PATTERN.match(after) else None
            except KeyError:
                backlog = None
            if backlog is None:  # unknown id: the client should reload its list
                self.send(json.dumps({"type": "resync"}))
            else:
                for photo in backlog:
                    self.send(json.dumps({"type": "photo.added", "photo": photo.to_json()},
                                         separators=(",", ":")))
        hub.join(self)  # same IOLoop turn as the backlog: nothing is missed or repeated

    def send(self, text: str) -> None:
        try:
            self.write_message(text)
        except WebSocketClosedError:
            self.services.hub.leave(self)

    def on_message(self, message: str | bytes) -> None:
        pass  # the protocol is server-to-client only

    def on_close(self) -> None:
        self.services.hub.leave(self)

"""HTTP and WebSocket handlers: HTTP in, a call to the gallery
(:mod:`faces.gallery`), HTTP out. They read and stream requests, enforce
the limits known from the headers, and map the gallery's errors to
statuses; the use cases themselves live in the gallery."""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Awaitable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

from tornado import httputil
from tornado.iostream import StreamBufferFullError
from tornado.web import HTTPError, RequestHandler, StaticFileHandler, stream_request_body
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from . import access, logs, metrics, openapi
from .backends import BackendBusy, BackendUnavailable, JobTimeout
from .filenames import display_name
from .gallery import StorageFull
from .options import ID_PATTERN, MAX_PAGE_SIZE, PAGE_SIZE, OptionError, Options, Refused
from .people import NotFound
from .probe import ImageRejected
from .store import Photo

if TYPE_CHECKING:
    from .app import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

MULTIPART_SLACK = 64 * 1024  # room for multipart headers around the file itself
WS_MAX_BUFFER = 4 * 1024 * 1024  # bytes queued for one WebSocket client before it is dropped

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


REJECTION_STATUS = {"too_many_pixels": 413, "unsupported_type": 415, "animated_image": 415,
                    "empty_file": 400}
ANNOTATE_FLAGS = {"0": False, "1": True}
GALLERY_ERRORS = (ImageRejected, OptionError, BackendUnavailable, StorageFull)


def translated(exc: Exception) -> ApiError:
    """The HTTP answer to one of the gallery's errors (GALLERY_ERRORS)."""
    if isinstance(exc, ImageRejected):
        return ApiError(REJECTION_STATUS.get(exc.code, 422), exc.code, exc.message)
    if isinstance(exc, OptionError):
        return ApiError(400, exc.code, exc.message)
    if isinstance(exc, StorageFull):
        return ApiError(507, "insufficient_storage", str(exc))
    if isinstance(exc, BackendBusy):
        return ApiError(503, "busy", "The server is busy with other photos; try again in a "
                        "few seconds.", {"Retry-After": "5"})
    if isinstance(exc, JobTimeout):
        return ApiError(503, "detector_timeout", f"{exc}; the detector was restarted.",
                        {"Retry-After": "2"})
    if isinstance(exc, BackendUnavailable):
        return ApiError(503, "detector_unavailable", f"{exc}; please try again.",
                        {"Retry-After": "2"})
    raise TypeError(f"not a gallery error: {exc!r}")


async def answered(call: Awaitable[T]) -> T:
    """Await a gallery call, its errors turned into their HTTP answers."""
    try:
        return await call
    except GALLERY_ERRORS as exc:
        raise translated(exc) from None


def too_many_failures(wait: float) -> ApiError:
    seconds = math.ceil(wait)
    return ApiError(429, "too_many_failures", f"Too many wrong tokens from your address; "
                    f"try again in {seconds} s.", {"Retry-After": str(seconds)})


def unauthorised(why: str) -> ApiError:
    return ApiError(401, "unauthorised", f"{why}: log in at /login, or send the header "
                    "'Authorization: Bearer <token>'.",
                    {"WWW-Authenticate": 'Bearer realm="faces"'})


class SecurityHeaders:
    """Our security headers and the request id on every answer, whatever the
    handler kind."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        if self.request.protocol == "https":  # TLS here, or a trusted proxy's https
            self.set_header("Strict-Transport-Security", "max-age=31536000")
        self.set_header("X-Request-Id", logs.request_id(self.request))


class AccessMixin:
    """Token, login cookie and origin checks, shared by every handler kind."""

    @property
    def services(self) -> Services:
        return self.application.settings["services"]

    def can_write(self) -> bool:
        token = self.services.settings.token
        if not token:
            return True
        header = self.request.headers.get("Authorization", "")
        supplied = header[7:].strip() if header[:7].lower() == "bearer " else \
            self.request.headers.get("X-Faces-Token")
        if supplied is not None:
            return self.checked(supplied)
        cookie = self.get_signed_cookie(access.COOKIE, max_age_days=access.COOKIE_DAYS)
        return cookie is not None and hmac.compare_digest(cookie.decode(),
                                                          access.cookie_value(token))

    def checked(self, supplied: str) -> bool:
        """Whether a token someone sent is right. An address that has guessed
        wrong too often is refused (429) before its guess is even compared;
        every wrong one is counted and logged (never the token itself)."""
        throttle, address = self.services.throttle, self.request.remote_ip
        key = access.client_key(address)
        wait = throttle.wait_time(key)
        if wait > 0:
            raise too_many_failures(wait)
        if access.token_matches(supplied, self.services.settings.token):
            return True
        lock = throttle.failed(key)
        log.warning("wrong access token from %s on %s %s%s", address, self.request.method,
                    self.request.path, f"; locked out for {lock:.0f} s" if lock else "")
        return False

    def can_view(self) -> bool:
        return not self.services.settings.private or self.can_write()

    def require_write(self) -> None:
        if not self.can_write():
            raise unauthorised("An access token is needed to upload or delete")

    def require_view(self) -> None:
        if not self.can_view():
            raise unauthorised("This gallery is private")

    def origin_ok(self, origin: str | None) -> bool:
        return origin is None or access.origin_allowed(
            origin, self.request.host, self.services.settings.origins)


class BaseHandler(SecurityHeaders, AccessMixin, RequestHandler):
    def check_xsrf_cookie(self) -> None:
        if self.request.method not in self.allowed_methods():
            return  # answered 405, with Allow, whatever the form
        try:
            super().check_xsrf_cookie()
        except HTTPError as exc:
            log.warning("refused a form without a valid XSRF token: %s", exc.log_message)
            raise ApiError(403, "form_expired", "The form has expired or came from another "
                           "site. Reload the page and try again.") from None

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
        try:
            reason = HTTPStatus(status_code).phrase
        except ValueError:
            reason = "Error"
        return reason.lower().replace(" ", "_"), f"{reason}."

    def allowed_methods(self) -> list[str]:
        """The methods this handler answers (for the Allow header of a 405)."""
        mine = [m for m in self.SUPPORTED_METHODS
                if getattr(type(self), m.lower()) is not getattr(RequestHandler, m.lower())]
        return [*mine, "HEAD"] if "GET" in mine and "HEAD" not in mine else mine

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        code, message = self.error_parts(status_code, exc)
        if status_code == 405:  # RFC 9110: a 405 says which methods would do
            self.set_header("Allow", ", ".join(self.allowed_methods()))
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


class ApiOriginCheck:
    """API calls from scripts carry no Origin and need no XSRF token; calls
    from a browser must come from this site (or an allowed origin)."""

    def check_xsrf_cookie(self) -> None:
        if not self.origin_ok(self.request.headers.get("Origin")):
            raise ApiError(403, "cross_origin", "Requests from other sites are not allowed.")


def rate_limited(handler: BaseHandler, key: str) -> None:
    wait = handler.services.limiter.wait_time(
        f"{key}:{access.client_key(handler.request.remote_ip)}")
    if wait > 0:
        seconds = math.ceil(wait)
        raise ApiError(429, "rate_limited",
                       f"Too many uploads from your address; try again in {seconds} s.",
                       {"Retry-After": str(seconds)})


@stream_request_body
class UploadHandlerBase(BaseHandler):
    """Reads a multipart upload as it streams in, refusing oversize bodies
    from the headers, before the body is read."""

    _counted = False
    outcome = ""  # for the metrics: stored, duplicate, detected, or the refusal's code

    def prepare(self) -> None:
        if self.request.method != "POST":
            self.require_view()
            return
        self.require_write()
        cap = self.services.settings.max_upload_bytes + MULTIPART_SLACK
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise self.too_large()
        if not self.services.settings.token:  # with a token, every uploader is known
            rate_limited(self, "upload")
        self.request.connection.set_max_body_size(cap)
        self._chunks: list[bytes] = []
        self._fields: dict[str, list[bytes]] = {}
        self.services.inflight += 1  # shutdown waits for these
        self._counted = True

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self.services.inflight -= 1

    def on_finish(self) -> None:
        self._release()
        if self.request.method == "POST":
            measured = self.services.metrics
            measured.uploads.labels(self.outcome or str(self.get_status())).inc()
            measured.upload_seconds.observe(self.request.request_time())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.outcome = self.error_parts(status_code,
                                        kwargs.get("exc_info", (None, None, None))[1])[0]
        super().write_error(status_code, **kwargs)

    def on_connection_close(self) -> None:
        self._release()
        super().on_connection_close()

    def too_large(self) -> ApiError:
        limit = self.services.settings.max_upload_mb
        return ApiError(413, "file_too_large", f"The upload is larger than the {limit:g} MB limit.")

    def data_received(self, chunk: bytes) -> None:
        if self._counted:  # an upload being read; any other body (PUT, ...) is dropped
            self._chunks.append(chunk)

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

    def upload(self) -> tuple[bytes, str, Options]:
        """The file, its display name and the upload's options (the query
        string's, else the form's; every one given must be valid). Raises
        OptionError for a bad option (answered as a 400)."""
        data, filename = self.uploaded_file()
        form = {name: values[-1].decode("utf-8", "replace")
                for name, values in self._fields.items()}
        query = self.get_query_argument
        defaults = self.services.options
        # The form's options are checked even where the query string's win.
        defaults.choose(form.get("mode"), form.get("threshold"))
        options = defaults.choose(query("mode", None) or form.get("mode"),
                                  query("threshold", None) or form.get("threshold"))
        return data, filename, options

    async def add(self) -> tuple[Photo, bool]:
        data, filename, options = self.upload()
        photo, created = await self.services.gallery.add(data, filename, options)
        self.outcome = "stored" if created else "duplicate"
        return photo, created


def page_limit(handler: RequestHandler) -> int:
    try:
        limit = int(handler.get_argument("limit", str(PAGE_SIZE)))
    except ValueError:
        raise ApiError(400, "bad_limit", "limit must be a whole number.") from None
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ApiError(400, "bad_limit", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    return limit


class PhotosApiHandler(ApiOriginCheck, UploadHandlerBase):
    async def post(self) -> None:
        photo, created = await answered(self.add())
        if created:
            self.set_header("Location", f"/api/photos/{photo.id}")
        self.write_json(photo.to_json(), 201 if created else 200)

    def get(self) -> None:
        before = self.get_argument("before", None)
        person = self.get_argument("person", None)
        limit = page_limit(self)
        store = self.services.store
        if person is not None and store.person(person) is None:
            raise ApiError(404, "not_found", "No such person.")
        try:
            photos = store.newest(limit, before) if person is None else \
                store.newest_of(person, limit, before)
        except KeyError:
            raise ApiError(404, "unknown_photo", "No photo has the id given in 'before'.") from None
        following = None
        if len(photos) == limit:
            following = f"/api/photos?before={photos[-1].id}&limit={limit}" + \
                (f"&person={person}" if person else "")
        self.write_json({"photos": [p.to_json() for p in photos], "next": following})


class PhotoApiHandler(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        if self.request.method == "DELETE":
            self.require_write()
        else:
            self.require_view()

    @staticmethod
    def unknown() -> ApiError:
        return ApiError(404, "unknown_photo", "There is no photo with that id.")

    def get(self, photo_id: str) -> None:
        photo = self.services.store.get(photo_id) if ID_PATTERN.match(photo_id) else None
        if photo is None:
            raise self.unknown()
        self.write_json(photo.to_json())

    async def delete(self, photo_id: str) -> None:
        if await self.services.gallery.delete(photo_id) is None:
            raise self.unknown()
        self.set_status(204)
        self.finish()


def people_error(exc: Refused) -> ApiError:
    if isinstance(exc, NotFound):
        return ApiError(404, exc.code, exc.message)
    return ApiError(409 if exc.code == "not_recognised" else 400, exc.code, exc.message)


class PeopleBase(ApiOriginCheck, BaseHandler):
    """The People API: JSON in and out; reading needs view access, changes
    write access."""

    def prepare(self) -> None:
        if self.request.method in ("GET", "HEAD"):
            self.require_view()
        else:
            self.require_write()

    def body(self) -> Any:
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            raise ApiError(400, "bad_json", "The body must be JSON.") from None

    def call(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except Refused as exc:
            raise people_error(exc) from None


class PeopleApiHandler(PeopleBase):
    def get(self) -> None:
        limit = page_limit(self)
        hidden_flag = self.get_argument("hidden", "0")
        if hidden_flag not in ("0", "1"):
            raise ApiError(400, "bad_hidden", "hidden must be 0 or 1.")
        hidden = hidden_flag == "1"
        everyone = self.services.people.list(hidden)
        before = self.get_argument("before", None)
        start = 0
        if before is not None:
            ids = [p["id"] for p in everyone]
            if before not in ids:
                raise ApiError(404, "not_found", "No person has the id given in 'before'.")
            start = ids.index(before) + 1
        page = everyone[start:start + limit]
        following = None
        if start + limit < len(everyone):
            following = f"/api/people?before={page[-1]['id']}&limit={limit}" + \
                ("&hidden=1" if hidden else "")
        self.write_json({"people": page, "next": following,
                         "recognition": {"state": self.services.people.state,
                                         "backlog": self.services.people.backlog}})


class PersonApiHandler(PeopleBase):
    def get(self, person_id: str) -> None:
        self.write_json(self.call(self.services.people.person, person_id))

    def patch(self, person_id: str) -> None:
        self.write_json(self.call(self.services.people.edit, person_id, self.body()))


class MergeApiHandler(PeopleBase):
    def post(self, person_id: str) -> None:
        self.write_json(self.call(self.services.people.merge, person_id, self.body()))


class FacePersonApiHandler(PeopleBase):
    def put(self, face_id: str) -> None:
        self.write_json(self.call(self.services.people.move, int(face_id), self.body()))


class PeoplePageHandler(BaseHandler):
    def get(self) -> None:
        if not self.can_view():
            self.redirect("/login")
            return
        hidden = self.get_argument("hidden", "0") == "1"
        people = self.services.people
        self.render("people.html", people=people.list(hidden), hidden=hidden,
                    backlog=people.backlog, state=people.state, failed=people.failed)


class DetectApiHandler(ApiOriginCheck, UploadHandlerBase):
    """Detect only: nothing is stored or broadcast."""

    async def post(self) -> None:
        flag = self.get_query_argument("annotate", "0")
        if flag not in ANNOTATE_FLAGS:
            raise ApiError(400, "bad_annotate", "annotate must be 0 or 1.")
        annotate = ANNOTATE_FLAGS[flag]

        async def detect() -> dict:
            data, _, options = self.upload()
            return await self.services.gallery.detect(data, options, annotate)

        result = await answered(detect())
        self.outcome = "detected"
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
        photo, _ = await answered(self.add())
        self.redirect(f"/?uploaded={photo.id}", status=303)


class GalleryHandler(BaseHandler):
    def get(self) -> None:
        if not self.can_view():
            self.redirect("/login")
            return
        store = self.services.store
        before = self.get_argument("before", None)
        before = before if before and ID_PATTERN.match(before) else None
        person_id = self.get_argument("person", "")
        person = store.person(person_id) if person_id else None
        try:
            photos = store.newest(PAGE_SIZE, before) if person is None else \
                store.newest_of(person.id, PAGE_SIZE, before)
        except KeyError:
            photos = store.newest(PAGE_SIZE) if person is None else \
                store.newest_of(person.id, PAGE_SIZE)
        uploaded = self.get_argument("uploaded", "")
        notice = None
        if ID_PATTERN.match(uploaded):
            photo = store.get(uploaded)
            if photo is not None:
                count = len(photo.faces)
                faces = f"{count} face{'' if count == 1 else 's'}"
                notice = f"Uploaded {photo.filename}: {faces} found."
        self.render("index.html", photos=photos, notice=notice,
                    total=store.count(person.id if person else None), page_size=PAGE_SIZE,
                    more=len(photos) == PAGE_SIZE, person=person)


class LoginHandler(BaseHandler):
    """A login form for browsers when an access token is set."""

    def get(self) -> None:
        if not self.services.settings.token:
            self.redirect("/")
            return
        self.render("login.html", error=None)

    def post(self) -> None:
        token = self.services.settings.token
        if not token:
            self.redirect("/")
            return
        rate_limited(self, "login")
        if not self.checked(self.get_body_argument("token", "")):
            self.set_status(401)
            self.render("login.html", error="That token is not right.")
            return
        self.set_signed_cookie(access.COOKIE, access.cookie_value(token),
                               expires_days=access.COOKIE_DAYS, httponly=True,
                               samesite="Strict", secure=self.request.protocol == "https")
        self.redirect("/", status=303)


class LogoutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie(access.COOKIE)
        self.redirect("/", status=303)


class HealthHandler(BaseHandler):
    def get(self) -> None:
        services = self.services
        if not services.backend.ready:
            self.write_json({"status": "starting"}, 503)
            return
        about = services.backend.described
        self.write_json({"status": "ok", "model": services.backend.model,
                         "detector": services.backend.family,
                         "precision": about.precision if about else None,
                         "first_pass": about.first_pass if about else None,
                         "workers": services.backend.workers,
                         "recognition": services.people.state,
                         "recognition_backlog": services.people.backlog})


class MetricsHandler(BaseHandler):
    """Prometheus metrics; with FACES_PRIVATE, only with the token."""

    def prepare(self) -> None:
        self.require_view()

    def wants_html(self) -> bool:
        return False

    def get(self) -> None:
        self.set_header("Content-Type", metrics.CONTENT_TYPE)
        self.finish(self.services.metrics.exposition())


@stream_request_body
class HostRefusedHandler(BaseHandler):
    """Any request whose Host is not allowed (a DNS-rebinding page, or a name
    the owner has not listed): 403 on every route and method, before any
    body is read."""

    def check_xsrf_cookie(self) -> None:
        pass  # refused in prepare, whatever the method

    def data_received(self, chunk: bytes) -> None:
        pass  # never reached: prepare refuses first

    def wants_html(self) -> bool:
        return not self.request.path.startswith(("/api/", "/ws", "/metrics"))

    def prepare(self) -> None:
        log.warning("refused a request for host %r from %s (not in FACES_ALLOWED_HOSTS)",
                    self.request.host, self.request.remote_ip)
        raise ApiError(403, "host_not_allowed",
                       f"This server does not answer to the name {self.request.host!r}. "
                       "Its owner can allow it with FACES_ALLOWED_HOSTS (--allowed-hosts).")


class NotFoundHandler(BaseHandler):
    """Every unknown URL: a 404 with our headers, as a page or JSON."""

    def prepare(self) -> None:
        raise ApiError(404, "not_found", "There is nothing at this address.")


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
        if not absolute_path.endswith((".jpg", ".png")):
            raise HTTPError(404)
        return super().validate_absolute_path(root, absolute_path)

    def get_cache_time(self, path: str, modified: Any, mime_type: str) -> int:
        return self.CACHE_MAX_AGE

    def set_extra_headers(self, path: str) -> None:
        scope = "private" if self.services.settings.private else "public"
        self.set_header("Cache-Control", f"{scope}, max-age={self.CACHE_MAX_AGE}, immutable")


class GalleryWebSocket(AccessMixin, WebSocketHandler):
    """Pushes ``photo.added`` and ``photo.deleted`` events. ``/ws?after=<id>``
    first replays every photo newer than ``<id>``, oldest first."""

    def prepare(self) -> None:
        if not self.can_view():
            raise HTTPError(401)

    def check_origin(self, origin: str) -> bool:
        return self.origin_ok(origin)

    def open(self) -> None:
        # A client that stops reading is dropped once this much is queued for it.
        self.ws_connection.stream.max_write_buffer_size = WS_MAX_BUFFER
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
        except StreamBufferFullError:
            log.warning("dropping WebSocket client %s: it is not reading its messages",
                        self.request.remote_ip)
            self.services.hub.drop(self)
            self.ws_connection.stream.close()  # a close frame would not fit either

    def on_message(self, message: str | bytes) -> None:
        pass  # the protocol is server-to-client only

    def on_close(self) -> None:
        self.services.hub.leave(self)

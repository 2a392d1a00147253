"""What every handler shares: our security headers, who may read and
write (token, login cookie, origin), errors answered through the one table
(:mod:`faces.web.errors`) as a page or JSON, and uploads read as they
stream in. Handlers stay thin: they bind the request (:mod:`faces.web.forms`),
call a use case, and show its answer (:mod:`faces.web.views`).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from tornado.web import HTTPError, RequestHandler, stream_request_body

from .. import logs
from ..errors import Forbidden, NeedsLogin, NotFound, Starting
from ..library.accounts import NOBODY, Accounts, Who
from ..library.records import Photo
from ..settings import Settings
from ..vision.contract import Options
from . import access, forms
from .errors import ApiError, answer, too_many

if TYPE_CHECKING:
    from ..services import Services
    from .state import Web

log = logging.getLogger(__name__)

MULTIPART_SLACK = 64 * 1024  # room for multipart headers around the file itself

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}



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
    """Token, login cookie and origin checks, shared by every handler kind;
    and the web side's state (:class:`faces.web.state.Web`)."""

    @property
    def web(self) -> Web:
        return self.application.settings["web"]

    @property
    def services(self) -> Services:
        return self.web.services

    @property
    def config(self) -> Settings:
        return self.web.services.settings

    _who: Who | None = None

    @property
    def accounts(self) -> Accounts:
        return self.services.accounts

    def who(self) -> Who:
        """Who sent this request (worked out once per request): an access
        token or API key in the Authorization (or X-Faces-Token) header, else
        a session cookie, the token's login cookie, a share link's cookie;
        else no one (open galleries: their one trusted user)."""
        if self._who is None:
            self._who = self._identify()
        return self._who

    def _identify(self) -> Who:
        accounts = self.accounts
        header = self.request.headers.get("Authorization", "")
        supplied = header[7:].strip() if header[:7].lower() == "bearer " else \
            self.request.headers.get("X-Faces-Token")
        if supplied is not None:
            found = self.checked(supplied)
            if found is not None:
                return found
            return accounts.anonymous()
        session = self.get_cookie(access.SESSION_COOKIE)
        if session:
            found = accounts.by_session(session)
            if found is not None:
                who, row = found
                accounts.used(row.seen, self.services.catalogue.seen, row.id)
                return who
        if self.config.token:
            cookie = self.get_signed_cookie(access.COOKIE, max_age_days=access.COOKIE_DAYS)
            if cookie is not None and hmac.compare_digest(
                    cookie.decode(), access.cookie_value(self.config.token)):
                return Who("token", "owner")
        link = self.get_cookie(access.SHARE_COOKIE)
        if link:
            found = accounts.by_link(link)
            if found is not None:
                return found
        return accounts.anonymous()

    def checked(self, supplied: str) -> Who | None:
        """Who a token or key someone sent stands for, or None. An address
        that has guessed wrong too often is refused (429) before its guess is
        even compared; every wrong one is counted and logged (never the
        token itself)."""
        throttle, address = self.web.throttle, self.request.remote_ip
        key = access.client_key(address)
        wait = throttle.wait_time(key)
        if wait > 0:
            raise too_many("too_many_failures", "Too many wrong tokens from your address", wait)
        who = self.accounts.by_token(supplied)
        if who is None and supplied.startswith("faces_"):
            found = self.accounts.by_key(supplied)
            if found is not None:
                who, row = found
                self.accounts.used(row.used, self.services.catalogue.key_used, row.id)
        if who is not None:
            return who
        lock = throttle.failed(key)
        log.warning("wrong access token from %s on %s %s%s", address,
                    self.request.method, self.request.path,
                    f"; locked out for {lock:.0f} s" if lock else "")
        return None

    def login_first(self) -> bool:
        """For a page: when nobody known asks (not even a link's holder), send
        them to the login page; whether it did."""
        who = self.who()
        if who.role is None and who.share is None:
            self.redirect("/login")
            return True
        return False

    def shown_who(self) -> Who:
        """Who the page shows as logged in; nobody when that cannot be
        worked out (an error page for a throttled token, say)."""
        try:
            return self.who()
        except Exception:
            return NOBODY

    def may(self, action: str) -> bool:
        return self.shown_who().may(action)

    def can_write(self) -> bool:
        """Whether the page offers uploading (templates ask)."""
        return self.may("upload")

    def can_view(self) -> bool:
        return self.may("view")

    def require(self, action: str, ids: Iterable[str] = ()) -> list[str]:
        """The one check (:func:`faces.library.accounts.authorize`): raises
        401, 403 or 404; a change waits for the server to be ready."""
        allowed = self.accounts.authorize(self.who(), action, ids)
        if action not in ("view", "download", "shared", "shared_download") and \
                not self.services.ready:  # the library is still being read: nothing changes yet
            raise Starting("The server is starting: it is reading the library. Try again "
                           "in a few seconds.")
        return allowed

    def may_see(self, ids: Iterable[str] = ()) -> None:
        """The one check for handlers that answer a bare status (files, the
        WebSocket): may who asks see these photos (a link's holder: as its
        link shares them)? HTTPError 401 (nobody known) or 404 (not theirs)
        when not."""
        who = self.who()
        try:
            self.accounts.authorize(who, "shared" if who.share is not None else "view", ids)
        except (NeedsLogin, Forbidden):
            raise HTTPError(401) from None
        except NotFound:
            raise HTTPError(404) from None

    def require_write(self) -> None:
        self.require("upload")

    def require_view(self) -> None:
        self.require("view")

    def origin_ok(self, origin: str | None) -> bool:
        return origin is None or access.origin_allowed(
            origin, self.request.host, self.config.origins)


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

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Every error goes out through the one table (web.errors)."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        known = answer(exc) if exc is not None else None
        if known is not None:
            kwargs["exc_info"] = (type(known), known, None)
            status_code = known.status_code
        super().send_error(status_code, **kwargs)

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

    def only_allowed_methods(self) -> None:
        """405 (with Allow) for a method the handler does not answer, before
        any check of who asks (for a ``prepare`` that refuses)."""
        if self.request.method not in self.allowed_methods():
            raise ApiError(405, "method_not_allowed", "This address does not answer "
                           f"{self.request.method}.")

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

    def _request_summary(self) -> str:
        return f"{self.request.method} {logs.safe_uri(self.request)} ({self.request.remote_ip})"

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        known = answer(value)
        if known is None:  # a bug: its traceback goes to the log, never to the user
            super().log_exception(typ, value, tb)
        elif known.status_code >= 500:
            log.warning("%s %s -> %d %s: %s", self.request.method, logs.safe_uri(self.request),
                        known.status_code, known.code, known.message)
        else:
            log.info("%s %s -> %d %s", self.request.method, logs.safe_uri(self.request),
                     known.status_code, known.code)


class ApiOriginCheck:
    """API calls from scripts carry no Origin and need no XSRF token; calls
    from a browser must come from this site (or an allowed origin)."""

    def check_xsrf_cookie(self) -> None:
        if not self.origin_ok(self.request.headers.get("Origin")):
            raise ApiError(403, "cross_origin", "Requests from other sites are not allowed.")


def rate_limited(handler: BaseHandler, key: str) -> None:
    wait = handler.web.limiter.wait_time(
        f"{key}:{access.client_key(handler.request.remote_ip)}")
    if wait > 0:
        raise too_many("rate_limited", "Too many uploads from your address", wait)


@stream_request_body
class UploadHandlerBase(BaseHandler):
    """Reads a multipart upload as it streams in, refusing oversize bodies
    from the headers, before the body is read."""

    _counted = False
    sidecar: bytes | None = None
    upload_fields: dict[str, str] = {}  # noqa: RUF012 (replaced per request, never changed)
    outcome = ""  # for the metrics: stored, duplicate, detected, or the refusal's code

    def prepare(self) -> None:
        if self.request.method != "POST":
            self.require("view")
            return
        self.require("upload")
        cap = self.config.max_upload_bytes + MULTIPART_SLACK
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise self.too_large()
        if self.who().via in ("open", "anonymous"):  # (a known uploader is not limited)
            rate_limited(self, "upload")
        self.request.connection.set_max_body_size(cap)
        self._chunks: list[bytes] = []
        self.web.inflight += 1  # shutdown waits for these
        self._counted = True

    def _release(self) -> None:
        if self._counted:
            self._counted = False
            self.web.inflight -= 1

    def on_finish(self) -> None:
        self._release()
        if self.request.method == "POST":
            measured = self.web.metrics
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
        limit = self.config.max_upload_mb
        return ApiError(413, "file_too_large", f"The upload is larger than the {limit:g} MB limit.")

    def data_received(self, chunk: bytes) -> None:
        if self._counted:  # an upload being read; any other body (PUT, ...) is dropped
            self._chunks.append(chunk)

    def upload(self) -> tuple[bytes, str, Options]:
        """The file, its display name and the upload's options (its XMP
        sidecar, if one came, in ``self.sidecar``)."""
        body = b"".join(self._chunks)
        self._chunks = []
        upload = forms.multipart_file(self.request.headers.get("Content-Type", ""), body,
                                      self.config.max_upload_bytes, self.too_large())
        query = {name: self.get_query_argument(name, None) for name in ("mode", "threshold")}
        options = forms.upload_options(self.services.options, query, upload.fields)
        self.sidecar = upload.sidecar
        self.upload_fields = upload.fields
        return upload.data, upload.filename, options

    async def add(self) -> tuple[Photo, bool]:
        data, filename, options = self.upload()
        modified = forms.modified(self.upload_fields.get("modified"))
        photo, created = await self.services.gallery.add(data, filename, options, self.sidecar,
                                                         modified)
        self.outcome = "stored" if created else "duplicate"
        return photo, created


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

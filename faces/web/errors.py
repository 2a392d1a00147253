"""The one place that says how every error a person can meet is answered:
its HTTP status, its stable code and the headers that go with it.
Handlers raise (or let through) faces' own errors (:mod:`faces.errors`);
the base handler answers them through :func:`answer`, as a page or as
``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import math
import sqlite3
from http import HTTPStatus
from pathlib import Path

from tornado.web import HTTPError

from ..errors import (
    BackendBusy,
    BackendUnavailable,
    CatalogueBusy,
    CatalogueDamaged,
    CatalogueUnwritable,
    Conflict,
    Forbidden,
    ImageRejected,
    JobTimeout,
    NeedsLogin,
    NotFound,
    Refused,
    Starting,
    StorageFull,
    Unsupported,
)
from ..library.catalogue import CATALOGUE, catalogue_error


class ApiError(HTTPError):
    """An answer with a status, a stable code and a readable message."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(status, reason=HTTPStatus(status).phrase)
        self.code = code
        self.message = message
        self.headers = headers or {}


CATALOGUE_PATH = Path(CATALOGUE)  # (reads name the file only: the log has the rest)

# An image refused for what it is: by its code (any other: 422, a damaged file).
IMAGE_STATUS = {"too_many_pixels": 413, "unsupported_type": 415, "animated_image": 415,
                "empty_file": 400}

# The machine's errors: class -> status, code, message (None: the error's own,
# with the tail), headers. The first class that matches wins.
MACHINE: list[tuple[type[Exception], int, str, str | None, dict[str, str]]] = [
    (StorageFull, 507, "insufficient_storage", None, {}),
    (BackendBusy, 503, "busy", "The server is busy with other photos; try again in a few "
     "seconds.", {"Retry-After": "5"}),
    (JobTimeout, 503, "detector_timeout", "{}; the detector was restarted.",
     {"Retry-After": "2"}),
    (BackendUnavailable, 503, "detector_unavailable", "{}; please try again.",
     {"Retry-After": "2"}),
    (Starting, 503, "starting", None, {"Retry-After": "2"}),
    (CatalogueBusy, 503, "catalogue_busy", None, {"Retry-After": "5"}),
    (CatalogueUnwritable, 503, "catalogue_unwritable", None, {}),
    (CatalogueDamaged, 503, "catalogue_damaged", None, {}),
]


def refused_status(exc: Refused) -> int:
    if isinstance(exc, ImageRejected):
        return IMAGE_STATUS.get(exc.code, 422)
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, Unsupported):
        return 415
    return 400


def answer(exc: BaseException) -> ApiError | None:
    """The answer to ``exc``, or None when it is not one we expect (a bug:
    answered 500 and logged with its traceback)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, NeedsLogin):
        return unauthorised(exc.message)
    if isinstance(exc, Refused):
        return ApiError(refused_status(exc), exc.code, exc.message)
    if isinstance(exc, sqlite3.DatabaseError):  # a read the catalogue refused
        exc = catalogue_error(exc, CATALOGUE_PATH) or exc
    for kind, status, code, message, headers in MACHINE:
        if isinstance(exc, kind):
            text = str(exc) if message is None else message.format(exc)
            return ApiError(status, code, text, dict(headers))
    return None


def bad_request(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def unauthorised(why: str) -> ApiError:
    return ApiError(401, "unauthorised", f"{why}: log in at /login, or send the header "
                    "'Authorization: Bearer <token>'.",
                    {"WWW-Authenticate": 'Bearer realm="faces"'})


def too_many(code: str, what: str, wait: float) -> ApiError:
    seconds = math.ceil(wait)
    return ApiError(429, code, f"{what}; try again in {seconds} s.",
                    {"Retry-After": str(seconds)})

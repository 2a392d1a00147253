"""Logging: plain text lines (the default), or one JSON object per line
(``--log-format json``) with the time, level, logger and message, and for
each request its method, path, status, duration and request id.

The request id comes from the client's ``X-Request-Id`` when it sent a sane
one, else it is made here; it goes back in the answer's ``X-Request-Id``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from datetime import datetime, timezone
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # what we accept from a client
REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms", "client")

access_log = logging.getLogger("faces.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; request fields when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """Send every log record to stderr in ``fmt`` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # watchfiles says "N changes detected" for every batch: the library says what it did
    logging.getLogger("watchfiles").setLevel(max(level, logging.WARNING))


def request_id(request: Any) -> str:
    """The request's id: the client's X-Request-Id if sane, else a new one
    (kept on the request, so every answer to it carries the same)."""
    found = getattr(request, "faces_request_id", None)
    if found is None:
        sent = request.headers.get("X-Request-Id", "")
        found = sent if REQUEST_ID.match(sent) else secrets.token_hex(8)
        request.faces_request_id = found
    return found


SECRET_PATHS = ("/s/",)  # a share link's token is in its path: never written to a log


def safe_uri(request: Any) -> str:
    """The request's URI as a log may show it: a share link's token left out."""
    uri = request.uri or ""
    for prefix in SECRET_PATHS:
        if uri.startswith(prefix):
            return prefix + "…"
    return uri


def log_request(handler: Any) -> None:
    """Tornado's ``log_function``: one access line per request."""
    request = handler.request
    status = handler.get_status()
    # (503: try again soon, as while starting: what is wrong, if anything, is logged
    # where it happens)
    level = logging.INFO if status < 400 else \
        logging.WARNING if status < 500 or status == 503 else logging.ERROR
    duration = round(1000.0 * request.request_time(), 2)
    fields = {"request_id": request_id(request), "method": request.method,
              "path": safe_uri(request).split("?")[0], "status": status, "duration_ms": duration,
              "client": request.remote_ip}
    access_log.log(level, "%d %s %s (%s) %.2fms", status, request.method, safe_uri(request),
                   request.remote_ip, duration, extra=fields)

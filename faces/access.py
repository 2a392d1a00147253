"""Who may do what: the optional access token, the login cookie, and which
browser origins may call the API and the WebSocket."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

COOKIE = "faces_auth"
COOKIE_DAYS = 30
SECRET_FILE = "cookie-secret"  # noqa: S105 (a file name)


def token_matches(supplied: str, token: str) -> bool:
    return bool(token) and hmac.compare_digest(supplied.encode(), token.encode())


def cookie_value(token: str) -> str:
    """What the signed login cookie holds: changes when the token changes."""
    return hashlib.sha256(b"faces-login:" + token.encode()).hexdigest()[:32]


def origin_allowed(origin: str, host: str, allowed: set[str]) -> bool:
    """Same origin as the request's Host, or listed in ``allowed``."""
    origin = origin.strip().rstrip("/").lower()
    if origin in allowed:
        return True
    return urlsplit(origin).netloc == host.lower()


def load_secret(data_dir: Path) -> str:
    """The key that signs login cookies, made once and kept in the data dir."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret

"""Who may do what: the optional access token, the login cookie, which
browser origins may call the API and the WebSocket, which Host names the
server answers to (against DNS rebinding), and which proxies may say who
the client is."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import socket
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from ..library.files import SECRET_FILE
from ..settings import Network

COOKIE = "faces_auth"  # the access token's login (signed; stands for the token)
SESSION_COOKIE = "faces_session"  # an account's session: its random token
SHARE_COOKIE = "faces_share"  # a share link's token, once exchanged for it
COOKIE_DAYS = 30


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


def _host_name(host: str) -> str:
    """The name in a Host header, without its port, lower case."""
    host = host.strip().lower()
    if host.startswith("["):  # [v6]:port
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


@lru_cache(maxsize=1)
def machine_names() -> frozenset[str]:
    """This machine's own names: its host name and <name>.local (mDNS)."""
    names = {"localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        name = name.lower().rstrip(".")
        if name:
            short = name.split(".")[0]
            names |= {name, short, f"{short}.local"}
    return frozenset(names)


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether a request for ``host`` (its Host header) is answered.

    IP literals are always allowed (DNS rebinding cannot produce them), and
    so are localhost and this machine's own names; other names only when
    listed: exactly, as ".example.com" for it and its subdomains, or "*".
    """
    name = _host_name(host)
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    if name in machine_names() or name.endswith(".localhost"):
        return True
    for entry in allowed:
        entry = entry.strip().lower().rstrip(".")
        if entry == "*" or entry == name or (
                entry.startswith(".") and (name.endswith(entry) or name == entry[1:])):
            return True
    return False


def _in(address: str, trusted: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_client(peer: str, headers: dict | object, trusted: list[Network]
                     ) -> tuple[str, bool]:
    """The client's address, and whether it reached the proxy over HTTPS.

    Only a peer in ``trusted`` may say so, with X-Forwarded-For (the
    right-most address that is not itself a trusted proxy) or X-Real-IP,
    and X-Forwarded-Proto; from anyone else the headers are ignored.
    """
    if not trusted or not _in(peer, trusted):
        return peer, False
    client = peer
    chain = [hop.strip() for hop in headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
    for hop in reversed(chain):
        client = hop
        if not _in(hop, trusted):
            break
    if not chain:
        real = headers.get("X-Real-IP", "").strip()
        client = real or peer
    try:
        client = str(ipaddress.ip_address(client))
    except ValueError:
        client = peer  # not an address: keep the proxy's
    secure = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"
    return client, secure


def client_key(address: str) -> str:
    """Whose request this is, for limits: an IPv4 address as it is, an IPv6
    one by its /64 (one household or host holds a whole /64, so counting
    single addresses would give an attacker billions of fresh tries)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)

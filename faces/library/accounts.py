"""Who may do what: accounts with roles, their sessions and API keys, share
links, and the one check every request, file and live message passes
(:func:`authorize`).

A gallery with no account stays as it was: open (one person on a trusted
machine), or its access token (``FACES_TOKEN``) needed to change anything
(and to look, with ``FACES_PRIVATE``). Once an account exists, everything
needs a session, a key or a link; the token keeps working as the owner's
key. Passwords are Argon2id hashes (argon2-cffi; rehashed at login when the
cost settings change); sessions, API keys and share links are random
tokens of 256 bits of which only the SHA-256 is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import BadRequest, Conflict, Forbidden, NeedsLogin, NotFound
from .catalogue_accounts import Key, SessionRow, Share, User

if TYPE_CHECKING:
    from .catalogue import Catalogue

ROLES = ("viewer", "editor", "owner")  # each may do what the one before may, and more
RANK = {role: rank for rank, role in enumerate(ROLES)}

# What each role may do. "view": the gallery, its photos, people and files;
# "download": originals and their XMP; "upload" (and detect, scan a folder);
# "edit": names, corrections, dates; "delete"; "library": add and remove
# library folders; "share": make, list and revoke share links; "users".
ACTIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"view", "download"}),
    "editor": frozenset({"view", "download", "upload", "edit", "delete"}),
    "owner": frozenset({"view", "download", "upload", "edit", "delete", "library", "share",
                        "users"}),
}
# What a share link's holder may do, on its own photos only: "shared" (its
# page, its display copies, its live updates) and, when its maker allowed
# it, "shared_download".
SHARED = frozenset({"shared"})

NAME_MAX = 64
PASSWORD_MIN = 8
SEEN_EVERY = 60.0  # seconds between two writes of a session's last use


def key_role(key: Key, user: User) -> str:
    """What a key may do: its own role, never above its user's now."""
    return min(key.role, user.role, key=RANK.get)


def digest(token: str) -> str:
    """What is stored of a token: its SHA-256 (the token itself never)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


@dataclass(frozen=True)
class Who:
    """Who a request is from. ``role`` None: a share link's holder (``share``)
    or nobody known."""

    via: str  # "open", "token", "session", "key", "share", "anonymous"
    role: str | None = None
    user: User | None = None
    session: int | None = None
    key: int | None = None
    share: Share | None = None

    @property
    def name(self) -> str:
        return self.user.name if self.user else ""

    def may(self, action: str) -> bool:
        return self.role is not None and action in ACTIONS[self.role]


@dataclass(frozen=True)
class NewShare:
    """A share link asked for: a person's (``photos`` empty) or chosen photos,
    and its options (``days`` None: the settings' default)."""

    person: str | None
    photos: list[str]
    label: str = ""
    days: float | None = None
    password: str | None = None
    downloads: bool = False
    names: bool = False
    boxes: bool = False


NOBODY = Who("anonymous")
GONE = Who("share")  # a share link's cookie that no longer opens anything


def authorize(who: Who, action: str, ids: Iterable[str] = (),
              shared: Callable[[Share, str], bool] | None = None) -> list[str]:
    """Whether ``who`` may do ``action`` (on the photos ``ids``): the ids
    when so; else NeedsLogin (nobody known), Forbidden (a role without it)
    or NotFound (a link's holder outside its set: answered as for a photo
    that does not exist). Deny by default: an action no table names is no
    one's."""
    ids = list(ids)
    if who.via == "share" and who.share is None:  # a link that no longer works
        raise NotFound("not_found", "There is nothing at this address.")
    if who.share is not None:
        allowed = set(SHARED) | ({"shared_download"} if who.share.downloads else set())
        if action not in allowed or shared is None or \
                not all(shared(who.share, photo) for photo in ids):
            raise NotFound("not_found", "There is nothing at this address.")
        return ids
    if who.role is None or (who.via == "anonymous" and action not in ACTIONS[who.role]):
        raise NeedsLogin("unauthorised", "This gallery needs you to log in"
                         if who.role is None else "An access token is needed for that")
    if action not in ACTIONS[who.role]:
        raise Forbidden("forbidden", f"Your account ({who.role}) may not do that; ask the "
                        "gallery's owner.")
    return ids


def valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        raise BadRequest("bad_name", f"A user name is 1 to {NAME_MAX} printable characters.")
    return name


def valid_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest("bad_role", f"A role is one of {', '.join(ROLES)}, not {role!r}.")
    return role


def valid_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise BadRequest("weak_password",
                         f"A password needs at least {PASSWORD_MIN} characters.")
    return password


class Passwords:
    """Argon2id hashing at the settings' cost."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                     parallelism=1)
        self._dummy = self.hasher.hash(new_token())  # (an unknown name costs the same)

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def stale(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


class Accounts:
    """The accounts use case over the catalogue's rows. The ``*_now``
    methods change the catalogue on the calling thread (the command line, or
    the catalogue's writer thread); the server's coroutines of the same
    names hash passwords off the event loop and off the writer, run the
    change on the writer (``Catalogue.write``), and call :attr:`ended`
    where someone's access may have ended. The reads are by key and safe on
    the event loop."""

    def __init__(self, catalogue: Catalogue, passwords: Passwords, token: str = "",
                 private: bool = False, session_idle: float = 168 * 3600.0,
                 session_max: float = 30 * 86400.0, share_days: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.catalogue = catalogue
        self.passwords = passwords
        self.token = token
        self.private = private
        self.session_idle, self.session_max = session_idle, session_max
        self.share_days = share_days
        self.clock = clock
        # Called once a change may have ended someone's access (the web side
        # closes their live connections at once, not at its next look).
        self.ended: Callable[[], object] = lambda: None

    # who is asking

    @property
    def active(self) -> bool:
        """Whether accounts are on (any exists)."""
        return self.catalogue.has_users()

    def anonymous(self) -> Who:
        """Who someone is with nothing to show."""
        if self.active:
            return NOBODY
        if not self.token:
            return Who("open", "owner")
        return NOBODY if self.private else Who("anonymous", "viewer")

    def by_token(self, supplied: str) -> Who | None:
        """The access token (the owner's key), or None."""
        if self.token and hmac.compare_digest(supplied.encode(), self.token.encode()):
            return Who("token", "owner")
        return None

    def by_key(self, supplied: str) -> tuple[Who, Key] | None:
        key = self.catalogue.key(digest(supplied))
        user = key and self.catalogue.user(key.user)
        if key is None or user is None:
            return None
        return Who("key", key_role(key, user), user, key=key.id), key

    def by_session(self, token: str) -> tuple[Who, SessionRow] | None:
        """The session's user, while it lasts (idle and absolute timeouts)."""
        row = self.catalogue.session(digest(token))
        if row is None or not self.lasts(row):
            return None
        user = self.catalogue.user(row.user)
        if user is None:
            return None
        return Who("session", user.role, user, session=row.id), row

    def sessions_of(self, user_id: int) -> list[SessionRow]:
        """A user's sessions that still last, the latest used first."""
        return [row for row in self.catalogue.sessions_of(user_id) if self.lasts(row)]

    def lasts(self, row: SessionRow) -> bool:
        now = self.clock()
        return now - row.seen < self.session_idle and now - row.created < self.session_max

    def works(self, share: Share | None) -> bool:
        """Whether a link opens anything: made, not revoked, not expired."""
        return share is not None and share.expires > self.clock()

    def link(self, token: str) -> Share | None:
        """The link whose token this is, while it works."""
        share = self.catalogue.share_by_hash(digest(token))
        return share if self.works(share) else None

    def by_link(self, token: str) -> Who | None:
        """The link's holder; for a link revoked or expired, in a gallery that
        needs a login, a holder of nothing (everything answers 404, as
        while it worked for what it did not share); else None."""
        share = self.link(token)
        if share is None:
            return GONE if self.anonymous().role is None else None
        return Who("share", share=share)

    def still(self, who: Who) -> bool:
        """Whether what ``who`` showed still holds (a live connection is
        closed once it does not): its session not ended, its key not
        removed, its role unchanged, its link neither revoked nor expired."""
        if who.via == "session":
            row = self.catalogue.session_by_id(who.session)
            user = row and self.catalogue.user(row.user)
            return bool(row and user and user.id == who.user.id and self.lasts(row) and
                        user.role == who.role)
        if who.via == "key":
            key = self.catalogue.key_by_id(who.key)
            user = key and self.catalogue.user(key.user)
            return bool(key and user and user.id == who.user.id and
                        key_role(key, user) == who.role)
        if who.via == "share":
            return who.share is not None and self.works(self.catalogue.share(who.share.id))
        if who.via in ("open", "anonymous"):
            return self.anonymous().role == who.role
        return True  # the token: it lasts as long as the server's settings

    def shared(self, share: Share, photo_id: str) -> bool:
        return self.catalogue.is_shared(share, photo_id)

    def authorize(self, who: Who, action: str, ids: Iterable[str] = ()) -> list[str]:
        return authorize(who, action, ids, self.shared)

    # users (the command line's and the owner's)

    def hash_password(self, password: str) -> str:
        """A new password's hash, once it is long enough (slow on purpose: the
        server runs it through :meth:`hashed`, never on the event loop or the
        catalogue's writer)."""
        return self.passwords.hash(valid_password(password))

    async def hashed(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.hash_password,
                                                                password)

    def add_user_now(self, name: str, role: str, hashed: str) -> User:
        name, role = valid_name(name), valid_role(role)
        if self.catalogue.user_named(name) is not None:
            raise Conflict("user_exists", f"There is a user named {name!r} already.")
        if role != "owner" and not self.active:
            raise Conflict("owner_first", "The first account is the gallery's owner: "
                           "add it with --role owner.")
        return self.catalogue.add_user(name, role, hashed, self.clock())

    async def add_user(self, name: str, role: str, password: str) -> User:
        return await self.catalogue.write(self.add_user_now, name, role,
                                          await self.hashed(password))

    def user_by_id(self, user_id: int) -> User:
        user = self.catalogue.user(user_id)
        if user is None:
            raise NotFound("no_user", "There is no such user.")
        return user

    async def set_user(self, user_id: int, role: str | None = None,
                       password: str | None = None) -> User:
        """A new role and/or password for an account (its sessions end)."""
        user = self.user_by_id(user_id)
        if role is not None:
            await self.catalogue.write(self.set_role_now, user.name, role)
        if password is not None:
            await self.catalogue.write(self.set_password_now, user.name,
                                       await self.hashed(password))
        self.ended()
        return self.user_by_id(user_id)

    async def remove_user(self, user_id: int) -> None:
        await self.catalogue.write(self.remove_user_now, self.user_by_id(user_id).name)
        self.ended()

    def user_now(self, name: str) -> User:
        user = self.catalogue.user_named(name.strip())
        if user is None:
            raise NotFound("no_user", f"There is no user named {name!r}.")
        return user

    def set_role_now(self, name: str, role: str) -> User:
        user, role = self.user_now(name), valid_role(role)
        if role == user.role:
            return user  # (nothing changes: their sessions stay)
        if user.role == "owner" and role != "owner" and self.catalogue.owners() == 1:
            raise Conflict("last_owner", "The gallery's only owner stays one: make another "
                           "owner first.")
        self.catalogue.set_user(user.id, role=role, above=ROLES[RANK[role] + 1:])
        return self.catalogue.user(user.id)

    def set_password_now(self, name: str, hashed: str) -> User:
        user = self.user_now(name)
        self.catalogue.set_user(user.id, password=hashed)
        return user

    def remove_user_now(self, name: str) -> User:
        user = self.user_now(name)
        if user.role == "owner" and self.catalogue.owners() == 1:
            raise Conflict("last_owner", "The gallery's only owner cannot be removed (the "
                           "gallery would have no one to run it).")
        self.catalogue.remove_user(user.id)
        return user

    # sessions

    async def verify(self, name: str, password: str) -> User | None:
        """The account whose name and password these are (the hash checked
        off the event loop, as slow as for a name that is no one's); a
        password hashed at another cost is hashed again at this one."""
        loop = asyncio.get_running_loop()
        user = self.catalogue.user_named(name.strip()) if name.strip() else None
        if not await loop.run_in_executor(None, self.passwords.verify,
                                          user.password if user else None, password):
            return None
        if self.passwords.stale(user.password):
            hashed = await loop.run_in_executor(None, self.passwords.hash, password)
            await self.catalogue.write(self.catalogue.set_user, user.id, None, hashed, False)
        return user

    async def log_in(self, name: str, password: str, address: str, agent: str
                     ) -> tuple[str, User] | None:
        """A new session's token and its user, when the name and password are
        an account's."""
        user = await self.verify(name, password)
        if user is None:
            return None
        token, _ = await self.catalogue.write(self.start_session_now, user, address, agent)
        return token, user

    async def link_password_ok(self, share: Share, password: str) -> bool:
        if share.password is None:
            return True
        return await asyncio.get_running_loop().run_in_executor(
            None, self.passwords.verify, share.password, password)

    def start_session_now(self, user: User, address: str, agent: str) -> tuple[str, int]:
        """A new session (and the rows of sessions that have timed out, anyone's,
        gone: they would never be let in again)."""
        token, now = new_token(), self.clock()
        self.catalogue.end_stale_sessions(now - self.session_idle, now - self.session_max)
        return token, self.catalogue.add_session(digest(token), user.id, now, address,
                                                 agent[:200])

    def used(self, last: float | None, record: Callable[[int, float], object],
             row_id: int) -> None:
        """Note that a session, key or link (``row_id``, last used ``last``)
        is used now, through ``record`` on the catalogue's writer: at most
        once a minute, never waited for."""
        now = self.clock()
        if last is None or now - last > SEEN_EVERY:
            self.catalogue.write_later(record, row_id, now)

    def end_session_now(self, who: Who, session_id: int) -> None:
        row = self.catalogue.session_by_id(session_id)
        if row is None or who.user is None or row.user != who.user.id:
            raise NotFound("not_found", "There is no such session.")
        self.catalogue.end_session(session_id)

    async def end_session(self, who: Who, session_id: int) -> None:
        """One of ``who``'s own sessions ends (its pages' live connections too)."""
        await self.catalogue.write(self.end_session_now, who, session_id)
        self.ended()

    # API keys

    def add_key_now(self, who: Who, role: str, label: str) -> tuple[str, Key]:
        """A key for ``who``'s own account, at most their role; only from a
        session (a key cannot make keys, nor so raise itself)."""
        if who.via != "session" or who.user is None:
            raise Forbidden("forbidden", "API keys are made from a logged-in session.")
        role = valid_role(role)
        if len(label) > NAME_MAX:
            raise BadRequest("bad_label", f"A key's label is at most {NAME_MAX} characters.")
        if RANK[role] > RANK[who.role]:
            raise Forbidden("forbidden", f"A key's role is at most yours ({who.role}).")
        token = "faces_" + new_token()
        return token, self.catalogue.add_key(digest(token), who.user.id, role,
                                             label.strip()[:NAME_MAX], self.clock())

    def remove_key_now(self, who: Who, key_id: int) -> None:
        key = self.catalogue.key_by_id(key_id)
        if key is None or who.user is None or key.user != who.user.id or who.via != "session":
            raise NotFound("not_found", "There is no such key.")
        self.catalogue.remove_key(key_id)

    # share links

    def add_share_now(self, who: Who, new: NewShare, hashed: str | None
                      ) -> tuple[str, Share]:
        """A new link (``hashed``: its password's hash, or None) and its token."""
        photos = new.photos if new.person is None else \
            self.catalogue.photos_of_person(new.person)
        token, now = new_token(), self.clock()
        share_id = self.catalogue.add_share(
            digest(token), "person" if new.person else "photos", new.person, photos,
            new.label.strip()[:NAME_MAX], who.user.id if who.user else None, now,
            now + 86400.0 * (new.days or self.share_days), hashed, new.downloads, new.names,
            new.boxes)
        return token, self.catalogue.share(share_id)

    async def add_share(self, who: Who, new: NewShare) -> tuple[str, Share]:
        hashed = await self.hashed(new.password) if new.password else None
        return await self.catalogue.write(self.add_share_now, who, new, hashed)

    async def revoke_share(self, share_id: int) -> None:
        """The link stops working at once: its page, files, API and live
        connections."""
        if not await self.catalogue.write(self.catalogue.remove_share, share_id):
            raise NotFound("not_found", "There is no such link.")
        self.ended()

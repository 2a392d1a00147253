"""Logging in and out, and what an account holds: the login page (an
account's name and password, or a token-only gallery's access token), the
first owner made from this machine (``/setup``), ``/api/session`` (log in,
who am I, log out), a user's sessions and API keys (``/api/sessions``,
``/api/keys``; their page is :mod:`.account`). The rules are the library's
(:mod:`faces.library.accounts`); this module binds requests to them."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from ..errors import BadRequest
from ..library.catalogue_accounts import User
from . import access, forms
from .base import ApiOriginCheck, BaseHandler, rate_limited
from .errors import ApiError, too_many
from .views import when

log = logging.getLogger(__name__)

WRONG = "That name and password do not match an account."


class AccountBase(BaseHandler):
    """Logging in, with the throttle: per address and per account name."""

    def throttle_keys(self, name: str) -> list[str]:
        return [f"login:{access.client_key(self.request.remote_ip)}",
                f"user:{name.strip().lower()}"]

    def check_throttle(self, keys: list[str]) -> None:
        wait = self.web.throttle.wait_for_all(keys)
        if wait > 0:
            raise too_many("too_many_failures", "Too many failed logins", wait)

    async def log_in(self, name: str, password: str) -> User | None:
        """Start a session (its cookie set) when the name and password are
        an account's, and say whose; count a failure otherwise (None)."""
        keys = self.throttle_keys(name)
        logins = self.web.metrics.logins
        try:
            self.check_throttle(keys)
        except ApiError:
            logins.labels("throttled").inc()
            raise
        found = await self.accounts.log_in(name, password, self.request.remote_ip,
                                           self.request.headers.get("User-Agent", ""))
        if found is None:
            self.web.throttle.failed_all(keys)
            self.log_failure(name)
            logins.labels("wrong").inc()
            return None
        logins.labels("ok").inc()
        token, user = found
        self.set_cookie(access.SESSION_COOKIE, token, httponly=True, samesite="Strict",
                        secure=self.request.protocol == "https",
                        expires_days=self.config.session_days)
        return user

    def log_failure(self, name: str) -> None:
        log.warning("failed login for %r from %s", name[:64], self.request.remote_ip)

    async def log_out(self) -> None:
        who = self.who()
        if who.session is not None:
            await self.end_session(who.session)
        self.clear_cookie(access.SESSION_COOKIE)
        self.clear_cookie(access.COOKIE)

    async def end_session(self, session_id: int) -> bool:
        """One of the user's own sessions ends; whether it was this one (its
        cookie is then cleared)."""
        await self.accounts.end_session(self.who(), session_id)
        if session_id != self.who().session:
            return False
        self.clear_cookie(access.SESSION_COOKIE)
        return True


def local_request(handler: BaseHandler) -> bool:
    """From this machine itself, not through a proxy (one on this machine
    would make every client look local: a forwarded request never is)."""
    headers = handler.request.headers
    if any(name in headers for name in ("X-Forwarded-For", "X-Real-IP", "Forwarded")):
        return False
    try:
        return ipaddress.ip_address(handler.request.remote_ip).is_loopback
    except ValueError:
        return False


class LoginHandler(AccountBase):
    def get(self) -> None:
        if not self.accounts.active and not self.config.token:
            self.redirect("/setup" if local_request(self) else "/")
            return
        self.render("login.html", error=None, accounts=self.accounts.active)

    async def post(self) -> None:
        rate_limited(self, "login")
        if self.accounts.active:
            name = self.get_body_argument("name", "")
            if await self.log_in(name, self.get_body_argument("password", "")) is None:
                self.set_status(401)
                self.render("login.html", error=WRONG, accounts=True)
                return
        elif self.config.token:
            who = self.checked(self.get_body_argument("token", ""))
            if who is None:
                self.set_status(401)
                self.render("login.html", error="That token is not right.", accounts=False)
                return
            self.set_signed_cookie(access.COOKIE, access.cookie_value(self.config.token),
                                   expires_days=access.COOKIE_DAYS, httponly=True,
                                   samesite="Strict", secure=self.request.protocol == "https")
        self.redirect("/", status=303)


class LogoutHandler(AccountBase):
    async def post(self) -> None:
        await self.log_out()
        self.redirect("/", status=303)


class SetupHandler(AccountBase):
    """The first account, the owner's: offered while there is none, to
    someone at this machine who may already do everything (an open
    gallery's user, or the holder of the access token)."""

    def allowed(self) -> None:
        if self.accounts.active:
            raise ApiError(404, "not_found", "The gallery has its owner already: log in.")
        who = self.who()
        if not (who.via == "token" or (who.via == "open" and local_request(self))):
            raise ApiError(403, "forbidden", "The owner's account is made from the machine "
                           "the gallery runs on (or with `faces user add`).")

    def get(self) -> None:
        self.allowed()
        self.render("setup.html", error=None)

    async def post(self) -> None:
        self.allowed()
        name = self.get_body_argument("name", "")
        password = self.get_body_argument("password", "")
        if password != self.get_body_argument("again", ""):
            self.set_status(400)
            self.render("setup.html", error="The two passwords differ.")
            return
        try:
            await self.accounts.add_user(name, "owner", password)
        except BadRequest as exc:
            self.set_status(400)
            self.render("setup.html", error=exc.message)
            return
        await self.log_in(name, password)
        self.redirect("/account", status=303)


def session_json(row: Any, current: int | None) -> dict:
    return {"id": row.id, "created": when(row.created), "last_used": when(row.seen),
            "address": row.address, "agent": row.agent, "current": row.id == current}


def key_json(key: Any) -> dict:
    return {"id": key.id, "role": key.role, "label": key.label, "created": when(key.created),
            "last_used": when(key.used)}


def who_json(handler: BaseHandler) -> dict:
    who = handler.who()
    return {"user": who.name or None, "role": who.role, "via": who.via,
            "accounts": handler.accounts.active}


class SessionApiHandler(ApiOriginCheck, AccountBase):
    """GET: who the request is from. POST ``{"name", "password"}``: log in
    (the session cookie set). DELETE: log out (this session ends)."""

    def get(self) -> None:
        self.write_json(who_json(self))

    async def post(self) -> None:
        name, password = forms.login(forms.json_body(self.request.body))
        if not self.accounts.active:
            raise ApiError(409, "no_accounts", "This gallery has no accounts (it is open, or "
                           "uses its access token): `faces user add NAME --role owner` makes "
                           "the first.")
        user = await self.log_in(name, password)
        if user is None:
            raise ApiError(401, "wrong_login", WRONG)
        self.write_json({"user": user.name, "role": user.role, "via": "session",
                         "accounts": True}, 201)

    async def delete(self) -> None:
        await self.log_out()
        self.set_status(204)
        self.finish()


class SessionsBase(ApiOriginCheck, AccountBase):
    def prepare(self) -> None:
        self.only_allowed_methods()
        who = self.who()
        if who.user is None:
            raise ApiError(404, "not_found", "Sessions and keys are an account's: log in "
                           "with a name and password.")


class SessionsApiHandler(SessionsBase):
    """Your sessions, the current one marked."""

    def get(self) -> None:
        who = self.who()
        self.write_json({"sessions": [session_json(row, who.session)
                                      for row in self.accounts.sessions_of(who.user.id)]})


class SessionEndApiHandler(SessionsBase):
    """DELETE: one of your sessions ends (its pages' live updates close)."""

    async def delete(self, session_id: str) -> None:
        await self.end_session(int(session_id))
        self.set_status(204)
        self.finish()


class KeysApiHandler(SessionsBase):
    """GET: your API keys. POST ``{"role", "label"}``: a new key, at most your
    role, shown this once (``key``); made from a session only."""

    def get(self) -> None:
        keys = self.accounts.catalogue.keys_of(self.who().user.id)
        self.write_json({"keys": [key_json(key) for key in keys]})

    async def post(self) -> None:
        role, label = forms.new_key(forms.json_body(self.request.body))
        token, key = await self.services.catalogue.write(
            self.accounts.add_key_now, self.who(), role or self.who().role, label)
        self.write_json({**key_json(key), "key": token}, 201)


class KeyApiHandler(SessionsBase):
    async def delete(self, key_id: str) -> None:
        await self.services.catalogue.write(self.accounts.remove_key_now, self.who(),
                                            int(key_id))
        self.set_status(204)
        self.finish()


ROUTES = [
    (r"/login", LoginHandler),
    (r"/logout", LogoutHandler),
    (r"/setup", SetupHandler),
    (r"/api/session", SessionApiHandler),
    (r"/api/sessions", SessionsApiHandler),
    (r"/api/sessions/([0-9]{1,18})", SessionEndApiHandler),
    (r"/api/keys", KeysApiHandler),
    (r"/api/keys/([0-9]{1,18})", KeyApiHandler),
]

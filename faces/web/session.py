"""Logging in and out of a gallery that has an access token: a form for
browsers, and a signed cookie that stands for the token."""

from __future__ import annotations

from . import access
from .base import BaseHandler, rate_limited


class LoginHandler(BaseHandler):
    def get(self) -> None:
        if not self.config.token:
            self.redirect("/")
            return
        self.render("login.html", error=None)

    def post(self) -> None:
        token = self.config.token
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


ROUTES = [
    (r"/login", LoginHandler),
    (r"/logout", LogoutHandler),
]

"""``/account``: who you are, your password, your sessions and API keys
(end one, make one, remove one), and for the owner the accounts (a role,
remove, add) and the share links (views, last use, revoke). Plain forms:
it works without JavaScript. The same changes as :mod:`.session`'s,
:mod:`.users`' and :mod:`.shares`' APIs, through the same use case."""

from __future__ import annotations

import time

from ..errors import BadRequest, Conflict, NotFound
from . import forms
from .errors import ApiError, refused_status
from .session import AccountBase, key_json, session_json
from .shares import existing, link_url, share_json
from .users import user_json


class AccountPageHandler(AccountBase):
    def get(self) -> None:
        if self.who().user is None:
            self.redirect("/login")
            return
        self.show()

    def show(self, new_key: str | None = None, new_link: str | None = None,
             error: str | None = None) -> None:
        who = self.who()
        catalogue = self.accounts.catalogue
        sessions = [session_json(row, who.session)
                    for row in self.accounts.sessions_of(who.user.id)]
        keys = [key_json(key) for key in catalogue.keys_of(who.user.id)]
        shares = [share_json(share, self.services) for share in catalogue.shares()] \
            if who.may("share") else None
        users = [user_json(user, self) for user in catalogue.users()] \
            if who.may("users") else None
        self.render("account.html", who=who, sessions=sessions, keys=keys, shares=shares,
                    users=users, new_key=new_key, new_link=new_link, error=error,
                    now=time.time())

    async def post(self) -> None:
        if self.who().user is None:
            raise ApiError(401, "unauthorised", "Log in first.")
        action = self.get_body_argument("do", "")
        target = self.get_body_argument("id", "")
        write, accounts = self.services.catalogue.write, self.accounts
        try:
            if action == "end-session" and target.isdigit():
                if await self.end_session(int(target)):
                    self.redirect("/login", status=303)
                    return
            elif action == "add-key":
                token, _ = await write(accounts.add_key_now, self.who(),
                                       self.get_body_argument("role", self.who().role),
                                       self.get_body_argument("label", ""))
                self.show(new_key=token)
                return
            elif action == "remove-key" and target.isdigit():
                await write(accounts.remove_key_now, self.who(), int(target))
            elif action == "share-person":
                self.require("share")
                days = self.get_body_argument("days", "")
                password = self.get_body_argument("password", "")
                new = existing(forms.new_share({
                    "person": self.get_body_argument("person", ""),
                    **({"days": float(days)} if days.replace(".", "", 1).isdigit() else {}),
                    **({"password": password} if password else {}),
                    "label": self.get_body_argument("label", ""),
                    **{name: self.get_body_argument(name, "") == "1"
                       for name in ("downloads", "names", "boxes")}}), self.services)
                token, _ = await accounts.add_share(self.who(), new)
                self.show(new_link=link_url(self, token))
                return
            elif action == "password":
                if not await self.change_password():
                    return
            elif action in ("add-user", "set-role", "remove-user"):
                self.require("users")
                await self.manage_user(action, target)
            elif action == "revoke-share" and target.isdigit():
                self.require("share")
                await accounts.revoke_share(int(target))
            else:
                raise BadRequest("bad_action", "Unknown action.")
        except (BadRequest, NotFound, Conflict) as exc:
            self.set_status(refused_status(exc))
            self.show(error=exc.message)
            return
        self.redirect("/account", status=303)

    async def change_password(self) -> bool:
        """Your own new password, given the current one (throttled as a
        login is); every session of yours ends, and this browser gets a new
        one. False when refused (the page is shown again, saying why)."""
        who = self.who()
        password = self.get_body_argument("password", "")
        if password != self.get_body_argument("again", ""):
            raise BadRequest("passwords_differ", "The two new passwords differ.")
        keys = self.throttle_keys(who.name)
        self.check_throttle(keys)
        if await self.accounts.verify(who.name, self.get_body_argument("current", "")) is None:
            self.web.throttle.failed_all(keys)
            self.set_status(401)
            self.show(error="That is not your current password.")
            return False
        await self.accounts.set_user(who.user.id, password=password)
        await self.log_in(who.name, password)
        return True

    async def manage_user(self, action: str, target: str) -> None:
        """The owner's changes to accounts (as /api/users and `faces user`)."""
        accounts = self.accounts
        if action == "add-user":
            await accounts.add_user(self.get_body_argument("name", ""),
                                    self.get_body_argument("role", "viewer"),
                                    self.get_body_argument("password", ""))
            return
        if not target.isdigit():
            raise NotFound("no_user", "There is no such user.")
        if action == "set-role":
            await accounts.set_user(int(target), role=self.get_body_argument("role", ""))
        else:
            await accounts.remove_user(int(target))


ROUTES = [(r"/account", AccountPageHandler)]

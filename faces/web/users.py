"""The owner's accounts API (``/api/users``): list, add, a new role or
password, remove; what `faces user` does on the command line, and the
owner's part of ``/account``. Every change of role or password, and a
removal, ends the user's sessions (their pages' live connections close)."""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest, Conflict, NotFound
from ..library.catalogue_accounts import User
from . import forms
from .base import ApiOriginCheck, BaseHandler
from .views import when


def user_json(user: User, handler: BaseHandler) -> dict[str, Any]:
    accounts = handler.accounts
    sessions = [row for row in accounts.catalogue.sessions_of(user.id) if accounts.lasts(row)]
    return {"id": user.id, "name": user.name, "role": user.role, "created": when(user.created),
            "sessions": len(sessions), "keys": len(accounts.catalogue.keys_of(user.id))}


def string(body: Any, name: str) -> str | None:
    """The field ``name`` of a JSON object: a string, or None when it is not
    there (null is no string either)."""
    if not isinstance(body, dict):
        raise BadRequest("bad_json", "The body must be a JSON object.")
    if name not in body:
        return None
    if not isinstance(body[name], str):
        raise BadRequest("bad_field", f"'{name}' must be a string.")
    return body[name]


class UsersBase(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        self.only_allowed_methods()
        self.require("users")

    def user(self, user_id: str) -> User:
        user = self.accounts.catalogue.user(int(user_id))
        if user is None:
            raise NotFound("no_user", "There is no such user.")
        return user


class UsersApiHandler(UsersBase):
    """GET: every account. POST ``{"name", "role", "password"}``: a new one."""

    def get(self) -> None:
        self.write_json({"users": [user_json(user, self)
                                   for user in self.accounts.catalogue.users()]})

    async def post(self) -> None:
        body = forms.json_body(self.request.body)
        name, role, password = (string(body, key) for key in ("name", "role", "password"))
        if name is None or password is None:
            raise BadRequest("bad_field", "A new user needs a 'name' and a 'password'.")
        if not self.accounts.active and self.who().via != "token":
            raise Conflict("owner_first", "The owner's account is made on the gallery's own "
                           "machine (/setup) or with `faces user add NAME --role owner`.")
        user = await self.services.catalogue.write(self.accounts.add_user_now, name,
                                                   role or "viewer", password)
        self.set_header("Location", f"/api/users/{user.id}")
        self.write_json(user_json(user, self), 201)


class UserApiHandler(UsersBase):
    """PATCH ``{"role"}`` and/or ``{"password"}``: their sessions end.
    DELETE: the account, its sessions and keys (never the only owner)."""

    async def patch(self, user_id: str) -> None:
        user = self.user(user_id)
        body = forms.json_body(self.request.body)
        role, password = string(body, "role"), string(body, "password")
        if role is None and password is None:
            raise BadRequest("bad_field", "Give a new 'role' or 'password'.")
        write = self.services.catalogue.write
        if role is not None:
            await write(self.accounts.set_role_now, user.name, role)
        if password is not None:
            await write(self.accounts.set_password_now, user.name, password)
        self.web.check_connections()
        self.write_json(user_json(self.accounts.catalogue.user(user.id), self))

    async def delete(self, user_id: str) -> None:
        user = self.user(user_id)
        await self.services.catalogue.write(self.accounts.remove_user_now, user.name)
        self.web.check_connections()
        self.set_status(204)
        self.finish()


ROUTES = [
    (r"/api/users", UsersApiHandler),
    (r"/api/users/([0-9]{1,18})", UserApiHandler),
]

"""The owner's accounts API (``/api/users``): list, add, a new role or
password, remove; what `faces user` does on the command line, and the
owner's part of ``/account``. Every change of role or password, and a
removal, ends the user's sessions (their pages' live connections close)."""

from __future__ import annotations

from typing import Any

from ..errors import Conflict
from ..library.catalogue_accounts import User
from . import forms
from .base import ApiOriginCheck, BaseHandler
from .views import when


def user_json(user: User, handler: BaseHandler) -> dict[str, Any]:
    accounts = handler.accounts
    return {"id": user.id, "name": user.name, "role": user.role, "created": when(user.created),
            "sessions": len(accounts.sessions_of(user.id)),
            "keys": len(accounts.catalogue.keys_of(user.id))}


class UsersBase(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        self.only_allowed_methods()
        self.require("users")


class UsersApiHandler(UsersBase):
    """GET: every account. POST ``{"name", "role", "password"}``: a new one."""

    def get(self) -> None:
        self.write_json({"users": [user_json(user, self)
                                   for user in self.accounts.catalogue.users()]})

    async def post(self) -> None:
        name, role, password = forms.new_user(forms.json_body(self.request.body))
        if not self.accounts.active and self.who().via != "token":
            raise Conflict("owner_first", "The owner's account is made on the gallery's own "
                           "machine (/setup) or with `faces user add NAME --role owner`.")
        user = await self.accounts.add_user(name, role, password)
        self.set_header("Location", f"/api/users/{user.id}")
        self.write_json(user_json(user, self), 201)


class UserApiHandler(UsersBase):
    """PATCH ``{"role"}`` and/or ``{"password"}``: their sessions end.
    DELETE: the account, its sessions and keys (never the only owner)."""

    async def patch(self, user_id: str) -> None:
        self.accounts.user_by_id(int(user_id))  # (404 before the body's 400)
        role, password = forms.user_change(forms.json_body(self.request.body))
        user = await self.accounts.set_user(int(user_id), role, password)
        self.write_json(user_json(user, self))

    async def delete(self, user_id: str) -> None:
        await self.accounts.remove_user(int(user_id))
        self.set_status(204)
        self.finish()


ROUTES = [
    (r"/api/users", UsersApiHandler),
    (r"/api/users/([0-9]{1,18})", UserApiHandler),
]

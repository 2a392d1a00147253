"""The library folders: ``/api/library`` (each root, its state and scan),
adding and removing a root, scanning again, and the user's yes to what a
pass held back."""

from __future__ import annotations

from ..errors import NotFound
from . import forms
from .base import ApiOriginCheck, BaseHandler
from .views import root_json


class LibraryBase(ApiOriginCheck, BaseHandler):
    def prepare(self) -> None:
        self.require("view" if self.request.method in ("GET", "HEAD") else "library")

    def root(self, root_id: str) -> str:
        """The path of the root with this id; raises NotFound."""
        for status in self.services.folders.list():
            if str(status.root.id) == root_id:
                return status.root.path
        raise NotFound("unknown_root", "There is no library folder with that id.")


class LibraryApiHandler(LibraryBase):
    """GET: every root. POST ``{"path"}``: a folder added (and scanned)."""

    def get(self) -> None:
        folders = self.services.folders
        self.write_json({"roots": [root_json(status) for status in folders.list()],
                         "scanning": folders.busy})

    async def post(self) -> None:
        path = forms.folder_path(forms.json_body(self.request.body))
        status = await self.services.folders.add(path)
        self.write_json(root_json(status), 201)


class RootApiHandler(LibraryBase):
    """GET: one root. DELETE: forget it (its photos that are nowhere else
    leave the gallery; its files are never touched)."""

    def get(self, root_id: str) -> None:
        path = self.root(root_id)
        self.write_json(root_json(self.services.folders.find(path)))

    async def delete(self, root_id: str) -> None:
        removed = await self.services.folders.remove(self.root(root_id))
        self.write_json({"removed_photos": removed})


class RootScanHandler(LibraryBase):
    """POST: look at the root again now (202: it runs in the background)."""

    def post(self, root_id: str) -> None:
        folders = self.services.folders
        self.write_json(root_json(folders.scan(self.root(root_id))[0]), 202)


class RootConfirmHandler(LibraryBase):
    """POST: yes to what the last pass held back (files gone, another
    device, an emptied folder)."""

    async def post(self, root_id: str) -> None:
        status = await self.services.folders.confirm(self.root(root_id))
        self.write_json(root_json(status), 202)


ROUTES = [
    (r"/api/library", LibraryApiHandler),
    (r"/api/library/roots/([0-9]+)", RootApiHandler),
    (r"/api/library/roots/([0-9]+)/scan", RootScanHandler),
    (r"/api/library/roots/([0-9]+)/confirm", RootConfirmHandler),
]

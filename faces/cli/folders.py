"""`faces library`: the library folders of a running server (list, add,
remove, scan, confirm), asked over its API as `faces import` is, with the
server's address and token from FACES_SERVER and FACES_TOKEN."""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request
from typing import Any

from .. import settings
from ..library.folders import absolute
from .common import CommandError, Progress, command, confirmed

POLL = 0.5  # seconds between two looks at a scan's progress


class Client:
    def __init__(self, server: str, token: str) -> None:
        if not server.startswith(("http://", "https://")):
            raise CommandError(f"FACES_SERVER must be an http:// or https:// address, not "
                               f"{server!r}")
        self.server = server.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data,  # noqa: S310 (http(s))
                                         method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {exc.code}"
            raise CommandError(message) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CommandError(f"cannot reach the faces server at {self.server} ({reason}): "
                               f"is it running? (FACES_SERVER sets where)") from None

    def roots(self) -> list[dict]:
        return self.call("GET", "/api/library")["roots"]

    def root(self, path: str) -> dict:
        wanted = path.rstrip("/") or "/"
        for root in self.roots():
            if root["path"] == wanted or root["path"] == absolute(wanted):
                return root
        raise CommandError(f"{path} is not a library folder (`faces library list` shows them)")


def line(root: dict) -> str:
    counts = f"{root['photos']} photos"
    if root["offline"]:
        counts += f", {root['offline']} offline"
    if root["problems"]["files"]:
        counts += f", {root['problems']['files']} files not read"
    scan = root["scan"]
    state = "scanning" if scan["running"] else root["state"]
    text = f"{root['path']}  {state}  {counts}  ({root['watching']})"
    if root["why"]:
        text += f"\n    {root['why']}"
    for problem in root["problems"]["first"]:
        text += f"\n    not read: {problem['path']}: {problem['why']}"
    for problem in root["problems"]["folders"]:
        text += f"\n    folder {problem['path'] or '.'}: {problem['why']}"
    return text


def client(args: argparse.Namespace) -> Client:
    try:
        found = settings.from_sources(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Client(found.server, found.token)


def wait(api: Client, path: str | None) -> list[dict]:
    """Until every scan asked for is done, with a progress bar; the roots."""
    progress = Progress(0)
    time.sleep(POLL)
    while True:
        answer = api.call("GET", "/api/library")
        roots = [r for r in answer["roots"] if path is None or r["path"] == path]
        total = sum(r["scan"]["total"] for r in roots)
        done = sum(r["scan"]["done"] for r in roots)
        if total:
            progress(min(done, total), total)
        if not any(r["scan"]["running"] for r in roots) and not answer["scanning"]:
            return roots
        time.sleep(POLL)


def run(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.folder:
        raise CommandError(f"`faces library {args.action}` needs a folder")
    api = client(args)
    action = args.action
    if action == "list":
        roots = api.roots()
        if args.json:
            print(json.dumps(roots, indent=2))
        else:
            for root in roots:
                print(line(root))
            print(f"{len(roots)} library folders")
        return 0
    if action == "add":
        root = api.call("POST", "/api/library", {"path": absolute(args.folder)})
        print(f"added {root['path']}: scanning it in the background")
        if args.wait:
            for found in wait(api, root["path"]):
                print(line(found))
        return 0
    root = api.root(args.folder)
    if action == "remove":
        if not args.yes and not confirmed(
                f"remove {root['path']} from the library? Its {root['photos']} photos leave "
                f"the gallery unless they are elsewhere too (its files are not touched)"):
            raise CommandError("nothing was removed (--yes answers for scripts)")
        answer = api.call("DELETE", f"/api/library/roots/{root['id']}")
        print(f"removed {root['path']}: {answer['removed_photos']} photos left the gallery")
        return 0
    api.call("POST", f"/api/library/roots/{root['id']}/{action}")  # scan, confirm
    print(f"{'confirmed' if action == 'confirm' else 'scanning'} {root['path']}")
    if args.wait:
        roots = wait(api, root["path"])
        for found in roots:
            print(line(found))
        if any(found["state"] != "ok" for found in roots):
            return 1
    return 0



def add_commands(commands: argparse._SubParsersAction) -> None:
    library = command(
        commands, "library", run,
        help="the folders of photos the server indexes where they are",
        description="List, add, remove, scan and confirm the library folders of the running "
        "server (FACES_SERVER, with FACES_TOKEN). faces reads them and never writes into "
        "them; FACES_LIBRARY sets folders at start.")
    library.add_argument("action", choices=("list", "add", "remove", "scan", "confirm"),
                         help="list the folders; add or remove one; scan one again now; "
                         "confirm what a scan held back (files gone, a new disk)")
    library.add_argument("folder", nargs="?", help="the folder (not for list)")
    library.add_argument("--wait", action="store_true",
                         help="add, scan, confirm: wait for the scan, with a progress bar")
    library.add_argument("--json", action="store_true", help="list: as JSON")
    library.add_argument("--yes", action="store_true", help="remove: do not ask first")

"""`faces user`: the gallery's accounts (add, list, remove, a new password,
a new role), written straight into the data directory's catalogue, so it
works with the server running or not; a change to someone's role or
password, or their removal, ends their sessions, and the running server
closes their pages' live connections within a second. The rules are
:mod:`faces.library.accounts`'s."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from ..errors import DataDirError, Refused
from ..library import datadir
from ..library.catalogue import Catalogue
from ..library.files import Files
from ..services import accounts_of
from .common import CommandError, command, config, confirmed


def read_password(name: str) -> str:
    """From the terminal (asked twice), else the first line of standard input."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {name}: ")
    if getpass.getpass("Again: ") != first:
        raise CommandError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    found = config(args)
    if args.action != "list" and not args.name:
        raise CommandError(f"`faces user {args.action}` needs the user's NAME")
    try:
        datadir.check(found.data_dir)  # (what `faces serve` checks and makes first)
        Files(found.data_dir)
        catalogue = Catalogue(found.data_dir)
    except DataDirError as exc:
        raise CommandError(str(exc)) from None
    accounts = accounts_of(found, catalogue)
    try:
        if args.action == "list":
            users = catalogue.users()
            if not users:
                print("no accounts: the gallery is open (or needs its access token); "
                      "`faces user add NAME --role owner` makes the first")
            for user in users:
                sessions = len(accounts.sessions_of(user.id))
                keys = len(catalogue.keys_of(user.id))
                made = datetime.fromtimestamp(user.created).strftime("%Y-%m-%d")
                print(f"{user.name}\t{user.role}\t{sessions} sessions\t{keys} keys\t"
                      f"since {made}")
        elif args.action == "add":
            user = accounts.add_user_now(args.name, args.role or "viewer",
                                         accounts.hash_password(read_password(args.name)))
            print(f"added {user.name} ({user.role})")
        elif args.action == "passwd":
            user = accounts.set_password_now(args.name,
                                             accounts.hash_password(read_password(args.name)))
            print(f"new password for {user.name}; their sessions have ended")
        elif args.action == "role":
            role = args.new_role or args.role
            if not role:
                raise CommandError("say the new role: `faces user role NAME editor`")
            before = accounts.user_now(args.name).role
            user = accounts.set_role_now(args.name, role)
            print(f"{user.name} is {user.role} already" if before == user.role else
                  f"{user.name} is now {user.role}; their sessions have ended")
        elif args.action == "remove":
            user = accounts.user_now(args.name)
            if not args.yes and not confirmed(f"Remove {user.name} ({user.role}), their "
                                              f"sessions and keys?"):
                raise CommandError("not removed (say --yes to remove without asking)")
            accounts.remove_user_now(args.name)
            print(f"removed {user.name}")
    except Refused as exc:
        raise CommandError(exc.message) from None
    finally:
        catalogue.close()
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    user = command(
        commands, "user", run,
        help="the gallery's accounts: add, list, remove, passwd, role",
        description="Accounts with roles: an owner (everything, share links, accounts), "
        "editors (upload, name, correct, delete) and viewers (look, download). Once one "
        "exists, everyone logs in. Passwords are read from the terminal (or the first line "
        "of standard input) and stored as Argon2id hashes. Works whether the server runs "
        "or not.")
    user.add_argument("action", choices=("add", "list", "remove", "passwd", "role"))
    user.add_argument("name", nargs="?", help="the user's name (not for list)")
    user.add_argument("new_role", nargs="?", metavar="ROLE",
                      help="role: the new role (owner, editor or viewer)")
    user.add_argument("--role", choices=("owner", "editor", "viewer"),
                      help="add: the new user's role (default viewer; the first is the owner)")
    user.add_argument("--yes", action="store_true", help="remove: without asking")

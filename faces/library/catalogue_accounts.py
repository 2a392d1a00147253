"""The catalogue's rows for access (:mod:`.accounts`): users, their
sessions and API keys, and share links with the photos they share. No
secret is stored in clear: passwords are Argon2id hashes, tokens and keys
their SHA-256. Changes run on the writer (``Catalogue.write``), reads by
key on the event loop's connection."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    password: str  # its Argon2id hash
    created: float


@dataclass(frozen=True)
class SessionRow:
    id: int
    user: int
    created: float
    seen: float
    address: str
    agent: str


@dataclass(frozen=True)
class Key:
    id: int
    user: int
    role: str
    label: str
    created: float
    used: float | None


@dataclass(frozen=True)
class Share:
    id: int
    person: str | None
    kind: str
    label: str
    made_by: int | None
    created: float
    expires: float
    password: str | None  # its Argon2id hash; None: no password
    downloads: bool
    names: bool
    boxes: bool
    views: int
    used: float | None


USER = "id, name, role, password, created"
SESSION = "id, user, created, seen, address, agent"
KEY = "id, user, role, label, created, used"
SHARE = ("id, person, kind, label, made_by, created, expires, password, downloads, names, "
         "boxes, views, used")


def _share(row: tuple | None) -> Share | None:
    if row is None:
        return None
    *head, downloads, names, boxes, views, used = row
    return Share(*head, bool(downloads), bool(names), bool(boxes), views, used)


class AccountRows:
    db: sqlite3.Connection

    def edit(self) -> AbstractContextManager[None]:
        raise NotImplementedError  # (the catalogue's)

    # users

    def has_users(self) -> bool:
        return self.db.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0] == 1

    def users(self) -> list[User]:
        return [User(*row) for row in self.db.execute(f"SELECT {USER} FROM users ORDER BY id")]

    def user(self, user_id: int) -> User | None:
        row = self.db.execute(f"SELECT {USER} FROM users WHERE id = ?", (user_id,)).fetchone()
        return User(*row) if row else None

    def user_named(self, name: str) -> User | None:
        row = self.db.execute(f"SELECT {USER} FROM users WHERE name = ?", (name,)).fetchone()
        return User(*row) if row else None

    def owners(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM users WHERE role = 'owner'").fetchone()[0]

    def add_user(self, name: str, role: str, password: str, now: float) -> User:
        with self.edit():
            cursor = self.db.execute("INSERT INTO users (name, role, password, created) "
                                     "VALUES (?, ?, ?, ?)", (name, role, password, now))
        return User(cursor.lastrowid, name, role, password, now)

    def set_user(self, user_id: int, role: str | None = None, password: str | None = None,
                 end_sessions: bool = True, above: tuple[str, ...] = ()) -> None:
        """A new role or password hash; every session of the user ends with it
        (and their keys of the roles ``above`` a lowered role come down to it)."""
        with self.edit():
            if role is not None:
                self.db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
                self.db.executemany("UPDATE keys SET role = ? WHERE user = ? AND role = ?",
                                    [(role, user_id, higher) for higher in above])
            if password is not None:
                self.db.execute("UPDATE users SET password = ? WHERE id = ?",
                                (password, user_id))
            if end_sessions:
                self.db.execute("DELETE FROM sessions WHERE user = ?", (user_id,))

    def remove_user(self, user_id: int) -> None:
        with self.edit():  # (its sessions and keys go with it)
            self.db.execute("DELETE FROM users WHERE id = ?", (user_id,))

    # sessions

    def add_session(self, digest: str, user_id: int, now: float, address: str,
                    agent: str) -> int:
        with self.edit():
            return self.db.execute(
                "INSERT INTO sessions (hash, user, created, seen, address, agent) "
                "VALUES (?, ?, ?, ?, ?, ?)", (digest, user_id, now, now, address, agent)
            ).lastrowid

    def session(self, digest: str) -> SessionRow | None:
        row = self.db.execute(f"SELECT {SESSION} FROM sessions WHERE hash = ?",
                              (digest,)).fetchone()
        return SessionRow(*row) if row else None

    def session_by_id(self, session_id: int) -> SessionRow | None:
        row = self.db.execute(f"SELECT {SESSION} FROM sessions WHERE id = ?",
                              (session_id,)).fetchone()
        return SessionRow(*row) if row else None

    def sessions_of(self, user_id: int) -> list[SessionRow]:
        return [SessionRow(*row) for row in self.db.execute(
            f"SELECT {SESSION} FROM sessions WHERE user = ? ORDER BY seen DESC", (user_id,))]

    def seen(self, session_id: int, now: float) -> None:
        with self.edit():
            self.db.execute("UPDATE sessions SET seen = ? WHERE id = ?", (now, session_id))

    def end_session(self, session_id: int) -> None:
        with self.edit():
            self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def end_stale_sessions(self, idle_before: float, made_before: float) -> int:
        with self.edit():
            return self.db.execute("DELETE FROM sessions WHERE seen < ? OR created < ?",
                                   (idle_before, made_before)).rowcount

    # API keys

    def add_key(self, digest: str, user_id: int, role: str, label: str, now: float) -> Key:
        with self.edit():
            cursor = self.db.execute("INSERT INTO keys (hash, user, role, label, created) "
                                     "VALUES (?, ?, ?, ?, ?)",
                                     (digest, user_id, role, label, now))
        return Key(cursor.lastrowid, user_id, role, label, now, None)

    def key(self, digest: str) -> Key | None:
        row = self.db.execute(f"SELECT {KEY} FROM keys WHERE hash = ?", (digest,)).fetchone()
        return Key(*row) if row else None

    def key_by_id(self, key_id: int) -> Key | None:
        row = self.db.execute(f"SELECT {KEY} FROM keys WHERE id = ?", (key_id,)).fetchone()
        return Key(*row) if row else None

    def keys_of(self, user_id: int) -> list[Key]:
        return [Key(*row) for row in self.db.execute(
            f"SELECT {KEY} FROM keys WHERE user = ? ORDER BY id", (user_id,))]

    def key_used(self, key_id: int, now: float) -> None:
        with self.edit():
            self.db.execute("UPDATE keys SET used = ? WHERE id = ?", (now, key_id))

    def remove_key(self, key_id: int) -> None:
        with self.edit():
            self.db.execute("DELETE FROM keys WHERE id = ?", (key_id,))

    # share links

    def add_share(self, digest: str, kind: str, person: str | None, photos: list[str],
                  label: str, made_by: int | None, now: float, expires: float,
                  password: str | None, downloads: bool, names: bool, boxes: bool) -> int:
        with self.edit():
            share_id = self.db.execute(
                "INSERT INTO shares (hash, person, kind, label, made_by, created, expires, "
                "password, downloads, names, boxes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (digest, person, kind, label, made_by, now, expires, password, int(downloads),
                 int(names), int(boxes))).lastrowid
            self.db.executemany("INSERT OR IGNORE INTO share_photos (share, photo) VALUES (?, ?)",
                                [(share_id, photo) for photo in photos])
        return share_id

    def share(self, share_id: int) -> Share | None:
        return _share(self.db.execute(f"SELECT {SHARE} FROM shares WHERE id = ?",
                                      (share_id,)).fetchone())

    def share_by_hash(self, digest: str) -> Share | None:
        return _share(self.db.execute(f"SELECT {SHARE} FROM shares WHERE hash = ?",
                                      (digest,)).fetchone())

    def shares(self) -> list[Share]:
        return [_share(row) for row in self.db.execute(
            f"SELECT {SHARE} FROM shares ORDER BY id DESC")]

    def share_used(self, share_id: int, now: float, viewed: bool = False) -> None:
        with self.edit():
            self.db.execute("UPDATE shares SET used = ?, views = views + ? WHERE id = ?",
                            (now, int(viewed), share_id))

    def remove_share(self, share_id: int) -> bool:
        with self.edit():
            return self.db.execute("DELETE FROM shares WHERE id = ?", (share_id,)).rowcount > 0

    SHARED = ("SELECT photo FROM share_photos WHERE share = ?"
              " UNION SELECT photo FROM faces WHERE person = ? AND pinned = 1")

    def shared_photos(self, share: Share, limit: int = 10_000) -> list[str]:
        """The share's photos, newest taken first: those listed when it was
        made and, for a person, photos where a face was confirmed theirs."""
        return [row[0] for row in self.db.execute(
            f"SELECT p.id FROM photos AS p WHERE p.id IN ({self.SHARED})"
            " ORDER BY p.taken_key DESC, p.seq DESC LIMIT ?", (share.id, share.person, limit))]

    def shared_count(self, share: Share, limit: int = 10_000) -> int:
        """How many photos :meth:`shared_photos` lists (counted, not read)."""
        return self.db.execute(f"SELECT COUNT(*) FROM ({self.SHARED} LIMIT ?)",
                               (share.id, share.person, limit)).fetchone()[0]

    def is_shared(self, share: Share, photo_id: str) -> bool:
        return self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM share_photos WHERE share = ? AND photo = ?) OR "
            "EXISTS (SELECT 1 FROM faces WHERE photo = ? AND person = ? AND pinned = 1 "
            "AND ? IS NOT NULL)",
            (share.id, photo_id, photo_id, share.person, share.person)).fetchone()[0] == 1

    def photos_of_person(self, person: str) -> list[str]:
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT photo FROM faces WHERE person = ?", (person,))]

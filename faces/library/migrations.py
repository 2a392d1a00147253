"""The catalogue's schema, as a list of migrations. ``PRAGMA user_version``
says how many have run; :func:`migrate` runs the rest at start-up, in one
transaction, after a backup of the file. A schema change is a new entry at
the end of MIGRATIONS, never an edit to an old one.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from ..errors import DataDirError

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[str, str]] = [
    ("photos table (the first build's schema, faces as JSON)", """
        CREATE TABLE IF NOT EXISTS photos (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            filename TEXT NOT NULL,
            created TEXT NOT NULL,
            width INTEGER NOT NULL,
            height INTEGER NOT NULL,
            faces TEXT NOT NULL,
            original TEXT NOT NULL,
            annotated TEXT NOT NULL,
            thumbnail TEXT NOT NULL
        );
    """),
    ("faces in their own table, one row per face", """
        CREATE TABLE faces (
            id INTEGER PRIMARY KEY,
            photo TEXT NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
            score REAL NOT NULL,
            landmarks TEXT,
            UNIQUE (photo, position)
        );
        INSERT INTO faces (photo, position, x1, y1, x2, y2, score, landmarks)
            SELECT p.id, f.key,
                   json_extract(f.value, '$.box[0]'), json_extract(f.value, '$.box[1]'),
                   json_extract(f.value, '$.box[2]'), json_extract(f.value, '$.box[3]'),
                   json_extract(f.value, '$.score'),
                   CASE WHEN json_type(f.value, '$.landmarks') = 'array'
                        THEN json_extract(f.value, '$.landmarks') END
            FROM photos AS p, json_each(p.faces) AS f
            ORDER BY p.seq, f.key;
        ALTER TABLE photos DROP COLUMN faces;
    """),
    ("people: a descriptor and a person per face", """
        CREATE TABLE people (
            id TEXT PRIMARY KEY,
            name TEXT,
            hidden INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL
        );
        ALTER TABLE faces ADD COLUMN descriptor BLOB;
        ALTER TABLE faces ADD COLUMN person TEXT REFERENCES people(id) ON DELETE SET NULL;
        ALTER TABLE faces ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE faces ADD COLUMN crop TEXT;
        ALTER TABLE photos ADD COLUMN recognised INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX faces_person ON faces (person);
        CREATE INDEX photos_waiting ON photos (recognised) WHERE recognised = 0;
    """),
    ("descriptors by recognizer, face quality, added faces, the user's no's", """
        ALTER TABLE faces ADD COLUMN recognizer TEXT;
        ALTER TABLE faces ADD COLUMN quality REAL;
        ALTER TABLE faces ADD COLUMN added INTEGER NOT NULL DEFAULT 0;
        UPDATE faces SET recognizer = 'dlib' WHERE descriptor IS NOT NULL;
        DROP INDEX photos_waiting;
        ALTER TABLE photos RENAME COLUMN recognised TO recognized;
        CREATE INDEX photos_waiting ON photos (recognized) WHERE recognized = 0;
        CREATE TABLE rejections (
            face INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
            person TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            PRIMARY KEY (face, person)
        );
        CREATE TABLE different (
            a TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            b TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            PRIMARY KEY (a, b),
            CHECK (a < b)
        );
        ALTER TABLE people ADD COLUMN faces INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE people ADD COLUMN photos INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE people ADD COLUMN cover INTEGER REFERENCES faces(id) ON DELETE SET NULL;
        ALTER TABLE faces ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
        UPDATE faces SET seq = (SELECT seq FROM photos WHERE photos.id = faces.photo);
        DROP INDEX faces_person;
        CREATE INDEX faces_person ON faces (person, seq);
        -- a person's cover, their best face (catalogue_people.COVER): an index look-up
        CREATE INDEX faces_cover ON faces
            (person, COALESCE(quality, 0) * MIN(y2 - y1, 300) DESC, y2 - y1 DESC, id)
            WHERE crop IS NOT NULL;
        UPDATE people SET
            faces = (SELECT COUNT(*) FROM faces WHERE person = people.id),
            photos = (SELECT COUNT(DISTINCT photo) FROM faces WHERE person = people.id),
            cover = (SELECT id FROM faces WHERE person = people.id AND crop IS NOT NULL
                     ORDER BY COALESCE(quality, 0) * MIN(y2 - y1, 300) DESC, y2 - y1 DESC, id
                     LIMIT 1);
        CREATE INDEX people_by_photos ON people (hidden, photos DESC, id);
    """),
    ("an index for every read a request makes (every person, a person by name)", """
        CREATE INDEX people_all_by_photos ON people (photos DESC, id);
        CREATE INDEX people_by_name ON people (name COLLATE NOCASE, photos DESC, id)
            WHERE name IS NOT NULL;
    """),
    ("the original kept byte for byte beside the display copy; the date taken, the camera, "
     "the place", """
        -- what was "original" is the copy the pages show; a photo stored before
        -- kept no original (NULL), and its best date is when it was uploaded
        ALTER TABLE photos RENAME COLUMN original TO display;
        ALTER TABLE photos ADD COLUMN original TEXT;
        ALTER TABLE photos ADD COLUMN taken TEXT;
        ALTER TABLE photos ADD COLUMN taken_source TEXT;
        ALTER TABLE photos ADD COLUMN taken_key TEXT NOT NULL DEFAULT '';
        ALTER TABLE photos ADD COLUMN make TEXT;
        ALTER TABLE photos ADD COLUMN model TEXT;
        ALTER TABLE photos ADD COLUMN latitude REAL;
        ALTER TABLE photos ADD COLUMN longitude REAL;
        ALTER TABLE photos ADD COLUMN orientation INTEGER NOT NULL DEFAULT 1;
        UPDATE photos SET
            taken = substr(created, 1, 19) || '+00:00',
            taken_source = 'upload',
            taken_key = substr(created, 1, 19) || '.000000';  -- (records.taken_key of taken)
        -- the timeline: newest taken first, a page after a (taken, seq) key; a
        -- person's photos too (each face knows its photo's key, as it knows its seq)
        CREATE INDEX photos_by_taken ON photos (taken_key DESC, seq DESC);
        ALTER TABLE faces ADD COLUMN taken_key TEXT NOT NULL DEFAULT '';
        UPDATE faces SET taken_key = (SELECT taken_key FROM photos WHERE photos.seq = faces.seq);
        CREATE INDEX faces_person_taken ON faces (person, taken_key DESC, seq DESC);
    """),
    ("library folders indexed in place: each root, and each file's place in it", """
        -- a folder faces indexes where it is (FACES_LIBRARY, `faces library add`);
        -- device: the st_dev its files were on (another one: not mounted)
        CREATE TABLE roots (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            device INTEGER,
            source TEXT NOT NULL DEFAULT 'added',
            added TEXT NOT NULL
        );
        -- a file in a root: its photo (the same bytes in two places are one
        -- photo), the fingerprint a rescan compares, whether it is there now;
        -- a file that is no photo keeps its reason in error (reported once)
        CREATE TABLE places (
            root INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            photo TEXT REFERENCES photos(id) ON DELETE CASCADE,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            print TEXT NOT NULL DEFAULT '',
            online INTEGER NOT NULL DEFAULT 1,
            sidecar INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            PRIMARY KEY (root, path)
        ) WITHOUT ROWID;
        CREATE INDEX places_photo ON places (photo);
        CREATE INDEX places_print ON places (size, print);
    """),
    ("accounts, their sessions and API keys, and share links", """
        -- a person who logs in; password: its Argon2id hash (never the password)
        CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
            password TEXT NOT NULL,
            created REAL NOT NULL
        );
        -- a login: the SHA-256 of its cookie's random token (never the token);
        -- ids here are never reused (AUTOINCREMENT): an ended session's live
        -- connections are checked by id
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hash TEXT NOT NULL UNIQUE,
            user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created REAL NOT NULL,
            seen REAL NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            agent TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX sessions_user ON sessions (user);
        -- an API key: its SHA-256, its role (never above its maker's)
        CREATE TABLE keys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hash TEXT NOT NULL UNIQUE,
            user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
            label TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            used REAL
        );
        CREATE INDEX keys_user ON keys (user);
        -- a share link: the SHA-256 of its token; a person's (their photos when
        -- it was made, listed in share_photos, and those confirmed theirs later)
        -- or chosen photos; expires is fixed when it is made
        CREATE TABLE shares (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hash TEXT NOT NULL UNIQUE,
            person TEXT REFERENCES people(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('person', 'photos')),
            label TEXT NOT NULL DEFAULT '',
            made_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
            created REAL NOT NULL,
            expires REAL NOT NULL,
            password TEXT,
            downloads INTEGER NOT NULL DEFAULT 0,
            names INTEGER NOT NULL DEFAULT 0,
            boxes INTEGER NOT NULL DEFAULT 0,
            views INTEGER NOT NULL DEFAULT 0,
            used REAL
        );
        CREATE TABLE share_photos (
            share INTEGER NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
            photo TEXT NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
            PRIMARY KEY (share, photo)
        ) WITHOUT ROWID;
        CREATE INDEX share_photos_photo ON share_photos (photo);
    """),
]
VERSION = len(MIGRATIONS)


def display_column(db: sqlite3.Connection) -> str:
    """The column naming a photo's display copy, in a catalogue of any
    version (read-only readers may meet one not migrated yet): "display",
    or "original" before migration 6."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(photos)")}
    return "display" if "display" in columns else "original"


def version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection, path: Path) -> int:
    """Bring the catalogue at ``path`` (open as ``db``, autocommit) up to
    VERSION; returns the version it had. Refuses a newer catalogue."""
    found = version(db)
    if found > VERSION:
        raise DataDirError(f"the catalogue {path} has schema version {found}, newer than "
                           f"this faces ({VERSION}): upgrade faces, or restore a backup made "
                           f"for this version")
    if found == VERSION:
        return found
    has_tables = db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
                            ).fetchone()[0]
    if has_tables:
        backup = path.with_name(f"{path.name}.v{found}.bak")
        with sqlite3.connect(backup) as copy:
            db.backup(copy)
        copy.close()
        log.info("catalogue schema %d -> %d; backup at %s", found, VERSION, backup)
    db.execute("BEGIN IMMEDIATE")
    try:
        for number, (what, script) in enumerate(MIGRATIONS[found:], found + 1):
            for statement in _statements(script):
                db.execute(statement)
            log.debug("catalogue migration %d: %s", number, what)
        db.execute(f"PRAGMA user_version = {VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found


def _statements(script: str) -> list[str]:
    """The script's statements, one by one (executescript would commit)."""
    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements

"""The catalogue's library folders: each root (a folder faces indexes where
it is) and each file's place in it. A photo is its content; its places are
attributes of it: a file moved or renamed is the same photo at another
place, the same bytes in two folders are one photo with two places, and a
file that is gone leaves its place offline (its photo, faces and names
stay) until it comes back.

A mixin of :class:`faces.library.catalogue.Catalogue`: changes run on its
writer, each one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .records import utc_now

PLACE_COLUMNS = "path, photo, size, mtime_ns, print, online, sidecar, error"
SMALL_FOLDER = 2000  # places under which a folder's page is read whole and sorted


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    device: int | None  # the st_dev its files were on when last seen whole
    source: str  # "settings" (FACES_LIBRARY) or "added" (`faces library add`)


@dataclass(frozen=True)
class Place:
    """A file in a root, as the catalogue last saw it."""

    path: str  # relative to the root, "/"-separated
    photo: str | None  # None: no photo (``error`` says why)
    size: int
    mtime_ns: int
    print: str  # a hash of its head and tail (:func:`faces.library.folders.fingerprint`)
    online: bool
    sidecar: int  # the modification time (ns) of the XMP sidecar read with it; 0: none
    error: str | None

    @classmethod
    def problem(cls, path: str, why: str, size: int = 0, mtime_ns: int = 0) -> Place:
        """A file that is no photo faces can read, and why (reported once)."""
        return cls(path, None, size, mtime_ns, "", True, 0, why)

    def same_file(self, size: int, mtime_ns: int) -> bool:
        return self.size == size and self.mtime_ns == mtime_ns


def _place(row: tuple) -> Place:
    """A place from a row of PLACE_COLUMNS."""
    path, photo, size, mtime_ns, print_, online, sidecar, error = row
    return Place(path, photo, size, mtime_ns, print_, bool(online), sidecar, error)


def _under(prefix: str) -> tuple[str, str]:
    """The bounds of the paths in the folder ``prefix`` ("" for all)."""
    if not prefix:
        return "", "\uffff"
    return prefix + "/", prefix + "/\uffff"


class PlaceRows:
    # -- roots -------------------------------------------------------------------

    def roots(self) -> list[Root]:
        return [Root(*row) for row in self.db.execute(
            "SELECT id, path, device, source FROM roots ORDER BY path")]

    def add_root(self, path: str, source: str = "added") -> Root:
        """The root at ``path`` (made if new; a root first set in
        FACES_LIBRARY and later added keeps being the user's)."""
        with self._transaction():
            self.db.execute("INSERT INTO roots (path, source, added) VALUES (?, ?, ?) "
                            "ON CONFLICT (path) DO NOTHING", (path, source, utc_now()))
            if source == "added":
                self.db.execute("UPDATE roots SET source = 'added' WHERE path = ?", (path,))
        return next(root for root in self.roots() if root.path == path)

    def set_device(self, root: int, device: int) -> None:
        with self._transaction():
            self.db.execute("UPDATE roots SET device = ? WHERE id = ?", (device, root))

    def remove_root(self, root: int) -> list[str]:
        """Forget a root and its places; its photos that are nowhere else
        (no other place, no uploaded original) leave the gallery with their
        faces. Returns those photos' ids (their files are the caller's)."""
        with self._transaction():
            alone = [row[0] for row in self.db.execute(
                "SELECT DISTINCT l.photo FROM places AS l JOIN photos AS p ON p.id = l.photo "
                "WHERE l.root = ? AND p.original IS NULL AND NOT EXISTS (SELECT 1 FROM places "
                "AS o WHERE o.photo = l.photo AND o.root != l.root)", (root,))]
            self.db.execute("DELETE FROM roots WHERE id = ?", (root,))
        return alone

    def root_counts(self, root: int) -> tuple[int, int, int]:
        """A root's photos online, places offline and files that are no photo."""
        return self.db.execute(
            "SELECT COUNT(DISTINCT CASE WHEN online AND photo IS NOT NULL THEN photo END), "
            "SUM(online = 0), SUM(error IS NOT NULL) FROM places WHERE root = ?",
            (root,)).fetchone()

    def errors(self, root: int, limit: int = 20) -> list[tuple[str, str]]:
        """Files of a root that are no photo, and why."""
        return list(self.db.execute("SELECT path, error FROM places WHERE root = ? AND "
                                    "error IS NOT NULL ORDER BY path LIMIT ?", (root, limit)))

    # -- places ------------------------------------------------------------------

    def places_under(self, root: int, folder: str = "") -> dict[str, Place]:
        """The places of a root inside ``folder`` ("" for all of it), by path."""
        low, high = _under(folder)
        return {row[0]: _place(row)
                for row in self.db.execute(
                    f"SELECT {PLACE_COLUMNS} FROM places WHERE root = ? AND path >= ? AND "
                    f"path < ?", (root, low, high))}

    def place_count(self, root: int) -> int:
        return self.db.execute("SELECT COUNT(*) FROM places WHERE root = ? AND photo IS NOT "
                               "NULL", (root,)).fetchone()[0]

    def with_print(self, size: int, print_: str) -> list[tuple[int, Place]]:
        """Places (in any root) of a file of this size and fingerprint: where
        a file seen at a new path may have come from."""
        return [(row[0], _place(row[1:]))
                for row in self.db.execute(
                    f"SELECT root, {PLACE_COLUMNS} FROM places WHERE size = ? AND print = ? "
                    f"AND photo IS NOT NULL", (size, print_))]

    def photo_places(self, photo_id: str) -> list[tuple[str, str, bool]]:
        """A photo's places: root path, path in it, whether online (online first)."""
        return [(root, path, bool(online)) for root, path, online in self.db.execute(
            "SELECT r.path, l.path, l.online FROM places AS l JOIN roots AS r ON r.id = l.root "
            "WHERE l.photo = ? ORDER BY l.online DESC, r.path, l.path", (photo_id,))]

    def _place_row(self, root: int, place: Place) -> tuple:
        return (root, place.path, place.photo, place.size, place.mtime_ns, place.print,
                int(place.online), place.sidecar, place.error)

    def put_places(self, root: int, places: Iterable[Place]) -> None:
        """Write these places (new, or replacing what was at their path)."""
        with self._transaction():
            self.db.executemany(
                f"INSERT OR REPLACE INTO places (root, {PLACE_COLUMNS}) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self._place_row(root, place) for place in places])

    def apply_scan(self, root: int, put: list[Place], moved: list[tuple[int, str]],
                   online: list[str], offline: list[str]) -> None:
        """What a pass over a root found, as one change: places written
        (new, changed, or moved here), the old places of files moved away
        ((root, path)), places back online, places gone offline."""
        with self._transaction():
            self.db.executemany("DELETE FROM places WHERE root = ? AND path = ?", moved)
            self.put_places(root, put)
            self.db.executemany("UPDATE places SET online = 1 WHERE root = ? AND path = ?",
                                [(root, path) for path in online])
            self.db.executemany("UPDATE places SET online = 0 WHERE root = ? AND path = ?",
                                [(root, path) for path in offline])

    def places_of(self, photo_ids: list[str]) -> list[tuple[str, str, bool]]:
        """(photo, "<root>/<path>", online) for these photos, online first
        (sorted here: a page's few rows, looked up by the photo index)."""
        found = [(photo, f"{root.rstrip('/')}/{path}", bool(online))
                 for photo, root, path, online in self.db.execute(
                     f"SELECT l.photo, r.path, l.path, l.online FROM places AS l JOIN roots "
                     f"AS r ON r.id = l.root WHERE l.photo IN "
                     f"({', '.join('?' * len(photo_ids))}) AND l.error IS NULL", photo_ids)]
        return sorted(found, key=lambda row: (row[0], not row[2], row[1]))

    def in_folder(self, root: int, folder: str, limit: int, before: str | None) -> list[str]:
        """Photo ids in a folder of a root (and the folders in it), newest
        taken first, after the photo ``before``."""
        low, high = _under(folder)
        where, values = "", []
        if before is not None:
            key = self._key(before, "taken")
            if key is None:
                raise KeyError(before)
            where, values = " AND (p.taken_key, p.seq) < (?, ?)", list(key)
        size = self.db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM places WHERE root = ? AND "
                               "path >= ? AND path < ? LIMIT ?)",
                               (root, low, high, SMALL_FOLDER + 1)).fetchone()[0]
        if size <= SMALL_FOLDER:  # its few photos, sorted
            query = (f"SELECT DISTINCT p.id, p.taken_key, p.seq FROM places AS l JOIN photos "
                     f"AS p ON p.id = l.photo WHERE l.root = ? AND l.path >= ? AND "
                     f"l.path < ?{where} ORDER BY p.taken_key DESC, p.seq DESC LIMIT ?")
            return [row[0] for row in self.db.execute(query, (root, low, high, *values,
                                                              limit))]
        # a large folder: the timeline's index walked, each photo checked to be in it
        query = (f"SELECT p.id FROM photos AS p WHERE EXISTS (SELECT 1 FROM places AS l "
                 f"WHERE l.photo = p.id AND l.root = ? AND l.path >= ? AND l.path < ?)"
                 f"{where} ORDER BY p.taken_key DESC, p.seq DESC LIMIT ?")
        return [row[0] for row in self.db.execute(query, (root, low, high, *values, limit))]

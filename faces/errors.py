"""Every error faces shows a person, in one place: what the user got wrong
(:class:`Refused`, answered 4xx) and what is wrong with the machine
(:class:`Unavailable` and the rest, answered 5xx or one line at start-up).

Each wing raises these; the web side maps them to statuses in one table
(:mod:`faces.web.errors`) and the command line prints their message. They
pickle (their fields are their ``args``), so a worker's refusal reaches the
server as it was raised.
"""

from __future__ import annotations


class FacesError(Exception):
    """The root of faces' own errors."""


class Refused(FacesError, ValueError):
    """Something the user sent that we do not take: a stable ``code``, and a
    ``message`` that is safe to show."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # both in args, so it pickles across processes
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


class ImageRejected(Refused):
    """The upload is not an image we accept (type, size, damage)."""


class BadRequest(Refused):
    """A parameter or body the user got wrong."""


class Unsupported(Refused):
    """A body of a media type we do not take."""


class NotFound(Refused):
    """No such photo, person or face."""


class NeedsLogin(Refused):
    """The request needs a session, a key or a link (answered 401)."""


class Forbidden(Refused):
    """Who asked may not do this (answered 403): a viewer editing."""


class Conflict(Refused):
    """The request is fine but the thing is not in a state to take it."""


# -- the machine ------------------------------------------------------------------


class Unavailable(FacesError):
    """The server cannot do it now; worth retrying in a moment."""


class BackendUnavailable(Unavailable):
    """No worker could run the job (one died, none is connected, or the
    backend is shut down)."""


class BackendBusy(BackendUnavailable):
    """Too many jobs are already waiting."""


class JobTimeout(BackendUnavailable):
    """A job ran past the time limit; the worker that had it was replaced."""


class Starting(Unavailable):
    """The server is still starting (reading the library, warming workers)."""


class StorageFull(Unavailable):
    """The photo could not be saved: the disk is full or not writable."""


class CatalogueError(Unavailable):
    """The catalogue could not be read or written; the message says why and
    what to do."""


class CatalogueBusy(CatalogueError):
    """Another program holds the catalogue locked."""


class CatalogueUnwritable(CatalogueError):
    """The catalogue is read-only (a read-only mount, or its file's mode)."""


class CatalogueDamaged(CatalogueError):
    """The catalogue file is damaged."""


class ModelError(FacesError):
    """A model file is missing, unreadable, or not a model we know."""


class ModelAccess(ModelError):
    """A model this process may not read; the message says where and the fix."""


class DataDirError(FacesError):
    """The data directory cannot be used; the message says what to do."""


def permission_denied(path: object, doing: str) -> str:
    """One line for a file or folder this process may not use: which place
    stops it (``path`` or the folder above it that cannot be entered), who
    owns that place and with what mode, who faces runs as, and the fix.
    ``doing``: what was tried ("read the model", "write the backup")."""
    import os
    import stat
    from pathlib import Path

    path = Path(os.path.abspath(str(path)))
    blocker = path
    for folder in reversed(path.parents):  # the first folder on the way that cannot be entered
        if folder.is_dir() and not os.access(folder, os.X_OK):
            blocker = folder
            break
    else:
        while not os.path.lexists(blocker) and blocker != blocker.parent:
            blocker = blocker.parent  # (what will be made: its folder must be writable)
    uid, gid = os.geteuid(), os.getegid()
    try:
        info = blocker.stat()
        owner = f"it belongs to {info.st_uid}:{info.st_gid} (mode {stat.filemode(info.st_mode)})"
    except OSError:
        owner = "its owner cannot be read"
    return (f"cannot {doing} at {path}: {blocker} stops it, {owner}, and faces runs as "
            f"{uid}:{gid}. Give that user access (`chown -R {uid}:{gid} {blocker}`, or "
            f"`chmod a+rX` for reading; for a host folder mounted into a container, on the host "
            f"as root) or run faces as the owner.")

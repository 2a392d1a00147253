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


class DataDirError(FacesError):
    """The data directory cannot be used; the message says what to do."""

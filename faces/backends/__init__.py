"""Where jobs run. Each backend is a module implementing
:class:`faces.backends.base.Backend`; :func:`create` picks one from the
settings: ``local``, a process pool on this machine, or ``cluster``, a Dask
cluster when FACES_CLUSTER names its scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Backend

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["Backend", "create"]


def create(settings: Settings, **overrides: Any) -> Backend:
    """The backend the settings ask for, not yet started."""
    if settings.cluster:  # Dask is imported only then
        from .cluster import ClusterBackend

        return ClusterBackend.from_settings(settings, **overrides)
    from .local import LocalBackend

    return LocalBackend.from_settings(settings, **overrides)

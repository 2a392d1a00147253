"""Rebuild the catalogue from the files on disk (``faces reindex``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import pipeline
from .store import ID_LENGTH, Photo, Store


@dataclass
class Report:
    dropped: list[str] = field(default_factory=list)   # rows whose files were gone
    restored: list[str] = field(default_factory=list)  # rows rebuilt from metadata sidecars
    detected: list[str] = field(default_factory=list)  # rows rebuilt by detecting again

    def summary(self) -> str:
        return (f"{len(self.restored)} restored from metadata, {len(self.detected)} re-detected, "
                f"{len(self.dropped)} dropped (files missing)")


def _mtime(path) -> str:
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def reindex(store: Store, options: pipeline.Options,
            progress: Callable[[int, int], None] | None = None) -> Report:
    """Drop rows whose original file is gone; add rows for files without one.

    A photo's metadata sidecar restores it exactly; without one, the stored
    original is run through the detector again (in this process, which must
    have called :func:`pipeline.init_worker`).
    """
    report = Report(dropped=store.drop_missing())
    orphans = store.orphans()
    found: list[Photo] = []
    for done, path in enumerate(orphans, 1):
        photo_id = path.name[:ID_LENGTH]
        photo = store.read_sidecar(photo_id)
        if photo is not None and all((store.photos_dir / n).is_file() for n in photo.files()):
            report.restored.append(photo_id)
        else:
            rendered = pipeline.render(path.read_bytes(), options)
            names = store.file_names(photo_id, path.suffix)
            photo = Photo(id=photo_id, filename=photo.filename if photo else path.name,
                          created=photo.created if photo else _mtime(path),
                          width=rendered.width, height=rendered.height, faces=rendered.faces,
                          **names)
            store.write_files({names["annotated"]: rendered.annotated,
                               names["thumbnail"]: rendered.thumbnail}, photo)
            report.detected.append(photo_id)
        found.append(photo)
        if progress:
            progress(done, len(orphans))
    for photo in sorted(found, key=lambda p: p.created):
        store.add(photo)
    return report

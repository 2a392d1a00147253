"""A photo's people as its XMP names them (:mod:`.xmp`), put on its
detected faces: a named region that overlaps a detected face names it; a
named region no detected face matches becomes a face of its own, found
around the region as a face drawn by hand is; a photo with one face and
one person named without an area (IPTC PersonInImage) names that face.
Regions of other kinds (pets, focus areas) are not read."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from . import xmp
from .probe import stored_orientation

if TYPE_CHECKING:
    import numpy as np

    from .detectors.base import Face

MATCH = 0.3  # overlap (IoU) at which a region names a detected face
LOOSE = 0.1  # ... or this, when each box holds the other's centre (a region drawn loosely)
MIN_SIDE = 8  # pixels: a smaller region is no face


def matches(region: tuple[float, ...], face: tuple[float, ...]) -> float:
    """How well a region fits a detected face (0: not at all)."""
    score = xmp.overlap(region, face)
    if score >= MATCH:
        return score
    if score >= LOOSE and _holds(region, _centre(face)) and _holds(face, _centre(region)):
        return score
    return 0.0


def _centre(box: tuple[float, ...]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _holds(box: tuple[float, ...], point: tuple[float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def placed(tags: xmp.Tags, turn: int, width: int, height: int
           ) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each named region of ``tags`` in the upright pixels of an image
    ``width`` x ``height`` whose stored pixels are turned by ``turn``."""
    found = []
    for region in tags.regions:
        x1, y1, x2, y2 = xmp.upright(region.box, turn)
        found.append((region.name, (x1 * width, y1 * height, x2 * width, y2 * height)))
    return found


def assign(regions: list[tuple[str, tuple[float, ...]]], boxes: list[tuple[float, ...]]
           ) -> tuple[dict[int, str], set[int]]:
    """Which face (by position in ``boxes``) each region names, best
    matches first, one face and one name each; and the regions used."""
    pairs = sorted(((matches(box, face), r, f) for r, (_, box) in enumerate(regions)
                    for f, face in enumerate(boxes)), reverse=True)
    names: dict[int, str] = {}
    used: set[int] = set()
    for score, r, f in pairs:
        if score <= 0:
            break
        if r in used or f in names or regions[r][0] in names.values():
            continue
        names[f] = regions[r][0]
        used.add(r)
    return names, used


def name(image: np.ndarray, faces: list[Face], data: bytes, sidecar: bytes | None,
         locate: Callable[[tuple[float, ...]], Face], turn: int | None = None
         ) -> tuple[list[Face], dict[int, str], set[int]]:
    """The faces (with any added for named regions), the name of each
    named face by its position, and the positions of the added faces
    (``turn``: the orientation the image was turned upright by, when not
    the file's own)."""
    tags = xmp.read(data, sidecar)
    if not tags:
        return faces, {}, set()
    height, width = image.shape[:2]
    if turn is None:  # (a sidecar's areas are the file's stored pixels too)
        turn = stored_orientation(data)
    regions = placed(tags, turn, width, height)
    names, used = assign(regions, [face.box for face in faces])
    faces, added = list(faces), set()
    for r, (person, box) in enumerate(regions):
        if r in used or person in names.values() or min(box[2] - box[0],
                                                        box[3] - box[1]) < MIN_SIDE:
            continue
        faces.append(locate(box))
        added.add(len(faces) - 1)
        names[len(faces) - 1] = person
    if not names and len(tags.names) == 1 and len(faces) == 1:
        names[0] = tags.names[0]
    return faces, names, added

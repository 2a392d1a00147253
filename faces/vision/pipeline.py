"""What a worker does with one upload: decode, detect, annotate, encode.
Jobs take the worker's state (:class:`faces.vision.worker.Worker`) first; nothing
else is kept between calls.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import cv2
import numpy as np

from . import describe, metadata, tagging
from .annotate import blur, draw
from .contract import Options, Rendered
from .decode import ORIENT, decode
from .probe import probe, stored_orientation
from .xmp import orientation as xmp_orientation
from .xmp import overlap

if TYPE_CHECKING:
    from .detectors.base import Detector, Face
    from .worker import Worker

# The uploaded file's own extension, by its format (what the original is stored as).
SOURCE_EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "heif": ".heic",
                     "avif": ".avif", "bmp": ".bmp", "tiff": ".tif", "gif": ".gif"}
THUMBNAIL_SIDE = 400
JPEG_QUALITY = 90
THUMBNAIL_QUALITY = 82


def detect(detector: Detector, image: np.ndarray, options: Options) -> list[Face]:
    """Faces in a decoded image (BGR or BGRA), with the options' thresholds
    (a score threshold of 0 is the detector family's own default).

    The first pass keeps the photo's shape (no letterbox padding to detect
    through) and never upscales a photo smaller than the detector's size;
    large photos get the detector's finer detail pass too.
    """
    bgr = image[:, :, :3] if image.shape[2] == 4 else image
    return detector.detect(np.ascontiguousarray(bgr),
                           options.score_threshold or detector.default_score,
                           options.nms_threshold, detector.detail_size, upscale=False,
                           fit=True)


def encode(image: np.ndarray, extension: str, quality: int = JPEG_QUALITY) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if extension == ".jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 6]
    ok, buffer = cv2.imencode(extension, image, params)
    if not ok:
        raise RuntimeError(f"could not encode {extension}")
    return buffer.tobytes()


def thumbnail(image: np.ndarray, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def extension_for(image: np.ndarray) -> str:
    return ".png" if image.shape[2] == 4 else ".jpg"


def analyse(detector: Detector, data: bytes, options: Options, turn: int = 1
            ) -> tuple[np.ndarray, list[Face]]:
    """Decode (then turn upright by ``turn``, an orientation the file itself
    does not carry) and detect. Raises ImageRejected for a bad image."""
    image = decode(data, options.max_pixels)
    if turn in ORIENT:
        image = np.ascontiguousarray(ORIENT[turn](image))
    return image, detect(detector, image, options)


def orientation(data: bytes, sidecar: bytes | None) -> tuple[int, int]:
    """The orientation decoding applies (the file's own), and the one a
    sidecar adds when the file has none (1: nothing to add)."""
    own = stored_orientation(data)
    return own, xmp_orientation(sidecar) if own == 1 else 1


def annotate(image: np.ndarray, faces: list[Face], mode: str) -> np.ndarray:
    """Draw (or blur) the faces on ``image`` itself; returns it."""
    return blur(image, faces) if mode == "blur" else draw(image, faces)


def detect_only(worker: Worker, data: bytes, options: Options, annotated: bool) -> dict:
    """Faces JSON, plus the annotated image's bytes when ``annotated``."""
    image, faces = analyse(worker.detector, data, options)
    result: dict = {"width": image.shape[1], "height": image.shape[0],
                    "faces": [face.to_json() for face in faces]}
    if annotated:
        extension = extension_for(image)
        result["image"] = encode(annotate(image, faces, options.mode), extension)
        result["extension"] = extension
    return result


def render(worker: Worker, data: bytes, options: Options, sidecar: bytes | None = None,
           describing: tuple[int, int] | None = None) -> Rendered:
    """Process one upload (``sidecar``: the XMP beside it, if any). Raises
    ImageRejected for a bad image.

    The boxes are drawn on the decoded pixels once the original is encoded,
    so a 12-megapixel photo never needs a second full-size copy. In blur
    mode the faces are hidden first: no unblurred pixels are ever kept.
    The people its XMP names are put on its faces (:mod:`.tagging`).
    """
    own, added_turn = orientation(data, sidecar)
    image, faces = analyse(worker.detector, data, options, added_turn)
    turn = added_turn if added_turn != 1 else own  # (what the stored pixels are turned by)
    faces, names, added = tagging.name(image, faces, data, sidecar,
                                       lambda box: locate_in(worker, image, box), turn)
    found = [{**face.to_json(), "added": True} if n in added else face.to_json()
             for n, face in enumerate(faces)]
    described = {}
    if describing is not None and options.mode != "blur":
        # People's descriptions from these very pixels, before any box is drawn
        # on them (``describing``: its min face height and faces per photo)
        positions = describe.chosen(found, *describing)
        if positions:
            results = describe.describe_in(worker, image, [found[n] for n in positions])
            described = dict(zip(positions, results, strict=True))
    extension = extension_for(image)
    if options.mode == "blur":
        blur(image, faces)
    display = encode(image, extension)
    if options.mode == "box" and faces:
        annotated = encode(draw(image, faces), extension)
    else:
        annotated = display
    return Rendered(
        width=image.shape[1],
        height=image.shape[0],
        faces=found,
        extension=extension,
        display=display,
        annotated=annotated,
        thumbnail=encode(thumbnail(image), extension, THUMBNAIL_QUALITY),
        names=names,
        source_extension=SOURCE_EXTENSIONS.get(probe(data).format, ".bin"),
        # (its orientation: the one decoding applied, what its areas are turned by)
        metadata=dataclasses.replace(metadata.read(data, sidecar), orientation=turn),
        described=described,
    )


# Where a frontal face's landmarks sit in its box (eyes, nose tip, mouth
# corners), the median over the 940 faces of the shared people and WIDER
# photos: for a face the user drew where the detector finds none.
BOX_LANDMARKS = np.array([[0.273, 0.385], [0.725, 0.384], [0.5, 0.58], [0.315, 0.738],
                          [0.696, 0.736]], np.float32)
LOCATE_SCORE = 0.2  # a face the user drew is there: a weak detection will do
LOCATE_OVERLAP = 0.3


def locate(worker: Worker, data: bytes, box: list[float], max_pixels: int) -> dict:
    """A job: a face the user drew on a stored photo, as a face: its box,
    and its landmarks from the detector run around the box (at a low
    score), else placed in the box as on an average frontal face."""
    face = locate_in(worker, decode(data, max_pixels), box)
    return {"box": [round(v, 1) for v in face.box], "score": round(float(face.score), 4),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in face.landmarks]}


def locate_in(worker: Worker, image: np.ndarray, box: list[float] | tuple[float, ...]
              ) -> Face:
    """The face at ``box`` of a decoded image (see :func:`locate`)."""
    from .detectors.base import Face

    height, width = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    margin = 0.5 * max(x2 - x1, y2 - y1)
    left, top = max(0, int(x1 - margin)), max(0, int(y1 - margin))
    right, bottom = min(width, int(x2 + margin) + 1), min(height, int(y2 + margin) + 1)
    patch = np.ascontiguousarray(image[top:bottom, left:right, :3])
    found = worker.detector.detect(patch, LOCATE_SCORE, 0.4, 0, upscale=True, fit=True)
    drawn = (x1 - left, y1 - top, x2 - left, y2 - top)
    best = max(found, key=lambda face: overlap(face.box, drawn), default=None)
    if best is not None and best.landmarks and overlap(best.box, drawn) >= LOCATE_OVERLAP:
        marks = [[x + left, y + top] for x, y in best.landmarks]
        score = best.score
    else:
        marks = (BOX_LANDMARKS * [x2 - x1, y2 - y1] + [x1, y1]).tolist()
        score = 0.0
    return Face((x1, y1, x2, y2), float(score), tuple((float(x), float(y)) for x, y in marks))

"""Bytes to upright 8-bit pixels: BGR, or BGRA when the image has real
transparency. Runs in a worker process, never on the IOLoop.

simplejpeg (libjpeg-turbo) decodes JPEG straight into one array: OpenCV's
decoder holds a photo twice at its peak (a 49-megapixel photo: 147 MB more),
with the same pixels; OpenCV decodes what it does not take (CMYK, 12-bit)
and PNG, WebP, BMP, TIFF and GIF; Pillow decodes HEIC/HEIF (with the
pillow-heif plugin, libheif) and AVIF (Pillow's own libavif).
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
import simplejpeg

from ..errors import ImageRejected
from .probe import ImageInfo, bmff_complete, check_limits, probe

PILLOW_FORMATS = {"heif", "avif"}
# Raw pixel layout -> upright, for each EXIF orientation (2-8).
ORIENT = {
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: lambda a: cv2.transpose(a),
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def _complete(data: bytes, info: ImageInfo) -> bool:
    """Cheap end-of-file checks that catch truncated uploads decoders forgive."""
    tail = data[-64:].rstrip(b"\x00\r\n ")
    if info.format == "jpeg":
        sos = data.find(b"\xff\xda")
        return sos != -1 and data.find(b"\xff\xd9", sos) != -1
    if info.format == "png":
        return tail.endswith(b"IEND\xaeB`\x82")
    if info.format == "gif":
        return tail.endswith(b";")
    if info.format in PILLOW_FORMATS:
        return bmff_complete(data)
    return True


def _damaged() -> ImageRejected:
    return ImageRejected("corrupt_image", "The image could not be decoded; the file is damaged.")


def _with_pillow(data: bytes, info: ImageInfo, max_pixels: int) -> np.ndarray:
    """HEIC/HEIF or AVIF, upright (EXIF orientation applied), as RGB(A) pixels."""
    from PIL import Image, ImageOps
    from pillow_heif import register_heif_opener

    register_heif_opener()  # idempotent
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own guard behind our header check
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["HEIF", "AVIF"]) as opened:
                # The decoder's own idea of the size, checked again before decoding.
                check_limits(ImageInfo(info.format, opened.width, opened.height), max_pixels)
                upright = ImageOps.exif_transpose(opened)
                alpha = "A" in upright.getbands()
                pixels = np.asarray(upright.convert("RGBA" if alpha else "RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("too_many_pixels", f"The image is over the "
                            f"{max_pixels / 1e6:g} megapixel limit.") from None
    except (OSError, ValueError, RuntimeError, SyntaxError, EOFError):
        raise _damaged() from None
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if alpha else cv2.COLOR_RGB2BGR)


def _with_turbojpeg(data: bytes, info: ImageInfo) -> np.ndarray | None:
    """An 8-bit colour or grey JPEG, upright, decoded into one array; None
    for one simplejpeg does not take (OpenCV decodes it then)."""
    try:
        image = simplejpeg.decode_jpeg(data, colorspace="BGR")
    except (ValueError, RuntimeError):
        return None
    if info.orientation in ORIENT:
        image = ORIENT[info.orientation](image)
    return image


def _to_8bit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    return cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Decode an upload into an upright uint8 BGR (or BGRA) array.

    EXIF orientation is applied; the header is checked against ``max_pixels``
    before any pixel is decoded.
    """
    info = probe(data)
    check_limits(info, max_pixels)
    if not _complete(data, info):
        raise ImageRejected("truncated_image", "The image file is incomplete (truncated upload?).")
    jpeg = _with_turbojpeg(data, info) if info.format == "jpeg" else None
    if jpeg is not None:
        image = jpeg
    elif info.format in PILLOW_FORMATS:
        image = _with_pillow(data, info, max_pixels)
    elif info.has_alpha:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if image is not None and info.orientation in ORIENT:  # OpenCV skips it here
            image = ORIENT[info.orientation](image)
    elif info.format == "jpeg":  # (what simplejpeg does not take; orientation from the probe)
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8),
                             cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is not None and info.orientation in ORIENT:
            image = ORIENT[info.orientation](image)
    else:  # applies EXIF orientation itself
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise _damaged()
    image = _to_8bit(image)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        if int(image[:, :, 3].min()) == 255:
            return np.ascontiguousarray(image[:, :, :3])
        return image
    return image

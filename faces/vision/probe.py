"""Identify an image by its magic bytes and read its size from the header,
without decoding any pixels. Anything we cannot identify is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import ImageRejected

FORMATS = "JPEG, PNG, WebP, HEIC, AVIF, BMP, TIFF or GIF"  # what we take, for messages
# The same, by file name (`faces import`, calibration photos) and for a
# browser's file chooser (its accept attribute).
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif", ".bmp", ".tif",
            ".tiff", ".gif")
MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif",
               "image/avif", "image/bmp", "image/tiff", "image/gif")
ACCEPT = ",".join((*MEDIA_TYPES, *SUFFIXES))
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}
AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpeg", "png", "webp", "heif", "avif", "bmp", "tiff", "gif"
    width: int
    height: int
    has_alpha: bool = False
    orientation: int = 1  # EXIF orientation, where the decoder would not apply it itself

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _unreadable(fmt: str) -> ImageRejected:
    return ImageRejected("corrupt_image", f"The {fmt.upper()} header is damaged or incomplete.")


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    size = len(data)
    orientation = 1  # from the first Exif block (APP1), as decoders read it
    seen_exif = False
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            raise _unreadable("jpeg")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01,) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2:
            raise _unreadable("jpeg")
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > size:
                break
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return ImageInfo("jpeg", width, height, orientation=orientation)
        if marker == 0xE1 and not seen_exif and data[pos + 4:pos + 10] == b"Exif\x00\x00":
            seen_exif = True
            orientation = exif_orientation(data[pos + 4:pos + 2 + length])
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise _unreadable("jpeg")


def _png(data: bytes) -> ImageInfo:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _unreadable("png")
    width, height, _depth, color_type = struct.unpack(">IIBB", data[16:26])
    has_alpha = color_type in (4, 6) or b"tRNS" in data[33:]
    # OpenCV applies EXIF orientation only when it drops the alpha channel:
    # for an image with transparency, read it here and apply it ourselves.
    orientation = _png_orientation(data) if has_alpha else 1
    return ImageInfo("png", width, height, has_alpha, orientation)


def _png_orientation(data: bytes) -> int:
    """The orientation in a PNG's eXIf chunk (1 when there is none)."""
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"eXIf":
            return exif_orientation(data[pos + 8:pos + 8 + length])
        if kind in (b"IDAT", b"IEND"):
            break  # eXIf is only honoured before the image data
        pos += 12 + length
    return 1


def stored_orientation(data: bytes) -> int:
    """The EXIF orientation decoding turns an image's stored pixels upright
    with (JPEG, and PNG's eXIf chunk; 1 for the rest)."""
    if data[:3] == b"\xff\xd8\xff":
        try:
            return _jpeg(data).orientation
        except ImageRejected:
            return 1
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_orientation(data)
    return 1


def exif_orientation(tiff: bytes) -> int:
    """The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block."""
    if tiff[:6] == b"Exif\x00\x00":
        tiff = tiff[6:]
    endian = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    try:
        (offset,) = struct.unpack(endian + "I", tiff[4:8])
        (count,) = struct.unpack(endian + "H", tiff[offset:offset + 2])
        for i in range(count):
            entry = tiff[offset + 2 + 12 * i: offset + 14 + 12 * i]
            tag, kind = struct.unpack(endian + "HH", entry[:4])
            if tag == 0x0112 and kind == 3:
                (value,) = struct.unpack(endian + "H", entry[8:10])
                return value if 1 <= value <= 8 else 1
    except (struct.error, TypeError):
        pass  # malformed EXIF is ignored, as everywhere
    return 1


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """ISO BMFF boxes in data[start:end]: (type, payload start, box end).
    A box that runs past ``end`` is truncated: its end is reported as is."""
    found, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:  # a 64-bit size follows
            if pos + 16 > end:
                break
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
            header = 16
        elif size == 0:  # to the end of the file
            size = end - pos
        if size < header:
            raise _unreadable("heif")
        found.append((kind, pos + header, pos + size))
        pos += size
    return found


def bmff_complete(data: bytes) -> bool:
    """Every top-level box of a HEIF/AVIF file is all there."""
    boxes = _boxes(data, 0, len(data))
    return bool(boxes) and boxes[-1][2] <= len(data) and any(
        kind == b"mdat" for kind, _, _ in boxes)


def _bmff(data: bytes) -> ImageInfo:
    """HEIC/HEIF or AVIF: the brand from the ftyp box, the size from the
    largest image-extent (ispe) property in meta/iprp/ipco, no decoding."""
    (ftyp_size,) = struct.unpack(">I", data[:4])
    brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(ftyp_size, len(data)), 4)}
    if brands & AVIF_BRANDS:
        fmt = "avif"
    elif brands & HEIF_BRANDS:
        fmt = "heif"
    else:
        raise ImageRejected("unsupported_type", f"This is not a supported image. Upload a "
                            f"{FORMATS} photo.")
    extents = []
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind != b"meta":
            continue
        todo = [(start + 4, min(end, len(data)))]  # meta is a full box: version, flags
        while todo:
            for inner, inner_start, inner_end in _boxes(data, *todo.pop()):
                if inner in (b"iprp", b"ipco"):
                    todo.append((inner_start, min(inner_end, len(data))))
                elif inner == b"ispe" and inner_start + 12 <= len(data):
                    extents.append(struct.unpack(">II", data[inner_start + 4:inner_start + 12]))
    if not extents:
        raise _unreadable(fmt)
    width, height = max(extents, key=lambda wh: wh[0] * wh[1])
    return ImageInfo(fmt, width, height)


def _webp(data: bytes) -> ImageInfo:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1,
                         bool((bits >> 28) & 1))
    if chunk == b"VP8X" and len(data) >= 30:
        flags = data[20]
        if flags & 0x02:
            raise ImageRejected("animated_image",
                                "Animated WebP is not supported; upload a still photo.")
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("webp", width, height, bool(flags & 0x10))
    raise _unreadable("webp")


def _bmp(data: bytes) -> ImageInfo:
    if len(data) < 26:
        raise _unreadable("bmp")
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:
        width, height = struct.unpack("<HH", data[18:22])
    else:
        width, height = struct.unpack("<ii", data[18:26])
    return ImageInfo("bmp", abs(width), abs(height))


def _tiff(data: bytes) -> ImageInfo:
    endian = "<" if data[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack(endian + "I", data[4:8])
        (count,) = struct.unpack(endian + "H", data[offset:offset + 2])
        width = height = 0
        for i in range(count):
            entry = data[offset + 2 + 12 * i: offset + 14 + 12 * i]
            tag, kind = struct.unpack(endian + "HH", entry[:4])
            if kind == 3:
                (value,) = struct.unpack(endian + "H", entry[8:10])
            else:
                (value,) = struct.unpack(endian + "I", entry[8:12])
            if tag == 256:
                width = value
            elif tag == 257:
                height = value
    except struct.error:
        raise _unreadable("tiff") from None
    if not width or not height:
        raise _unreadable("tiff")
    return ImageInfo("tiff", width, height)


def _gif(data: bytes) -> ImageInfo:
    if len(data) < 10:
        raise _unreadable("gif")
    width, height = struct.unpack("<HH", data[6:10])
    return ImageInfo("gif", width, height)


def probe(data: bytes) -> ImageInfo:
    """Return the format and size of an image from its first bytes.

    Raises :class:`ImageRejected` for anything else (empty, text, SVG, HTML,
    unknown binary) or for a header that cannot be read.
    """
    if not data:
        raise ImageRejected("empty_file", "The file is empty.")
    if data[:3] == b"\xff\xd8\xff":
        info = _jpeg(data)
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        info = _png(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        info = _webp(data)
    elif data[:2] == b"BM":
        info = _bmp(data)
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        info = _tiff(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        info = _gif(data)
    elif data[4:8] == b"ftyp" and len(data) >= 16:
        info = _bmff(data)
    else:
        raise ImageRejected(
            "unsupported_type", f"This is not a supported image. Upload a {FORMATS} photo.")
    if info.width <= 0 or info.height <= 0:
        raise _unreadable(info.format)
    return info


def check_limits(info: ImageInfo, max_pixels: int) -> None:
    """Refuse an image whose header declares more pixels than allowed."""
    if info.pixels > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The image is {info.width}x{info.height} ({info.pixels / 1e6:.0f} megapixels); "
            f"the limit is {max_pixels / 1e6:g} megapixels.")

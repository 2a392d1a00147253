"""Identify an image by its magic bytes and read its size from the header,
without decoding any pixels. Anything we cannot identify is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .options import Refused


class ImageRejected(Refused):
    """The upload is not an image we accept."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpeg", "png", "webp", "bmp", "tiff", "gif"
    width: int
    height: int
    has_alpha: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _unreadable(fmt: str) -> ImageRejected:
    return ImageRejected("corrupt_image", f"The {fmt.upper()} header is damaged or incomplete.")


def _jpeg(data: bytes) -> ImageInfo:
    pos = 2
    size = len(data)
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
            return ImageInfo("jpeg", width, height)
        if marker == 0xDA:  # start of scan before any frame header
            break
        pos += 2 + length
    raise _unreadable("jpeg")


def _png(data: bytes) -> ImageInfo:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _unreadable("png")
    width, height, _depth, color_type = struct.unpack(">IIBB", data[16:26])
    has_alpha = color_type in (4, 6) or b"tRNS" in data[33:]
    return ImageInfo("png", width, height, has_alpha)


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
    else:
        raise ImageRejected(
            "unsupported_type",
            "This is not a supported image. Upload a JPEG, PNG, WebP, BMP, TIFF or GIF photo.")
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

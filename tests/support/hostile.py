"""Hostile and awkward files, built on the fly (no binary blobs in the repo)."""

from __future__ import annotations

import io
import os
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

from tests.conftest import photo_bytes


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload)))


def png_bomb(width: int, height: int, channels: int = 1) -> bytes:
    """A real, valid PNG of zeros: tiny on disk, huge when decoded."""
    color_type = {1: 0, 3: 2}[channels]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    row = b"\x00" * (1 + width * channels)
    packer = zlib.compressobj(9)
    parts = [packer.compress(row) for _ in range(height)]
    parts.append(packer.flush())
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims another size."""
    data = bytearray(photo_bytes("obama_small.jpg"))
    pos = 2
    while True:
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xC2:
            data[pos + 5:pos + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        pos += 2 + length


def corrupted_jpeg() -> bytes:
    """Huffman tables overwritten with junk: the decoder cannot proceed."""
    data = bytearray(photo_bytes("obama_small.jpg"))
    pos = data.find(b"\xff\xc4")
    data[pos + 4:pos + 40] = b"\xff" * 36
    return bytes(data)


def corrupted_png() -> bytes:
    """A flipped byte inside the image data: the CRC no longer matches."""
    data = bytearray(photo_bytes("astronaut.png"))
    pos = data.find(b"IDAT") + 200
    data[pos] ^= 0xFF
    return bytes(data)


def pil_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def face_image() -> Image.Image:
    return Image.open(io.BytesIO(photo_bytes("obama_small.jpg"))).convert("RGB")


def animated_gif(frames: int = 60) -> bytes:
    first = face_image()
    others = [Image.new("RGB", first.size, (i * 4 % 255, 80, 160)) for i in range(frames - 1)]
    return pil_bytes(first, "GIF", save_all=True, append_images=others, duration=40, loop=0)


def multipage_tiff() -> bytes:
    first = face_image()
    blank = Image.new("RGB", (64, 64), (200, 200, 200))
    return pil_bytes(first, "TIFF", save_all=True, append_images=[blank, blank])


def cmyk_jpeg() -> bytes:
    return pil_bytes(face_image().convert("CMYK"), "JPEG", quality=95)


def palette_png_with_transparency() -> bytes:
    image = face_image().convert("P", palette=Image.Palette.ADAPTIVE, colors=128)
    return pil_bytes(image, "PNG", transparency=0)


def malformed_exif_jpeg() -> bytes:
    junk = b"Exif\x00\x00" + b"MM\x00*\x00\x00\xff\xf0" + os.urandom(64)
    segment = b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk
    data = photo_bytes("obama_small.jpg")
    return data[:2] + segment + data[2:]


def sixteen_bit_png() -> bytes:
    image = cv2.imread(os.fspath(_image_path("obama_small.jpg"))).astype(np.uint16) * 257
    return cv2.imencode(".png", image)[1].tobytes()


def gray_jpeg() -> bytes:
    image = cv2.imread(os.fspath(_image_path("obama_small.jpg")), cv2.IMREAD_GRAYSCALE)
    return cv2.imencode(".jpg", image)[1].tobytes()


def _image_path(name: str):
    from tests.conftest import IMAGES

    return IMAGES / name


# name -> (file name, bytes factory, expected status, expected error code)
REFUSED = {
    "non-image bytes as .png": ("x.png", lambda: bytes(range(7, 256)) * 20, 415,
                                "unsupported_type"),
    "HTML renamed .jpg": ("page.jpg", lambda: b"<!doctype html><html><body>hi</body></html>",
                          415, "unsupported_type"),
    "script renamed .jpg": ("x.jpg", lambda: b"<script>alert(document.cookie)</script>",
                            415, "unsupported_type"),
    "SVG renamed .jpg": ("x.jpg", lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org'
                         b'/2000/svg"><script>alert(1)</script></svg>', 415, "unsupported_type"),
    "SVG as .svg": ("x.svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', 415,
                    "unsupported_type"),
    "empty file": ("empty.jpg", lambda: b"", 400, "empty_file"),
    "truncated JPEG": ("t.jpg", lambda: photo_bytes("t1.jpg")[:40_000], 422, "truncated_image"),
    "truncated PNG": ("t.png", lambda: photo_bytes("astronaut.png")[:50_000], 422,
                      "truncated_image"),
    "corrupted JPEG": ("c.jpg", corrupted_jpeg, 422, "corrupt_image"),
    "corrupted PNG": ("c.png", corrupted_png, 422, "corrupt_image"),
    "PNG bomb 20000x20000": ("bomb.png", lambda: png_bomb(20000, 20000), 413, "too_many_pixels"),
    "PNG bomb 9400x9400": ("bomb.png", lambda: png_bomb(9400, 9400, 3), 413, "too_many_pixels"),
    "JPEG header 65000x65000": ("huge.jpg", lambda: jpeg_declaring(65000, 65000), 413,
                                "too_many_pixels"),
}

# name -> (file name, bytes factory, faces expected, stored extension)
ACCEPTED = {
    "animated GIF (first frame)": ("anim.gif", animated_gif, 1, ".jpg"),
    "multi-page TIFF (first page)": ("pages.tiff", multipage_tiff, 1, ".jpg"),
    "CMYK JPEG": ("cmyk.jpg", cmyk_jpeg, 1, ".jpg"),
    "16-bit PNG": ("deep.png", sixteen_bit_png, 1, ".jpg"),
    "grayscale JPEG": ("gray.jpg", gray_jpeg, 1, ".jpg"),
    "palette PNG with transparency": ("pal.png", palette_png_with_transparency, 1, ".png"),
    "malformed EXIF": ("exif.jpg", malformed_exif_jpeg, 1, ".jpg"),
}

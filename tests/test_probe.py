"""Identifying images from their headers, before any decode."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from faces.errors import ImageRejected
from faces.vision.probe import probe
from tests.support.helpers import encode

IMAGE = np.zeros((30, 40, 3), np.uint8)


@pytest.mark.parametrize("ext,fmt", [(".jpg", "jpeg"), (".png", "png"), (".webp", "webp"),
                                     (".bmp", "bmp"), (".tiff", "tiff"), (".gif", "gif")])
def test_formats_and_sizes(ext: str, fmt: str) -> None:
    info = probe(encode(IMAGE, ext))
    assert (info.format, info.width, info.height) == (fmt, 40, 30)


def test_png_alpha_is_noticed() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    assert probe(encode(rgba, ".png")).has_alpha
    assert not probe(encode(IMAGE, ".png")).has_alpha


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


def test_dimensions_come_from_the_header_alone() -> None:
    info = probe(png_header(20000, 20000))
    assert info.pixels == 400_000_000


@pytest.mark.parametrize("data,code", [
    (b"", "empty_file"),
    (b"<html><script>alert(1)</script></html>", "unsupported_type"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', "unsupported_type"),
    (b"\x89PNG\r\n\x1a\n", "corrupt_image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "corrupt_image"),
])
def test_non_images_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        probe(data)
    assert caught.value.code == code
    assert caught.value.message

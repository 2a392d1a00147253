"""Small helpers for tests: multipart bodies and image files made on the fly."""

from __future__ import annotations

import uuid
from pathlib import Path

import cv2
import numpy as np


def multipart(files: list[tuple[str, str, bytes]], fields: dict[str, str] | None = None,
              ) -> tuple[bytes, str]:
    """Encode ``(field, filename, data)`` parts; returns body and Content-Type."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in (fields or {}).items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                      f"{value}\r\n".encode())
    for field, filename, data in files:
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n')
        chunks.append(head.encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def encode(image: np.ndarray, ext: str = ".png", params: list[int] | None = None) -> bytes:
    ok, buffer = cv2.imencode(ext, image, params or [])
    assert ok
    return buffer.tobytes()


def decode(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    assert image is not None
    return image


def exif_segment(orientation: int, extra_gps: bool = False) -> bytes:
    """A little-endian EXIF APP1 segment with an Orientation tag (and a GPS IFD)."""
    entries = [(0x0112, 3, 1, orientation)]
    if extra_gps:
        entries.append((0x8825, 4, 1, 0))  # GPS IFD pointer, patched below
    entries.sort()
    ifd0_offset = 8
    ifd0_size = 2 + 12 * len(entries) + 4
    gps_offset = ifd0_offset + ifd0_size
    tiff = bytearray(b"II*\x00" + ifd0_offset.to_bytes(4, "little"))
    tiff += len(entries).to_bytes(2, "little")
    for tag, kind, count, value in entries:
        if tag == 0x8825:
            value = gps_offset
        payload = value.to_bytes(2, "little") + b"\x00\x00" if kind == 3 \
            else value.to_bytes(4, "little")
        tiff += tag.to_bytes(2, "little") + kind.to_bytes(2, "little") \
            + count.to_bytes(4, "little") + payload
    tiff += (0).to_bytes(4, "little")
    if extra_gps:
        # GPSLatitudeRef = "N" (ASCII, count 2, inline)
        tiff += (1).to_bytes(2, "little")
        tiff += (0x0001).to_bytes(2, "little") + (2).to_bytes(2, "little") \
            + (2).to_bytes(4, "little") + b"N\x00\x00\x00"
        tiff += (0).to_bytes(4, "little")
    body = b"Exif\x00\x00" + bytes(tiff)
    return b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body


def with_exif(jpeg: bytes, orientation: int, gps: bool = False) -> bytes:
    """Insert an EXIF segment right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + exif_segment(orientation, gps) + jpeg[2:]


def stored(folder: Path) -> list[Path]:
    """A folder's files, without the gallery's marker (photos/.faces-gallery)."""
    from faces.library.datadir import MARKER

    return [path for path in folder.iterdir() if path.name != MARKER]

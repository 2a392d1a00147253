"""What a photo says about itself: when it was taken (with its time zone
when the file says so), the camera, where (GPS, kept private), and its
pixel size and orientation. Pure: bytes in, a :class:`Metadata` out; it
never fails an upload: a source that cannot be read (a truncated IFD,
megabytes of maker notes, an impossible date) is skipped and the next one
used.

The date taken is read as ExifTool reads it, in this order: EXIF
DateTimeOriginal (with OffsetTimeOriginal and SubSecTimeOriginal), EXIF
CreateDate (DateTimeDigitized, with OffsetTimeDigitized, SubSecTimeDigitized),
then XMP ``exif:DateTimeOriginal``, ``photoshop:DateCreated``,
``xmp:CreateDate`` in the file; a sidecar's XMP date comes before all of
them (a sidecar is an edit made on top of the file: a corrected date). A date without a
zone stays wall-clock time: it is never turned into UTC. EXIF is read by
Pillow (for HEIC and AVIF through pillow-heif and Pillow's own AVIF plugin,
which hand Pillow the EXIF inside the file); XMP by :mod:`.xmp`.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from . import xmp

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
# (date, sub-seconds, offset) tags of each EXIF date, in the order they are tried
EXIF_DATES = (("DateTimeOriginal", 0x9003, 0x9291, 0x9011),
              ("CreateDate", 0x9004, 0x9292, 0x9012))
XMP_DATES = (("XMP DateTimeOriginal", "http://ns.adobe.com/exif/1.0/", "DateTimeOriginal"),
             ("XMP DateCreated", "http://ns.adobe.com/photoshop/1.0/", "DateCreated"),
             ("XMP CreateDate", "http://ns.adobe.com/xap/1.0/", "CreateDate"))
EARLIEST = 1826  # the oldest surviving photograph: an earlier year is a broken clock
MAX_TEXT = 64  # characters of a make or model kept
EXIF_DATE = re.compile(r"^\s*(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})"
                       r"(?:\.(\d+))?([+-]\d{2}:\d{2})?")
XMP_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})"
                      r"(?:\.(\d+))?)?)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$")
OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


@dataclass(frozen=True)
class Metadata:
    taken: str | None = None  # ISO 8601, wall clock, with its offset when known
    taken_source: str | None = None  # which field gave it ("DateTimeOriginal", ...)
    make: str | None = None
    model: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    orientation: int = 1


def wall_clock(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
               second: int = 0, fraction: str = "", offset: str | None = None,
               latest: datetime | None = None) -> str | None:
    """An ISO 8601 date from its parts, or None for an impossible one (no
    such day, before photography, more than a day in the future)."""
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    latest = latest or datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=1)
    if year < EARLIEST or moment > latest:
        return None
    fraction = "".join(c for c in fraction if c.isdigit())[:6].rstrip("0")
    text = moment.isoformat() + (f".{fraction}" if fraction else "")
    return text + offset if offset else text


def parse_offset(text: object) -> str | None:
    """"+01:00" from an EXIF or XMP offset, or None (absent, out of range)."""
    if not isinstance(text, str):
        return None
    if text.strip() == "Z":
        return "+00:00"
    found = OFFSET.match(text)
    if not found:
        return None
    sign, hours, minutes = found.group(1), int(found.group(2)), int(found.group(3))
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        return None
    return f"{sign}{hours:02d}:{minutes:02d}"


def exif_date(text: object, subsec: object = None, offset: object = None) -> str | None:
    """An EXIF date ("2019:03:14 15:09:26"), its sub-seconds and offset."""
    if not isinstance(text, str):
        return None
    found = EXIF_DATE.match(text)
    if not found:
        return None
    parts = [int(v) for v in found.groups()[:6]]
    inline_fraction, inline_offset = found.group(7), found.group(8)  # (some write them in)
    return wall_clock(*parts, fraction=str(subsec or inline_fraction or "").strip(),
                      offset=parse_offset(offset) or parse_offset(inline_offset))


def xmp_date(text: object) -> str | None:
    """An XMP date: "2019-03-14T15:09:26.12+01:00", or fewer parts."""
    if not isinstance(text, str):
        return None
    found = XMP_DATE.match(text)
    if not found:
        return None
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    return wall_clock(int(year), int(month or 1), int(day or 1), int(hour or 0),
                      int(minute or 0), int(second or 0), fraction or "",
                      parse_offset(zone) if zone else None)


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value[:MAX_TEXT] or None


def _degrees(value: object, ref: object) -> float | None:
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    found = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip().upper() in ("S", "W"):
        found = -found
    return round(found, 7)


def _exif(data: bytes) -> object | None:
    """Pillow's reading of the file's EXIF (None if there is none it can read)."""
    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()  # (idempotent)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.getexif()
    except Exception:
        return None


def _from_exif(exif: object) -> tuple[dict, list[tuple[str, str]]]:
    """The camera, orientation, GPS position and dates in Pillow's EXIF;
    each read on its own (one broken field spoils none of the others)."""
    found: dict = {}
    dates: list[tuple[str, str]] = []
    if exif is None:
        return found, dates
    for key, tag in (("make", MAKE), ("model", MODEL)):
        with contextlib.suppress(Exception):
            found[key] = _text(exif.get(tag))
    with contextlib.suppress(Exception):
        orientation = int(exif.get(ORIENTATION) or 1)
        found["orientation"] = orientation if 1 <= orientation <= 8 else 1
    ifd: dict = {}
    with contextlib.suppress(Exception):
        ifd = exif.get_ifd(EXIF_IFD)
    for source, date, subsec, offset in EXIF_DATES:
        with contextlib.suppress(Exception):
            text = exif_date(ifd.get(date), ifd.get(subsec), ifd.get(offset))
            if text:
                dates.append((source, text))
    with contextlib.suppress(Exception):
        gps = exif.get_ifd(GPS_IFD)
        latitude, longitude = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
        if latitude is not None and longitude is not None and abs(latitude) <= 90 and \
                abs(longitude) <= 180 and (latitude, longitude) != (0.0, 0.0):
            found["latitude"], found["longitude"] = latitude, longitude
    return found, dates


def _from_xmp(packets: list[bytes]) -> list[tuple[str, str]]:
    dates = []
    for packet in packets:
        values = xmp.fields(packet, tuple((namespace, name) for _, namespace, name in XMP_DATES))
        for (source, _, _), value in zip(XMP_DATES, values, strict=True):
            text = xmp_date(value)
            if text:
                dates.append((source, text))
    return dates


def read(data: bytes, sidecar: bytes | None = None) -> Metadata:
    """What the photo ``data`` (and the XMP ``sidecar`` beside it) say."""
    exif = _exif(data)
    found, dates = _from_exif(exif)
    # a sidecar is an edit made on top of the file: its date wins over the file's
    dates = (_from_xmp([sidecar]) if sidecar else []) + dates + _from_xmp(xmp.packets(data))
    source, taken = dates[0] if dates else (None, None)
    return Metadata(taken=taken, taken_source=source, make=found.get("make"),
                    model=found.get("model"), latitude=found.get("latitude"),
                    longitude=found.get("longitude"),
                    orientation=found.get("orientation", 1))

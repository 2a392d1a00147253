"""Face regions in XMP, read and written: what digiKam, Lightroom, Picasa,
Windows Photo Gallery, Mylio and phones store in photos (or in a sidecar
beside them), and what other tools read back from ours.

Read: MWG regions (``mwg-rs:Regions``: areas by their normalised *centre*,
width and height), Microsoft Photo regions (``MP:RegionInfo``:
``MPReg:Rectangle`` "x, y, w, h" from the *top-left*), and the IPTC
Extension's ``PersonInImage`` (names without areas). Areas are in the
stored pixels, before the EXIF orientation turns them upright:
:func:`upright` maps a box through each of the eight. The packet comes from
a sidecar, else from the file (a JPEG's APP1 segments, extended XMP too; a
PNG's iTXt; a WebP's ``XMP`` chunk; a TIFF's tag 700; otherwise the packet
wrapper found in the bytes, as the XMP specification allows: HEIC, AVIF).

Hostile packets never get further than this module: XML is parsed with
defusedxml (no DTD, no entity, nothing external), packets over 2 MiB, more
than 200 regions and names over 100 characters are cut.

Written: :func:`sidecar`, an XMP sidecar with MWG and Microsoft regions and
``PersonInImage`` for a photo's named faces. Pure functions: no OpenCV.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

MAX_PACKET = 2 << 20
MAX_REGIONS = 200
MAX_NAME = 100

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MWG = "http://www.metadataworkinggroup.com/schemas/regions/"
AREA = "http://ns.adobe.com/xmp/sType/Area#"
DIM = "http://ns.adobe.com/xap/1.0/sType/Dimensions#"
MP = "http://ns.microsoft.com/photo/1.2/"
MPRI = "http://ns.microsoft.com/photo/1.2/t/RegionInfo#"
MPREG = "http://ns.microsoft.com/photo/1.2/t/Region#"
IPTC = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
EXIF = "http://ns.adobe.com/exif/1.0/"
TIFF = "http://ns.adobe.com/tiff/1.0/"
XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"
EXTENDED_APP1 = b"http://ns.adobe.com/xmp/extension/\x00"


@dataclass(frozen=True)
class Region:
    """A named face region: ``box`` is x1, y1, x2, y2 as fractions of the
    image's width and height."""

    name: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class Tags:
    """What a photo's XMP says of its people."""

    regions: list[Region]
    names: list[str]  # PersonInImage: people in the photo, without areas

    def __bool__(self) -> bool:
        return bool(self.regions or self.names)


NONE = Tags([], [])


def clean_name(text: str | None) -> str:
    return " ".join((text or "").split())[:MAX_NAME]


# -- finding the packet ------------------------------------------------------------


def packets(data: bytes) -> list[bytes]:
    """The XMP packets embedded in an image file (none, one, or a main packet
    and its extension)."""
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff(data)
    return _scan(data)


def _jpeg(data: bytes) -> list[bytes]:
    main: list[bytes] = []
    extended: dict[bytes, dict[int, bytes]] = {}
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # the image data: no metadata after it
            break
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        payload = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and payload.startswith(XMP_APP1) and not main:
            main.append(payload[len(XMP_APP1):])
        elif marker == 0xE1 and payload.startswith(EXTENDED_APP1):
            body = payload[len(EXTENDED_APP1):]
            if len(body) > 40:  # GUID (32), full length (4), offset (4)
                guid, (total, offset) = body[:32], struct.unpack(">II", body[32:40])
                if total <= MAX_PACKET:
                    extended.setdefault(guid, {})[offset] = body[40:]
        pos += 2 + length
    found = main
    for chunks in list(extended.values())[:1]:
        found.append(b"".join(chunks[offset] for offset in sorted(chunks)))
    return found


def _png(data: bytes) -> list[bytes]:
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00"):
            rest = body[len(b"XML:com.adobe.xmp\x00"):]
            if len(rest) < 2:
                return []
            compressed, rest = rest[0], rest[2:]
            rest = rest.split(b"\x00", 2)[-1]  # after the language tag and translated keyword
            if compressed:
                try:
                    inflater = zlib.decompressobj()
                    rest = inflater.decompress(rest, MAX_PACKET + 1)
                except zlib.error:
                    return []
            return [rest]
        if kind == b"IEND":
            break
        pos += 12 + length
    return []


def _webp(data: bytes) -> list[bytes]:
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[pos:pos + 8])
        if kind == b"XMP ":
            return [data[pos + 8:pos + 8 + length]]
        pos += 8 + length + (length & 1)
    return []


def _tiff(data: bytes) -> list[bytes]:
    endian = "<" if data[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack(endian + "I", data[4:8])
        (count,) = struct.unpack(endian + "H", data[offset:offset + 2])
        for n in range(count):
            entry = data[offset + 2 + 12 * n: offset + 14 + 12 * n]
            tag, _, size, where = struct.unpack(endian + "HHII", entry)
            if tag == 700:
                return [data[where:where + size] if size > 4 else entry[8:8 + size]]
    except struct.error:
        pass
    return []


def _scan(data: bytes) -> list[bytes]:
    """The packet wrapper, found in the bytes (HEIC, AVIF, GIF...)."""
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        return []
    end = data.find(b"</x:xmpmeta>", start, start + MAX_PACKET)
    return [data[start:end + len(b"</x:xmpmeta>")]] if end >= 0 else []


# -- reading -------------------------------------------------------------------------


def read(data: bytes, sidecar: bytes | None = None) -> Tags:
    """The people an image's XMP names: its sidecar's if it has one, else
    what is embedded in the file. Never raises for a bad packet."""
    found = [sidecar] if sidecar else packets(data)
    regions: list[Region] = []
    names: list[str] = []
    for packet in found:
        tags = parse(packet)
        regions += tags.regions
        names += [name for name in tags.names if name not in names]
    return Tags(_distinct(regions)[:MAX_REGIONS], names[:MAX_REGIONS])


def _root(packet: bytes) -> Element | None:
    """One XMP packet as XML, parsed safely (no DTD, no entity, nothing
    external); None if it is too large or not XML we can read."""
    if not packet or len(packet) > MAX_PACKET:
        return None
    try:
        return fromstring(packet, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError):
        return None


def parse(packet: bytes) -> Tags:
    """The face regions and names in one XMP packet (none if it is not
    XML we can read safely)."""
    root = _root(packet)
    if root is None:
        return NONE
    regions = list(islice(chain(_mwg(root), _mp(root)), MAX_REGIONS))
    names = list(islice((clean_name(li.text) for node in root.iter(f"{{{IPTC}}}PersonInImage")
                         for li in node.iter(f"{{{RDF}}}li") if clean_name(li.text)),
                        MAX_REGIONS))
    return Tags(regions, names)


def fields(packet: bytes, wanted: tuple[tuple[str, str], ...]) -> list[str | None]:
    """The first value of each simple property in ``wanted`` (namespace,
    name) in one XMP packet, as an attribute or an element of any
    rdf:Description (a date, a number); None for one absent, all None if
    the packet cannot be read. The packet is parsed once."""
    root = _root(packet)
    descriptions = [] if root is None else list(root.iter(f"{{{RDF}}}Description"))
    found: list[str | None] = []
    for namespace, name in wanted:
        values = (_field(node, namespace, name) for node in descriptions)
        found.append(next((v.strip() for v in values if v and v.strip()), None))
    return found


def orientation(packet: bytes | None) -> int:
    """A packet's ``tiff:Orientation`` (1-8; 1 when absent or not one)."""
    if not packet:
        return 1
    (found,) = fields(packet, ((TIFF, "Orientation"),))
    try:
        value = int(found or 1)
    except ValueError:
        return 1
    return value if 1 <= value <= 8 else 1


def _resource(node: Element) -> Element:
    """The node holding a struct's fields: itself (fields as attributes, or
    rdf:parseType="Resource"), or its rdf:Description."""
    inner = node.find(f"{{{RDF}}}Description")
    return inner if inner is not None else node


def _field(node: Element, namespace: str, name: str) -> str | None:
    key = f"{{{namespace}}}{name}"
    if key in node.attrib:
        return node.attrib[key]
    child = node.find(key)
    if child is None:
        return None
    inner = child.find(f"{{{RDF}}}Alt")  # (a language alternative: its first value)
    if inner is not None:
        first = inner.find(f"{{{RDF}}}li")
        return first.text if first is not None else None
    return child.text


def _struct(node: Element, namespace: str, name: str) -> Element | None:
    child = node.find(f"{{{namespace}}}{name}")
    return _resource(child) if child is not None else None


def _number(text: str | None) -> float | None:
    try:
        value = float((text or "").strip())
    except ValueError:
        return None
    return value if value == value and abs(value) < 1e9 else None  # (not NaN, not huge)


def _mwg(root: Element) -> Iterator[Region]:
    for regions in root.iter(f"{{{MWG}}}Regions"):
        regions = _resource(regions)
        size = _struct(regions, MWG, "AppliedToDimensions")
        width = _number(_field(size, DIM, "w")) if size is not None else None
        height = _number(_field(size, DIM, "h")) if size is not None else None
        listed = regions.find(f"{{{MWG}}}RegionList")
        if listed is None:
            continue
        for li in listed.iter(f"{{{RDF}}}li"):
            item = _resource(li)
            kind = (_field(item, MWG, "Type") or "Face").strip()
            name = clean_name(_field(item, MWG, "Name"))
            area = _struct(item, MWG, "Area")
            if kind != "Face" or not name or area is None:
                continue
            x, y, w, h = (_number(_field(area, AREA, key)) for key in ("x", "y", "w", "h"))
            if None in (x, y, w, h):
                continue
            if (_field(area, AREA, "unit") or "normalized").strip() == "pixel":
                if not (width and height):
                    continue
                x, y, w, h = x / width, y / height, w / width, h / height
            box = _clip((x - w / 2, y - h / 2, x + w / 2, y + h / 2))
            if box:
                yield Region(name, box)


def _mp(root: Element) -> Iterator[Region]:
    for info in root.iter(f"{{{MP}}}RegionInfo"):
        listed = _resource(info).find(f"{{{MPRI}}}Regions")
        if listed is None:
            continue
        for li in listed.iter(f"{{{RDF}}}li"):
            item = _resource(li)
            name = clean_name(_field(item, MPREG, "PersonDisplayName"))
            numbers = [_number(part) for part in (_field(item, MPREG, "Rectangle") or ""
                                                  ).split(",")]
            if not name or len(numbers) != 4 or None in numbers:
                continue
            x, y, w, h = numbers
            box = _clip((x, y, x + w, y + h))
            if box:
                yield Region(name, box)


def _clip(box: tuple[float, float, float, float]) -> tuple[float, float, float, float] | None:
    x1, y1, x2, y2 = (min(1.0, max(0.0, v)) for v in box)
    return (x1, y1, x2, y2) if x2 - x1 > 1e-4 and y2 - y1 > 1e-4 else None


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _distinct(regions: list[Region]) -> list[Region]:
    """One region per face: the same person in MWG and Microsoft regions
    (digiKam writes both) counts once, the first kept."""
    kept: list[Region] = []
    for region in regions:
        if not any(other.name == region.name and overlap(other.box, region.box) > 0.5
                   for other in kept):
            kept.append(region)
    return kept


# -- orientation -----------------------------------------------------------------------

# A point of the stored pixels (fractions) -> where it is once the EXIF
# orientation has turned the image upright (as faces.vision.decode does).
_TURN = {
    1: lambda x, y: (x, y),
    2: lambda x, y: (1 - x, y),
    3: lambda x, y: (1 - x, 1 - y),
    4: lambda x, y: (x, 1 - y),
    5: lambda x, y: (y, x),
    6: lambda x, y: (1 - y, x),
    7: lambda x, y: (1 - y, 1 - x),
    8: lambda x, y: (y, 1 - x),
}


def upright(box: tuple[float, float, float, float], orientation: int
            ) -> tuple[float, float, float, float]:
    """A box of the stored pixels, in the upright image (fractions both)."""
    turn = _TURN.get(orientation, _TURN[1])
    (ax, ay), (bx, by) = turn(box[0], box[1]), turn(box[2], box[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def stored(box: tuple[float, ...], orientation: int, width: int, height: int
           ) -> tuple[float, float, float, float]:
    """A box of the upright image (pixels of ``width`` x ``height``), in
    the pixels of the file as stored before its EXIF ``orientation`` turns
    it: what an MWG area of that file applies to."""
    inverse = _TURN.get({6: 8, 8: 6}.get(orientation, orientation), _TURN[1])
    (ax, ay) = inverse(box[0] / width, box[1] / height)
    (bx, by) = inverse(box[2] / width, box[3] / height)
    across, down = (height, width) if orientation >= 5 else (width, height)
    return (min(ax, bx) * across, min(ay, by) * down, max(ax, bx) * across,
            max(ay, by) * down)


# -- writing ---------------------------------------------------------------------------


def sidecar(width: int, height: int, faces: list[tuple[tuple[float, ...], str]],
            tool: str = "faces", taken: str | None = None) -> bytes:
    """An XMP sidecar for an image of ``width`` x ``height`` (its pixels as
    stored) naming ``faces`` (box in those pixels, name): MWG regions,
    Microsoft regions and PersonInImage; and ``taken`` (ISO 8601) as its
    ``exif:DateTimeOriginal``."""
    mwg, mp, names = [], [], []
    for box, name in faces:
        x1, y1, x2, y2 = (max(0.0, v) for v in box)
        x1, x2 = x1 / width, min(x2, width) / width
        y1, y2 = y1 / height, min(y2, height) / height
        w, h = x2 - x1, y2 - y1
        text = escape(name)
        mwg.append(
            "     <rdf:li rdf:parseType='Resource'>\n"
            f"      <mwg-rs:Area stArea:x='{x1 + w / 2:.6f}' stArea:y='{y1 + h / 2:.6f}' "
            f"stArea:w='{w:.6f}' stArea:h='{h:.6f}' stArea:unit='normalized'/>\n"
            f"      <mwg-rs:Name>{text}</mwg-rs:Name>\n"
            "      <mwg-rs:Type>Face</mwg-rs:Type>\n"
            "     </rdf:li>")
        mp.append(
            "     <rdf:li rdf:parseType='Resource'>\n"
            f"      <MPReg:PersonDisplayName>{text}</MPReg:PersonDisplayName>\n"
            f"      <MPReg:Rectangle>{x1:.6f}, {y1:.6f}, {w:.6f}, {h:.6f}</MPReg:Rectangle>\n"
            "     </rdf:li>")
        if name not in names:
            names.append(name)
    people = "\n".join(f"    <rdf:li>{escape(name)}</rdf:li>" for name in names)
    regions = f"""
  <mwg-rs:Regions rdf:parseType='Resource'>
   <mwg-rs:AppliedToDimensions stDim:w='{width}' stDim:h='{height}' stDim:unit='pixel'/>
   <mwg-rs:RegionList>
    <rdf:Bag>
{chr(10).join(mwg)}
    </rdf:Bag>
   </mwg-rs:RegionList>
  </mwg-rs:Regions>
  <MP:RegionInfo rdf:parseType='Resource'>
   <MPRI:Regions>
    <rdf:Bag>
{chr(10).join(mp)}
    </rdf:Bag>
   </MPRI:Regions>
  </MP:RegionInfo>
  <Iptc4xmpExt:PersonInImage>
   <rdf:Bag>
{people}
   </rdf:Bag>
  </Iptc4xmpExt:PersonInImage>""" if faces else ""  # (nobody named: no empty lists)
    date = f"\n  xmlns:exif='{EXIF}'\n  exif:DateTimeOriginal={quoteattr(taken)}" if taken else ""
    body = f"""<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/' x:xmptk={quoteattr(tool)}>
<rdf:RDF xmlns:rdf='{RDF}'>
 <rdf:Description rdf:about=''
  xmlns:mwg-rs='{MWG}'
  xmlns:stArea='{AREA}'
  xmlns:stDim='{DIM}'
  xmlns:MP='{MP}'
  xmlns:MPRI='{MPRI}'
  xmlns:MPReg='{MPREG}'
  xmlns:Iptc4xmpExt='{IPTC}'{date}>{regions}
 </rdf:Description>
</rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>
"""
    return body.encode("utf-8")

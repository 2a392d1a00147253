"""Face names that travel, proven against ExifTool (the reference reader
and writer of XMP face regions): regions ExifTool writes into photos (MWG
and Microsoft, all eight EXIF orientations, JPEG/PNG/WebP/TIFF/AVIF, a
sidecar) name the right faces; hostile packets never reach a 5xx; ExifTool
reads our sidecar back within a pixel; `faces export` then `faces import`
into an empty gallery gives the same named people."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faces.vision import xmp
from faces.vision.decode import decode
from faces.vision.probe import stored_orientation
from tests.conftest import IMAGES, RECOGNITION_MODEL, photo_bytes
from tests.support.helpers import multipart
from tests.support.process import get_json, server
from tests.support.server import FacesTestCase
from tests.test_people import PeopleCase

EXIFTOOL = shutil.which("exiftool")

# PIL's transpose that undoes each EXIF orientation (the pixels a camera
# stores for an upright scene); 2, 3, 4, 5 and 7 are their own inverse.
STORE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
         4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
         6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
         8: Image.Transpose.ROTATE_270}


@pytest.fixture(autouse=True)
def _exiftool() -> None:
    if EXIFTOOL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("ExifTool not found (apt-get install libimage-exiftool-perl)")
        pytest.skip("ExifTool not found (apt-get install libimage-exiftool-perl)")


def exiftool(*args: str) -> str:
    done = subprocess.run([EXIFTOOL, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def mwg(regions: list[tuple[str, tuple[float, ...]]], kind: str = "Face") -> str:
    """ExifTool's assignment of MWG regions (name, x1, y1, x2, y2 fractions),
    as digiKam writes them: normalised centre, width and height."""
    items = ",".join(
        f"{{Area={{X={(b[0] + b[2]) / 2:.6f},Y={(b[1] + b[3]) / 2:.6f},W={b[2] - b[0]:.6f},"
        f"H={b[3] - b[1]:.6f},Unit=normalized}},Name={name},Type={kind}}}"
        for name, b in regions)
    return f"-XMP-mwg-rs:RegionInfo={{RegionList=[{items}]}}"


def microsoft(regions: list[tuple[str, tuple[float, ...]]]) -> str:
    """ExifTool's assignment of Microsoft Photo regions: top-left x, y, w, h."""
    items = ",".join(
        f"{{PersonDisplayName={name},Rectangle={b[0]:.6f}|, {b[1]:.6f}|, "
        f"{b[2] - b[0]:.6f}|, {b[3] - b[1]:.6f}}}" for name, b in regions)
    return f"-XMP-MP:RegionInfoMP={{Regions=[{items}]}}"


def tagged(path: Path, *assignments: str) -> bytes:
    exiftool("-q", "-overwrite_original", *assignments, str(path))
    return path.read_bytes()


def sidecar(photo: Path, side: Path, *assignments: str) -> None:
    """An XMP sidecar made by ExifTool for ``photo`` (its metadata, as
    digiKam starts one), then tagged. (ExifTool's ``-o x.xmp`` keeps the
    photo's own regions over new ones: hence two steps.)"""
    exiftool("-q", "-o", str(side), str(photo))
    exiftool("-q", "-overwrite_original", *assignments, str(side))


def stored_frame(box: tuple[float, ...], size: tuple[int, int], orientation: int
                 ) -> tuple[float, ...]:
    """Where an upright box (fractions) lies in the pixels stored for
    ``orientation``: found by storing a mask the way the photo is stored."""
    mask = Image.new("L", size)
    width, height = size
    mask.paste(255, (round(box[0] * width), round(box[1] * height),
                     round(box[2] * width), round(box[3] * height)))
    if STORE[orientation] is not None:
        mask = mask.transpose(STORE[orientation])
    ys, xs = np.nonzero(np.asarray(mask))
    return (xs.min() / mask.width, ys.min() / mask.height,
            (xs.max() + 1) / mask.width, (ys.max() + 1) / mask.height)


def store(upright: Image.Image, orientation: int, path: Path) -> Path:
    """``upright`` saved as a camera would store it with ``orientation``."""
    pixels = upright if STORE[orientation] is None else upright.transpose(STORE[orientation])
    pixels.save(path, quality=95)
    exiftool("-q", "-overwrite_original", "-n", f"-Orientation={orientation}", str(path))
    return path


def iou(a: list[float] | tuple[float, ...], b: list[float] | tuple[float, ...]) -> float:
    return xmp.overlap(tuple(a), tuple(b))


# -- reading, without models --------------------------------------------------------


def test_regions_follow_the_stored_pixels_through_all_eight_orientations(tmp_path: Path
                                                                         ) -> None:
    """A red square drawn in the upright scene; each orientation's stored
    pixels tagged by ExifTool (MWG and Microsoft regions on the square, in
    the stored frame); our decoder turns the pixels upright and the regions
    land on the square there."""
    scene = Image.new("RGB", (640, 400), (90, 110, 130))
    square = (0.55, 0.2, 0.7, 0.5)  # upright fractions, deliberately off-centre
    scene.paste((230, 20, 20), (352, 80, 448, 200))
    for orientation in range(1, 9):
        path = store(scene, orientation, tmp_path / f"o{orientation}.jpg")
        there = stored_frame(square, scene.size, orientation)
        data = tagged(path, mwg([("Mwg", there)]), microsoft([("Mp", there)]),
                      "-XMP-iptcExt:PersonInImage=Mwg")
        assert stored_orientation(data) == orientation
        tags = xmp.read(data)
        assert [r.name for r in tags.regions] == ["Mwg", "Mp"] and tags.names == ["Mwg"]
        image = decode(data, 10**8)
        assert image.shape[:2] == (400, 640)
        red = np.nonzero((image[:, :, 2] > 180) & (image[:, :, 1] < 80))
        found = (red[1].min() / 640, red[0].min() / 400, (red[1].max() + 1) / 640,
                 (red[0].max() + 1) / 400)
        for region in tags.regions:
            box = xmp.upright(region.box, orientation)
            assert iou(box, found) > 0.95, (orientation, region, box, found)
            assert iou(box, square) > 0.95


def test_every_format_carries_its_regions(tmp_path: Path) -> None:
    """XMP embedded by ExifTool in JPEG, PNG, WebP, TIFF and AVIF; and a
    sidecar ExifTool writes, which wins over what the file holds."""
    source = Image.open(io.BytesIO(photo_bytes("t1.jpg")))
    regions = [("Alice", (0.1, 0.2, 0.2, 0.35)), ("Bob", (0.5, 0.3, 0.6, 0.45))]
    for suffix in (".jpg", ".png", ".webp", ".tif", ".avif"):
        path = tmp_path / f"photo{suffix}"
        source.save(path)
        data = tagged(path, mwg(regions[:1]), microsoft(regions[1:]),
                      "-XMP-iptcExt:PersonInImage=Alice", "-XMP-iptcExt:PersonInImage=Bob")
        tags = xmp.read(data)
        assert [(r.name, tuple(round(v, 4) for v in r.box)) for r in tags.regions] == \
            regions, suffix
        assert tags.names == ["Alice", "Bob"]
    side = tmp_path / "photo.xmp"
    sidecar(tmp_path / "photo.jpg", side, mwg([("Carol", (0.3, 0.3, 0.4, 0.4))]))
    tags = xmp.read((tmp_path / "photo.jpg").read_bytes(), side.read_bytes())
    # the sidecar's MWG regions (Carol, replacing Alice) and the Microsoft ones
    # ExifTool copied into it from the photo
    assert [r.name for r in tags.regions] == ["Carol", "Bob"]


def test_other_region_types_and_nonsense_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "p.jpg"
    path.write_bytes(photo_bytes("t1.jpg"))
    data = tagged(path, mwg([("Rex", (0.1, 0.1, 0.3, 0.3))], kind="Pet"))
    assert not xmp.read(data)
    packet = ("<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='" + xmp.RDF + "'>"
              "<rdf:Description xmlns:MP='" + xmp.MP + "' xmlns:MPRI='" + xmp.MPRI + "' "
              "xmlns:MPReg='" + xmp.MPREG + "'><MP:RegionInfo rdf:parseType='Resource'>"
              "<MPRI:Regions><rdf:Bag>"
              + "".join(f"<rdf:li MPReg:PersonDisplayName='{name}' MPReg:Rectangle='{rect}'/>"
                        for name, rect in [("NaN", "nan, 0, 1, 1"), ("Inf", "0, 0, inf, 1"),
                                           ("Few", "0.1, 0.2"), ("Empty", "0.5, 0.5, 0, 0"),
                                           ("Outside", "2, 2, 1, 1"), ("Ok", "0.1,0.1,0.2,0.2"),
                                           ("", "0.1, 0.1, 0.2, 0.2")])
              + "</rdf:Bag></MPRI:Regions></MP:RegionInfo></rdf:Description></rdf:RDF>"
              "</x:xmpmeta>")
    assert [r.name for r in xmp.parse(packet.encode()).regions] == ["Ok"]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='%s'><rdf:Description
 xmlns:Iptc4xmpExt='%s'><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>&lol4;</rdf:li>
</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>""" % (
    xmp.RDF.encode(), xmp.IPTC.encode())
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='%s'><rdf:Description
 xmlns:Iptc4xmpExt='%s'><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>&secret;</rdf:li>
</rdf:Bag></Iptc4xmpExt:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>""" % (
    xmp.RDF.encode(), xmp.IPTC.encode())


def hostile_packets() -> dict[str, bytes]:
    many = b"".join(b"<rdf:li>p%d</rdf:li>" % n for n in range(5000))
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity": EXTERNAL,
        "huge": b"<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + b" " * (3 << 20) + b"</x:xmpmeta>",
        "malformed": b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><unclosed>",
        "not xml": b"\x00\xff" * 1000,
        "deep": b"<a>" * 50000 + b"</a>" * 50000,
        "many names": (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='%s'>"
                       b"<rdf:Description xmlns:I='%s'><I:PersonInImage><rdf:Bag>%s"
                       b"</rdf:Bag></I:PersonInImage></rdf:Description></rdf:RDF></x:xmpmeta>"
                       % (xmp.RDF.encode(), xmp.IPTC.encode(), many)),
    }


def embedded(jpeg: bytes, packet: bytes) -> bytes:
    """A JPEG with ``packet`` as its XMP (cut to one APP1 segment)."""
    body = (xmp.XMP_APP1 + packet)[:65533]
    return jpeg[:2] + b"\xff\xe1" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def test_hostile_packets_are_read_as_nothing() -> None:
    for what, packet in hostile_packets().items():
        tags = xmp.parse(packet)
        assert len(tags.names) <= xmp.MAX_REGIONS, what
        assert "root:" not in " ".join(tags.names), what  # nothing was fetched
        assert not any("lol" in name for name in tags.names), what
        xmp.read(embedded(photo_bytes("t1.jpg"), packet))  # never raises


class TestHostileUploads(FacesTestCase):
    def test_never_a_5xx(self) -> None:
        self.io_loop.run_sync(self._hostile, timeout=120)

    async def _hostile(self) -> None:
        jpeg = photo_bytes("obama_small.jpg")
        for what, packet in hostile_packets().items():
            answer = await self.upload(f"{what}.jpg", embedded(jpeg, packet))
            assert answer.code in (200, 201), (what, answer.code, answer.body)
            body, kind = multipart([("file", f"side-{what}.jpg", photo_bytes("t1.jpg")),
                                    ("xmp", f"side-{what}.jpg.xmp", packet)])
            answer = await self.http_client.fetch(
                self.get_url("/api/photos"), method="POST", body=body, raise_error=False,
                headers={"Content-Type": kind})
            # a sidecar over the cap is refused as the user's error, the rest stored
            if what == "huge":
                assert answer.code == 400, answer.body
                assert json.loads(answer.body)["error"]["code"] == "sidecar_too_large"
            else:
                assert answer.code in (200, 201), (what, answer.code, answer.body)
        listed = json.loads((await self.http_client.fetch(self.get_url("/api/photos"))).body)
        assert listed["photos"]


# -- through the server, with People -------------------------------------------------


class XmpCase(PeopleCase):
    async def delete(self, photo_id: str) -> None:
        answer = await self.http_client.fetch(self.get_url(f"/api/photos/{photo_id}"),
                                              method="DELETE")
        assert answer.code == 204

    async def photo(self, photo_id: str) -> dict:
        return json.loads((await self.api("GET", f"/api/photos/{photo_id}")).body)


class TestRegionsNameFaces(XmpCase):
    def test_mwg_and_microsoft_regions_in_four_orientations(self) -> None:
        self.io_loop.run_sync(self._orientations, timeout=300)

    async def named(self, photo: dict) -> dict[str, list[float]]:
        """Name -> box of the photo's faces in named people."""
        people = {p["id"]: p["name"] for p in await self.people(hidden=True)}
        return {people[f["person"]]: f["box"] for f in (await self.photo(photo["id"]))["faces"]
                if f["person"] and people.get(f["person"])}

    async def _orientations(self) -> None:
        tmp = Path(self.settings.data_dir).parent
        plain = json.loads((await self.upload("t1.jpg")).body)
        width, height = plain["width"], plain["height"]
        boxes = [f["box"] for f in plain["faces"]]
        assert len(boxes) == 6
        await self.delete(plain["id"])  # (only its boxes were wanted)
        fraction = [(b[0] / width, b[1] / height, b[2] / width, b[3] / height) for b in boxes]
        scene = Image.open(io.BytesIO(photo_bytes("t1.jpg")))
        cases = {1: "mwg", 6: "mwg+mp", 8: "mp", 3: "mwg"}
        stored = {}
        for orientation, schemas in cases.items():
            path = store(scene, orientation, tmp / f"t1-{orientation}.jpg")
            alice = stored_frame(fraction[0], scene.size, orientation)
            bob = stored_frame(fraction[3], scene.size, orientation)
            assignments = []
            if "mwg" in schemas:
                assignments.append(mwg([("Alice", alice)] + ([] if "mp" in schemas
                                                             else [("Bob", bob)])))
            if "mp" in schemas:
                assignments.append(microsoft([("Bob", bob)] + ([] if "mwg" in schemas
                                                              else [("Alice", alice)])))
            answer = await self.upload(f"t1-{orientation}.jpg", tagged(path, *assignments))
            assert answer.code == 201, answer.body
            stored[orientation] = json.loads(answer.body)
        await self.recognized()
        people = await self.people()
        by_name = {p["name"]: p for p in people if p["name"]}
        assert sorted(by_name) == ["Alice", "Bob"]
        assert by_name["Alice"]["photos"] == by_name["Bob"]["photos"] == 4
        for orientation, photo in stored.items():
            assert (photo["width"], photo["height"]) == (width, height)  # turned upright
            named = await self.named(photo)
            assert iou(named["Alice"], boxes[0]) > 0.6, (orientation, named, boxes[0])
            assert iou(named["Bob"], boxes[3]) > 0.6, (orientation, named, boxes[3])
            # the user's placement: recognition and grouping never move it
            pinned = self.services.catalogue.db.execute(
                "SELECT COUNT(*) FROM faces WHERE photo = ? AND person IS NOT NULL AND pinned",
                (photo["id"],)).fetchone()[0]
            assert pinned == 2

        # Our sidecar, read by ExifTool: the same names and areas, within a pixel, in
        # the pixels of the original as it is stored (turned by its orientation 6:
        # what ExifTool and digiKam apply an MWG area to).
        answer = await self.api("GET", stored[6]["urls"]["xmp"])
        assert answer.code == 200
        assert answer.headers["Content-Type"].startswith("application/rdf+xml")
        assert "attachment" in answer.headers["Content-Disposition"]
        assert "t1-6.jpg.xmp" in answer.headers["Content-Disposition"]
        side = tmp / "ours.xmp"
        side.write_bytes(answer.body)
        read = json.loads(exiftool("-j", "-struct", "-XMP:all", str(side)))[0]
        named = await self.named(stored[6])
        regions = read["RegionInfo"]["RegionList"]
        assert sorted(r["Name"] for r in regions) == ["Alice", "Bob"]
        across, down = height, width  # (the stored pixels: upright turned back)
        for region in regions:
            area, box = region["Area"], xmp.stored(named[region["Name"]], 6, width, height)
            assert region["Type"] == "Face"
            x1, y1 = (area["X"] - area["W"] / 2) * across, (area["Y"] - area["H"] / 2) * down
            x2, y2 = (area["X"] + area["W"] / 2) * across, (area["Y"] + area["H"] / 2) * down
            assert np.allclose([x1, y1, x2, y2], box, atol=1.0), (region, box)
            upright = xmp.upright((x1 / across, y1 / down, x2 / across, y2 / down), 6)
            assert np.allclose([upright[0] * width, upright[1] * height, upright[2] * width,
                                upright[3] * height], named[region["Name"]], atol=1.0)
        assert read["RegionInfo"]["AppliedToDimensions"] == {"W": across, "H": down,
                                                              "Unit": "pixel"}
        for region in read["RegionInfoMP"]["Regions"]:
            x, y, w, h = (float(v) for v in region["Rectangle"].split(","))
            box = xmp.stored(named[region["PersonDisplayName"]], 6, width, height)
            assert np.allclose([x * across, y * down, (x + w) * across, (y + h) * down],
                               box, atol=1.0)
        assert sorted(read["PersonInImage"]) == ["Alice", "Bob"]
        unknown = await self.api("GET", "/api/photos/" + "0" * 24 + "/xmp")
        assert unknown.code == 404

    def test_a_region_without_a_face_and_names_without_areas(self) -> None:
        self.io_loop.run_sync(self._added, timeout=300)

    async def _added(self) -> None:
        tmp = Path(self.settings.data_dir).parent
        # coffee.jpg has no face a detector finds: a named region there is added
        path = tmp / "coffee.jpg"
        path.write_bytes(photo_bytes("coffee.jpg"))
        region = (0.3, 0.25, 0.55, 0.7)
        answer = await self.upload("coffee.jpg", tagged(path, mwg([("Dana", region)])))
        coffee = json.loads(answer.body)
        assert answer.code == 201 and len(coffee["faces"]) == 1
        box = coffee["faces"][0]["box"]
        assert iou(box, (region[0] * 600, region[1] * 400, region[2] * 600, region[3] * 400)) \
            > 0.95
        added = self.services.catalogue.db.execute(
            "SELECT added FROM faces WHERE photo = ?", (coffee["id"],)).fetchone()[0]
        assert added == 1
        # one face, one name without an area (IPTC PersonInImage): that face
        path = tmp / "obama.jpg"
        path.write_bytes(photo_bytes("obama.jpg"))
        obama = json.loads((await self.upload(
            "obama.jpg", tagged(path, "-XMP-iptcExt:PersonInImage=Barack Obama"))).body)
        # two faces, one name without an area: nobody can tell which face it is
        path = tmp / "two.jpg"
        path.write_bytes(photo_bytes("two_people.jpg"))
        two = json.loads((await self.upload(
            "two.jpg", tagged(path, "-XMP-iptcExt:PersonInImage=Someone"))).body)
        await self.recognized()
        names = {p["name"]: p for p in await self.people(hidden=True) if p["name"]}
        assert sorted(names) == ["Barack Obama", "Dana"]
        assert (await self.photo(coffee["id"]))["faces"][0]["person"] == names["Dana"]["id"]
        assert (await self.photo(obama["id"]))["faces"][0]["person"] == \
            names["Barack Obama"]["id"]
        assert len(two["faces"]) == 2
        # An existing person of that name (any case) gets the next one.
        path = tmp / "obama2.jpg"
        path.write_bytes(photo_bytes("people/obama/obama2.jpg"))
        again = json.loads((await self.upload(
            "obama2.jpg", tagged(path, "-XMP-iptcExt:PersonInImage=barack obama"))).body)
        await self.recognized()
        assert (await self.photo(again["id"]))["faces"][0]["person"] == \
            names["Barack Obama"]["id"]


class TestExportImport(XmpCase):
    def test_a_sidecar_library_imported_exported_and_imported_again(self) -> None:
        self.io_loop.run_sync(self._round_trip, timeout=600)

    async def faces_command(self, *args: str) -> subprocess.CompletedProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "faces", *args, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        out, err = await process.communicate()
        return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())

    async def faces_of(self, path: Path) -> tuple[tuple[int, int], list[tuple[float, ...]]]:
        """A photo's detected faces, left to right, as fractions (uploaded,
        then deleted again: only its boxes were wanted)."""
        plain = json.loads((await self.upload(path.name, path.read_bytes())).body)
        await self.delete(plain["id"])
        width, height = plain["width"], plain["height"]
        return (width, height), sorted(
            (f["box"][0] / width, f["box"][1] / height, f["box"][2] / width,
             f["box"][3] / height) for f in plain["faces"])

    async def _round_trip(self) -> None:
        tmp = Path(self.settings.data_dir).parent
        images = IMAGES
        library = tmp / "library"
        (library / "2019").mkdir(parents=True)
        # digiKam's way: regions in a sidecar named after the whole file name...
        shutil.copy(images / "kit_with_rose.jpg", library / "kit.jpg")
        _, (rose, kit) = await self.faces_of(library / "kit.jpg")  # (Rose is on the left)
        sidecar(library / "kit.jpg", library / "kit.jpg.xmp",
                mwg([("Kit Harington", kit), ("Rose Leslie", rose)]))
        # ... Lightroom's: the same stem; and two photos of the same file name
        shutil.copy(images / "people" / "kit_harington" / "john1.jpg", library / "john.jpg")
        _, found = await self.faces_of(library / "john.jpg")
        sidecar(library / "john.jpg", library / "john.xmp",
                microsoft([("Kit Harington", found[0])]))
        shutil.copy(images / "people" / "kit_harington" / "john2.jpg",
                    library / "2019" / "john.jpg")
        sidecar(library / "2019" / "john.jpg", library / "2019" / "john.xmp",
                "-XMP-iptcExt:PersonInImage=Kit Harington")
        shutil.copy(images / "t1.jpg", library / "t1.jpg")  # no sidecar: no names
        # the same pixels in another file (a date written in): another photo, kept as its own
        shutil.copy(images / "t1.jpg", library / "t1-dated.jpg")
        exiftool("-q", "-overwrite_original", "-DateTimeOriginal=2011:11:11 11:11:11",
                 str(library / "t1-dated.jpg"))

        done = await self.faces_command("import", str(library), "--server", self.get_url(""))
        assert done.returncode == 0, done.stdout + done.stderr
        await self.recognized()
        first = await self.gallery_names(self.get_url(""))
        assert first["people"] == {"Kit Harington": 3, "Rose Leslie": 1}
        assert len(first["photos"]) == 5
        kit_photo = next(p for p in (await self.listing(self.get_url(""))) if
                         p["filename"] == "kit.jpg")
        fixed = await self.api("PATCH", f"/api/photos/{kit_photo['id']}",
                               {"taken": "2014-02-03T04:05:06+01:00"})  # a corrected date
        assert fixed.code == 200

        # One person's photos, then the whole gallery, into plain folders.
        kit_id = next(p["id"] for p in await self.people() if p["name"] == "Kit Harington")
        only = tmp / "kit-only"
        done = await self.faces_command("export", "--data-dir", str(self.settings.data_dir),
                                        "--person", kit_id, str(only))
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in only.iterdir()) == \
            ["john (2).jpg", "john (2).jpg.xmp", "john.jpg", "john.jpg.xmp", "kit.jpg",
             "kit.jpg.xmp"]
        by_name = tmp / "kit-by-name"  # (--person takes a name as well as an id)
        done = await self.faces_command("export", "--data-dir", str(self.settings.data_dir),
                                        "--person", "kit harington", str(by_name))
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in by_name.iterdir()) == sorted(p.name for p in only.iterdir())
        done = await self.faces_command("export", "--data-dir", str(self.settings.data_dir),
                                        "--person", "Nobody Known", str(tmp / "none"))
        assert done.returncode == 2 and "Nobody Known" in done.stderr
        out = tmp / "export"
        done = await self.faces_command("export", "--data-dir", str(self.settings.data_dir),
                                        str(out))
        assert done.returncode == 0, done.stderr
        assert "5 photos" in done.stdout and "2 named people" in done.stdout
        for name in ("t1.jpg", "t1-dated.jpg", "kit.jpg"):  # the originals, byte for byte
            assert (out / name).read_bytes() == (library / name).read_bytes(), name
        again = await self.faces_command("export", "--data-dir", str(self.settings.data_dir),
                                         str(out))
        assert again.returncode == 2 and "not an empty folder" in again.stderr
        # readable by other tools as it is: ExifTool reads the names beside each photo
        read = json.loads(exiftool("-j", "-struct", "-XMP:all", str(out / "kit.jpg.xmp")))[0]
        assert sorted(r["Name"] for r in read["RegionInfo"]["RegionList"]) == \
            ["Kit Harington", "Rose Leslie"]
        assert not json.loads(exiftool("-j", "-struct", "-XMP:all",
                                       str(out / "t1.jpg.xmp")))[0].get("PersonInImage")

        # Imported into an empty gallery (a real server): the same named people.
        with server(tmp / "second", self.settings.model,
                    extra=("--recognition-model", str(RECOGNITION_MODEL))) as (_, base):
            done = await self.faces_command("import", str(out), "--server", base)
            assert done.returncode == 0, done.stdout + done.stderr
            second = await self.gallery_names(base, wait=True)
            dates = sorted((re.sub(r" \(\d+\)(?=\.)", "", p["filename"]), p["taken"])
                           for p in await self.listing(base))
        assert second["people"] == first["people"]
        # the same photos with the same dates (the corrected one travelled in its sidecar)
        assert dates == sorted((p["filename"], p["taken"])
                               for p in await self.listing(self.get_url("")))
        assert ("kit.jpg", "2014-02-03T04:05:06+01:00") in dates
        assert ("t1-dated.jpg", "2011-11-11T11:11:11") in dates
        theirs = list(second["photos"])
        for filename, faces in first["photos"]:
            match = next((n for n, (name, named) in enumerate(theirs)
                          if name == filename and sorted(named) == sorted(faces)
                          and all(iou(named[who], faces[who]) > 0.8 for who in faces)), None)
            assert match is not None, (filename, faces, theirs)
            theirs.pop(match)

    async def listing(self, base: str) -> list[dict]:
        """Every photo of a gallery, through its API."""
        loop = asyncio.get_running_loop()
        photos, url = [], base.rstrip("/") + "/api/photos?limit=200"
        while url:
            _, page = await loop.run_in_executor(None, get_json, url)
            photos += page["photos"]
            url = base.rstrip("/") + page["next"] if page["next"] else None
        return photos

    async def gallery_names(self, base: str, wait: bool = False) -> dict:
        """A gallery's named people (name -> photos) and each photo's named
        faces (file name -> name -> box), read through its API."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 120
        while True:
            status, listing = await loop.run_in_executor(
                None, get_json, base + "/api/people?limit=200&hidden=1")
            if not wait or (status == 200 and listing["recognition"]["backlog"] == 0
                            and not listing["recognition"].get("redescribing")):
                break
            assert time.monotonic() < deadline, listing
            await asyncio.sleep(0.2)
        names = {p["id"]: p["name"] for p in listing["people"]}
        people = {p["name"]: p["photos"] for p in listing["people"] if p["name"]}
        photos: list[tuple[str, dict[str, list[float]]]] = []
        url = base + "/api/photos?limit=100"
        while url:
            _, page = await loop.run_in_executor(None, get_json, url)
            for photo in page["photos"]:  # (a clash's " (2)" is the export's, not the photo's)
                photos.append((re.sub(r" \(\d+\)(?=\.)", "", photo["filename"]),
                               {names[f["person"]]: f["box"] for f in photo["faces"]
                                if f["person"] and names.get(f["person"])}))
            url = base + page["next"] if page.get("next") else None
        return {"people": people, "photos": photos}

"""What a photo says about itself (faces.vision.metadata), against ExifTool,
the reference reader: the date taken with its offset and sub-seconds, the
camera, the GPS position; and what must never fail an upload (impossible
dates, broken EXIF). Then through a real server: the original kept byte
for byte, the date on the photo's JSON, no EXIF or GPS in any copy made
from it, the timeline by date taken, a corrected date."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from tornado.testing import gen_test

from faces.vision import metadata
from tests.conftest import IMAGES, PEOPLE, photo_bytes
from tests.support.server import FacesTestCase

EXIFTOOL = shutil.which("exiftool")


def need_exiftool() -> None:
    if EXIFTOOL is None:
        import os

        if os.environ.get("CI") == "true":
            pytest.fail("ExifTool not found (apt-get install libimage-exiftool-perl)")
        pytest.skip("ExifTool not found (apt-get install libimage-exiftool-perl)")


def exiftool(*args: str) -> list[dict]:
    need_exiftool()
    done = subprocess.run([EXIFTOOL, "-j", "-n", *args], capture_output=True, text=True,
                          timeout=60)
    return json.loads(done.stdout or "[]")


def written(path: Path, *tags: str) -> bytes:
    """``path`` as ExifTool leaves it after writing ``tags`` (as a user types them)."""
    need_exiftool()
    done = subprocess.run([EXIFTOOL, "-q", "-overwrite_original", *tags, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return path.read_bytes()


def expected(found: dict) -> str | None:
    """ExifTool's date taken, as ISO 8601: DateTimeOriginal, else CreateDate,
    with their sub-seconds and offset."""
    for date, subsec, offset in (("DateTimeOriginal", "SubSecTimeOriginal",
                                  "OffsetTimeOriginal"),
                                 ("CreateDate", "SubSecTimeDigitized", "OffsetTimeDigitized")):
        value = found.get(date)
        if isinstance(value, str) and value[:4] not in ("0000", ""):
            return metadata.exif_date(value, found.get(subsec), found.get(offset))
    return None


CORPUS_SUFFIXES = {".jpg", ".jpeg", ".heic", ".heif", ".avif", ".png", ".webp", ".tif",
                   ".tiff"}


def test_every_shared_photo_reads_as_exiftool_reads_it() -> None:
    """Every dated photo in ../shared, and every file of a camera and phone
    corpus if one is put in ``images/cameras/`` (any folder depth, any
    format faces takes), read as ExifTool reads it."""
    cameras = IMAGES / "cameras"
    corpus = sorted(p for p in cameras.rglob("*") if p.suffix.lower() in CORPUS_SUFFIXES) \
        if cameras.is_dir() else []
    paths = sorted(IMAGES.glob("*.jpg")) + sorted(PEOPLE.glob("*/*.jpg")) + corpus
    read = {Path(f["SourceFile"]).resolve(): f for f in exiftool(
        "-EXIF:DateTimeOriginal", "-EXIF:CreateDate", "-EXIF:OffsetTimeOriginal",
        "-EXIF:OffsetTimeDigitized", "-EXIF:SubSecTimeOriginal", "-EXIF:SubSecTimeDigitized",
        "-EXIF:Make", "-EXIF:Model", *map(str, paths))}
    dated = 0
    for path in paths:
        ours = metadata.read(path.read_bytes())
        theirs = read[path.resolve()]
        assert ours.taken == expected(theirs), path
        dated += ours.taken is not None
        if ours.taken:
            assert ours.taken_source in ("DateTimeOriginal", "CreateDate")
        assert ours.make == (str(theirs["Make"]).strip() or None if "Make" in theirs else None)
    assert dated >= 5  # (the shared photos do carry dates: this compared some)


def test_offsets_sub_seconds_xmp_and_nothing(tmp_path: Path) -> None:
    base = tmp_path / "a.jpg"
    base.write_bytes(photo_bytes("obama_small.jpg"))
    written(base, "-all=")
    cases = {
        "camera": ("-DateTimeOriginal=2019:03:14 15:09:26", "-OffsetTimeOriginal=+01:00",
                   "-SubSecTimeOriginal=12", "-Make=Canon", "-Model=Canon EOS 5D",
                   "-GPSLatitude=48.8583", "-GPSLatitudeRef=N", "-GPSLongitude=2.2945",
                   "-GPSLongitudeRef=W"),
        "west": ("-DateTimeOriginal=2021:07:04 21:30:00", "-OffsetTimeOriginal=-07:00"),
        "no zone": ("-DateTimeOriginal=2003:01:02 03:04:05",),
        "only digitized": ("-CreateDate=2004:05:06 07:08:09",),
        "only xmp": ("-XMP-exif:DateTimeOriginal=2015-08-01T10:11:12+02:00",),
        "xmp photoshop": ("-XMP-photoshop:DateCreated=2012-12-24",),
        "zeros": ("-n", "-DateTimeOriginal=0000:00:00 00:00:00"),  # (-n: as it is)
        "future": ("-DateTimeOriginal=2999:01:01 00:00:00",),
        "bad offset": ("-DateTimeOriginal=2010:10:10 10:10:10", "-OffsetTimeOriginal=+25:00"),
        "none": (),
    }
    found = {}
    for case, tags in cases.items():
        path = tmp_path / f"{case.replace(' ', '-')}.jpg"
        shutil.copy(base, path)
        found[case] = metadata.read(written(path, *tags) if tags else path.read_bytes())
    camera = found["camera"]
    assert (camera.taken, camera.taken_source) == ("2019-03-14T15:09:26.12+01:00",
                                                   "DateTimeOriginal")
    assert (camera.make, camera.model) == ("Canon", "Canon EOS 5D")
    assert (camera.latitude, camera.longitude) == (48.8583, -2.2945)
    assert found["west"].taken == "2021-07-04T21:30:00-07:00"
    assert found["no zone"].taken == "2003-01-02T03:04:05"  # wall clock, never made UTC
    assert (found["only digitized"].taken, found["only digitized"].taken_source) == \
        ("2004-05-06T07:08:09", "CreateDate")
    assert (found["only xmp"].taken, found["only xmp"].taken_source) == \
        ("2015-08-01T10:11:12+02:00", "XMP DateTimeOriginal")
    assert found["xmp photoshop"].taken == "2012-12-24T00:00:00"
    assert found["zeros"].taken is None and found["future"].taken is None
    assert found["bad offset"].taken == "2010-10-10T10:10:10"  # (the offset alone is dropped)
    assert found["none"] == metadata.Metadata()


def test_broken_exif_never_fails(tmp_path: Path) -> None:
    """A truncated IFD, an IFD pointing past the end, megabytes of maker
    notes: the file is read as far as it goes, never an exception."""
    path = tmp_path / "a.jpg"
    path.write_bytes(photo_bytes("obama_small.jpg"))
    good = written(path, "-DateTimeOriginal=2019:03:14 15:09:26", "-Make=Canon")
    start = good.find(b"Exif\x00\x00")
    assert start > 0
    for cut in (start + 12, start + 30, start + 60):  # an IFD cut short
        broken = good[:cut] + b"\x00" * 8 + good[cut + 8:]
        metadata.read(broken)  # (no exception)
    pointing = bytearray(good)
    pointing[start + 10:start + 14] = b"\xff\xff\xff\x7f"  # the first IFD far past the end
    assert metadata.read(bytes(pointing)).taken is None
    notes = written(path, "-MakerNotes=" + "x" * 60000)  # (ExifTool keeps what fits)
    assert metadata.read(notes).taken == "2019-03-14T15:09:26"


def test_a_phone_heic_with_its_time_zone(tmp_path: Path) -> None:
    """HEIC as an iPhone writes it: EXIF inside the file, with an offset."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Apple", "iPhone 13"
    inner = exif.get_ifd(0x8769)
    inner[0x9003], inner[0x9011], inner[0x9291] = "2023:08:19 18:42:07", "+09:00", "345"
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo_bytes("obama_small.jpg"))).save(buffer, "HEIF",
                                                                exif=exif.tobytes())
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(buffer.getvalue())
    theirs = exiftool("-EXIF:DateTimeOriginal", "-EXIF:OffsetTimeOriginal",
                      "-EXIF:SubSecTimeOriginal", str(path))[0]
    ours = metadata.read(path.read_bytes())
    assert ours.taken == expected(theirs) == "2023-08-19T18:42:07.345+09:00"
    assert (ours.make, ours.model) == ("Apple", "iPhone 13")


class TestOriginalsAndDates(FacesTestCase):
    @gen_test(timeout=60)
    async def test_kept_dated_and_private(self) -> None:
        tmp = Path(self.settings.data_dir).parent
        cases = {}
        for name, tags in (("camera.jpg", ("-DateTimeOriginal=2019:03:14 15:09:26",
                                           "-OffsetTimeOriginal=+01:00", "-Make=Canon",
                                           "-GPSLatitude=48.8583", "-GPSLatitudeRef=N",
                                           "-GPSLongitude=2.2945", "-GPSLongitudeRef=E")),
                           ("old.jpg", ("-DateTimeOriginal=2001:06:01 12:00:00",)),
                           ("undated.jpg", ("-all=",))):
            path = tmp / name
            path.write_bytes(photo_bytes("two_people.jpg"))
            cases[name] = written(path, *tags)
        answers = {}
        for name, data in cases.items():
            response = await self.upload(name, data)
            assert response.code == 201
            answers[name] = json.loads(response.body)
        camera = answers["camera.jpg"]
        assert (camera["taken"], camera["taken_source"]) == ("2019-03-14T15:09:26+01:00",
                                                             "DateTimeOriginal")
        assert camera["camera"] == {"make": "Canon", "model": None}
        assert camera["place"] == {"latitude": 48.8583, "longitude": 2.2945}
        assert answers["undated.jpg"]["taken_source"] == "upload"
        for name, photo in answers.items():  # the original: the very bytes
            got = await self.http_client.fetch(self.get_url(photo["urls"]["original"]))
            assert hashlib.sha256(got.body).digest() == hashlib.sha256(cases[name]).digest()
        for kind in ("display", "annotated", "thumbnail"):  # no EXIF, no GPS in any copy
            served = await self.http_client.fetch(self.get_url(camera["urls"][kind]))
            path = tmp / f"served-{kind}.jpg"
            path.write_bytes(served.body)
            tags = exiftool("-EXIF:all", "-GPS:all", "-XMP:all", str(path))[0]
            assert set(tags) == {"SourceFile"}, (kind, tags)
        # the timeline: newest taken first; a jump to a year; as they came in
        listed = json.loads((await self.http_client.fetch(self.get_url("/api/photos"))).body)
        assert [p["filename"] for p in listed["photos"]] == ["undated.jpg", "camera.jpg",
                                                            "old.jpg"]
        year = json.loads((await self.http_client.fetch(
            self.get_url("/api/photos?to=2019"))).body)
        assert [p["filename"] for p in year["photos"]] == ["camera.jpg", "old.jpg"]
        added = json.loads((await self.http_client.fetch(
            self.get_url("/api/photos?order=added"))).body)
        assert [p["filename"] for p in added["photos"]] == ["undated.jpg", "old.jpg",
                                                           "camera.jpg"]
        page = (await self.http_client.fetch(self.get_url("/"))).body.decode()
        assert 'href="/?to=2019"' in page and 'href="/?to=2001"' in page
        # a date corrected by the user: kept, in the XMP sidecar
        old = answers["old.jpg"]
        fixed = await self.http_client.fetch(
            self.get_url(f"/api/photos/{old['id']}"), method="PATCH",
            body=json.dumps({"taken": "2001-06-02T08:30:00+02:00"}))
        assert json.loads(fixed.body)["taken_source"] == "user"
        sidecar = tmp / "old.xmp"
        sidecar.write_bytes((await self.http_client.fetch(
            self.get_url(old["urls"]["xmp"]))).body)
        assert exiftool("-XMP-exif:DateTimeOriginal", str(sidecar))[0][
            "DateTimeOriginal"] == "2001:06:02 08:30:00+02:00"
        wrong = await self.http_client.fetch(
            self.get_url(f"/api/photos/{old['id']}"), method="PATCH",
            body=json.dumps({"taken": "yesterday"}), raise_error=False)
        assert wrong.code == 400

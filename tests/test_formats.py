"""Photos from phones: HEIC/HEIF (iPhone) and AVIF, built on the fly with the
same libraries' encoders; and a transparent PNG with an EXIF orientation."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pillow_heif import register_heif_opener
from tornado.testing import gen_test

from faces.errors import ImageRejected
from faces.vision import pipeline
from faces.vision.contract import Options
from faces.vision.decode import decode
from faces.vision.probe import probe
from faces.vision.worker import Worker, WorkerConfig
from tests.conftest import photo_bytes
from tests.support.helpers import encode, exif_segment
from tests.support.process import faces
from tests.support.server import FacesTestCase

register_heif_opener()
OPTIONS = Options(max_pixels=50_000_000)
FORMATS = {"HEIF": "heif", "AVIF": "avif"}


def phone_file(image: Image.Image, fmt: str, orientation: int = 1) -> bytes:
    """``image`` saved as HEIC or AVIF (with an EXIF orientation tag when not 1)."""
    buffer = io.BytesIO()
    extra = {}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        extra["exif"] = exif.tobytes()
    image.save(buffer, format=fmt, quality=90, **extra)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def t1_files(images: Path) -> dict[str, bytes]:
    t1 = Image.open(images / "t1.jpg")
    return {fmt: phone_file(t1, fmt) for fmt in FORMATS}


@pytest.fixture(scope="module")
def worker(model_path: Path) -> Worker:
    return Worker(WorkerConfig(model=str(model_path)))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_phone_formats_are_identified_and_found_to_have_six_faces(t1_files, worker, fmt):
    data = t1_files[fmt]
    info = probe(data)
    assert (info.format, info.width, info.height) == (FORMATS[fmt], 1280, 886)
    result = pipeline.render(worker, data, OPTIONS)
    assert len(result.faces) == 6 and result.extension == ".jpg"
    assert result.display[:3] == b"\xff\xd8\xff"  # stored as JPEG, which every browser shows


# Raw pixel layouts that a viewer honouring EXIF orientation N shows upright.
RAW_FOR = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
           8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("orientation", sorted(RAW_FOR))
def test_exif_orientation_is_honoured(images: Path, worker, fmt: str, orientation: int):
    upright = Image.open(images / "obama_small.jpg")
    expected = pipeline.render(worker, phone_file(upright, fmt), OPTIONS)
    turned = phone_file(upright.transpose(RAW_FOR[orientation]), fmt, orientation)
    result = pipeline.render(worker, turned, OPTIONS)
    assert (result.width, result.height) == (320, 240)
    assert len(result.faces) == len(expected.faces) == 1
    assert np.abs(np.array(result.faces[0]["box"]) - expected.faces[0]["box"]).max() <= 6


def claims(data: bytes, width: int, height: int) -> bytes:
    """The same file with every image-extent (ispe) property claiming width x height."""
    out = bytearray(data)
    pos = out.find(b"ispe")
    assert pos > 0
    while pos > 0:
        out[pos + 8:pos + 16] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
        pos = out.find(b"ispe", pos + 4)
    return bytes(out)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_pixel_cap_from_the_header_and_truncation(t1_files, fmt: str) -> None:
    huge = claims(t1_files[fmt], 100_000, 100_000)
    assert probe(huge).pixels == 10_000_000_000  # read from the header alone
    with pytest.raises(ImageRejected) as caught:
        decode(huge, 50_000_000)
    assert caught.value.code == "too_many_pixels"
    data = t1_files[fmt]
    for cut in (len(data) // 2, len(data) - 100, 40):
        with pytest.raises(ImageRejected) as caught:
            decode(data[:cut], 50_000_000)
        assert caught.value.code in {"truncated_image", "corrupt_image"}


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (len(payload).to_bytes(4, "big") + kind + payload
            + zlib.crc32(kind + payload).to_bytes(4, "big"))


def test_transparent_png_with_exif_orientation_is_turned_upright(images: Path, worker) -> None:
    upright = cv2.imread(str(images / "obama_small.jpg"))
    expected = pipeline.render(worker, encode(upright, ".jpg"), OPTIONS)
    raw = cv2.cvtColor(cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE), cv2.COLOR_BGR2BGRA)
    raw[:10, :10, 3] = 0  # real transparency: kept as PNG
    png = encode(raw, ".png")
    tiff = exif_segment(6)[10:]  # the TIFF structure inside the APP1 segment
    ihdr_end = 8 + 25
    turned = png[:ihdr_end] + png_chunk(b"eXIf", tiff) + png[ihdr_end:]
    assert probe(turned).orientation == 6
    result = pipeline.render(worker, turned, OPTIONS)
    assert result.extension == ".png" and (result.width, result.height) == (320, 240)
    assert len(result.faces) == 1
    assert np.abs(np.array(result.faces[0]["box"]) - expected.faces[0]["box"]).max() <= 4


class TestPhoneUploads(FacesTestCase):
    @gen_test(timeout=60)
    async def test_heic_and_avif_uploads_are_stored_as_jpeg(self) -> None:
        t1 = Image.open(io.BytesIO(photo_bytes("t1.jpg")))
        for fmt, name in (("HEIF", "IMG_0001.HEIC"), ("AVIF", "photo.avif")):
            response = await self.upload(name, phone_file(t1, fmt))
            assert response.code == 201, response.body
            photo = json.loads(response.body)
            assert len(photo["faces"]) == 6 and photo["urls"]["display"].endswith(".jpg")
            served = await self.http_client.fetch(self.get_url(photo["urls"]["display"]))
            assert served.headers["Content-Type"] == "image/jpeg"

    @gen_test(timeout=60)
    async def test_refusals_are_clear(self) -> None:
        small = phone_file(Image.open(io.BytesIO(photo_bytes("obama_small.jpg"))), "HEIF")
        cut = await self.upload("cut.heic", small[: len(small) // 2])
        assert cut.code == 422
        assert json.loads(cut.body)["error"]["code"] == "truncated_image"
        huge = await self.upload("huge.heic", claims(small, 100_000, 100_000))
        assert huge.code == 413
        assert json.loads(huge.body)["error"]["code"] == "too_many_pixels"
        assert "100000x100000" in json.loads(huge.body)["error"]["message"]
        assert self.services.gallery.count() == 0


def test_faces_detect_reads_heic(tmp_path: Path, t1_files, model_path: Path) -> None:
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(t1_files["HEIF"])
    result = faces("detect", str(path), "--model", str(model_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{path}: 6 faces"


def test_other_iso_media_files_are_refused() -> None:
    """An MP4 video shares the box format: its brands are not an image's."""
    mp4 = (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free")
    with pytest.raises(ImageRejected) as caught:
        probe(mp4)
    assert caught.value.code == "unsupported_type" and "HEIC" in str(caught.value)

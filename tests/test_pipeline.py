"""The worker pipeline, with every detector family: decode, orientation, limits, outputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from faces.errors import ImageRejected
from faces.vision import pipeline
from faces.vision.contract import Options
from faces.vision.worker import Worker, WorkerConfig
from tests.support.helpers import decode, encode, with_exif
from tests.test_probe import png_header

OPTIONS = Options(max_pixels=50_000_000)


@pytest.fixture(scope="module")
def worker(family_model: Path) -> Worker:
    return Worker(WorkerConfig(model=str(family_model)))


@pytest.fixture()
def render(worker: Worker):
    """pipeline.render in this process, with the worker loaded once."""
    return lambda data, options: pipeline.render(worker, data, options)


def face_photo(images: Path) -> np.ndarray:
    return cv2.imread(str(images / "obama_small.jpg"))


def test_render_outputs(render, images: Path) -> None:
    result = render((images / "t1.jpg").read_bytes(), OPTIONS)
    assert (result.width, result.height, result.extension) == (1280, 886, ".jpg")
    assert len(result.faces) == 6
    original, annotated, thumb = (decode(b) for b in
                                  (result.display, result.annotated, result.thumbnail))
    assert original.shape == annotated.shape == (886, 1280, 3)
    assert max(thumb.shape[:2]) == 400
    assert not np.array_equal(original, annotated)  # boxes were drawn
    face = result.faces[0]
    assert set(face) == {"box", "score", "landmarks"} and len(face["landmarks"]) == 5


def test_photo_without_faces_still_renders(render, images: Path) -> None:
    result = render((images / "coffee.jpg").read_bytes(), OPTIONS)
    assert result.faces == [] and result.display and result.thumbnail


# Raw pixel layouts that a viewer honouring EXIF orientation N shows upright.
RAW_FOR_ORIENTATION = {
    1: lambda a: a,
    2: lambda a: cv2.flip(a, 1),
    3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
    4: lambda a: cv2.flip(a, 0),
    5: lambda a: cv2.transpose(a),
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
    7: lambda a: cv2.rotate(cv2.transpose(a), cv2.ROTATE_180),
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
}


@pytest.mark.parametrize("orientation", sorted(RAW_FOR_ORIENTATION))
def test_exif_orientation_gives_upright_faces(render, images: Path, orientation: int) -> None:
    upright = face_photo(images)
    raw = RAW_FOR_ORIENTATION[orientation](upright)
    upload = with_exif(encode(raw, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]), orientation)
    expected = render(encode(upright, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]), OPTIONS)
    result = render(upload, OPTIONS)
    assert (result.width, result.height) == (upright.shape[1], upright.shape[0])
    assert len(result.faces) == 1
    assert np.abs(np.array(result.faces[0]["box"]) - expected.faces[0]["box"]).max() <= 4


def test_uploaded_metadata_is_not_served(render, images: Path) -> None:
    upload = with_exif((images / "obama_small.jpg").read_bytes(), 1, gps=True)
    assert b"Exif" in upload
    result = render(upload, OPTIONS)
    for output in (result.display, result.annotated, result.thumbnail):
        assert b"Exif" not in output[:4096]


def test_transparency_is_kept_as_png(render, images: Path) -> None:
    rgba = cv2.cvtColor(face_photo(images), cv2.COLOR_BGR2BGRA)
    rgba[:20, :20, 3] = 0
    result = render(encode(rgba, ".png"), OPTIONS)
    assert result.extension == ".png" and len(result.faces) == 1
    original = decode(result.display)
    assert original.shape[2] == 4 and original[0, 0, 3] == 0


@pytest.mark.parametrize("ext", [".png", ".webp", ".bmp", ".tiff"])
def test_other_formats(render, images: Path, ext: str) -> None:
    params = [cv2.IMWRITE_WEBP_QUALITY, 100] if ext == ".webp" else []
    result = render(encode(face_photo(images), ext, params), OPTIONS)
    assert result.extension == ".jpg" and len(result.faces) == 1


def test_grayscale_and_16_bit(render, images: Path) -> None:
    gray = cv2.cvtColor(face_photo(images), cv2.COLOR_BGR2GRAY)
    assert len(render(encode(gray, ".png"), OPTIONS).faces) == 1
    deep = face_photo(images).astype(np.uint16) * 257
    assert len(render(encode(deep, ".png"), OPTIONS).faces) == 1


def test_pixel_cap_refuses_before_decoding(render) -> None:
    with pytest.raises(ImageRejected) as caught:
        render(png_header(20000, 20000) + b"\x00" * 100, OPTIONS)
    assert caught.value.code == "too_many_pixels"
    small_cap = Options(max_pixels=10_000)
    with pytest.raises(ImageRejected, match="megapixels"):
        render(encode(np.zeros((200, 200, 3), np.uint8), ".png"), small_cap)


@pytest.mark.parametrize("name", ["t1.jpg", "astronaut.png"])
def test_truncated_files_are_refused(render, images: Path, name: str) -> None:
    data = (images / name).read_bytes()
    for cut in (len(data) // 2, len(data) - 16):
        with pytest.raises(ImageRejected) as caught:
            render(data[:cut], OPTIONS)
        assert caught.value.code in {"truncated_image", "corrupt_image"}

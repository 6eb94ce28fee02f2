"""Loading page scans: every supported format, made here from a real page, and hostile files."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, features

from mspt_core.errors import ImageLoadError
from mspt_core.formats import read_document
from mspt_core.images import MAX_PIXELS, load_grey, load_page, load_pages
from tests.conftest import split_xmls


@pytest.fixture(scope="module")
def page_rgb(cremma) -> Image.Image:
    """A real handwritten page, downscaled so the format round trips stay fast."""
    path = read_document(split_xmls(cremma, "train")[0]).image_path
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((500, 700))
        return image


@pytest.fixture(scope="module")
def reference(page_rgb) -> np.ndarray:
    return np.asarray(page_rgb.convert("L"), dtype=np.float64)


def _close(grey: np.ndarray, reference: np.ndarray, tolerance: float) -> None:
    assert grey.dtype == np.uint8 and grey.shape == reference.shape
    assert np.abs(grey.astype(np.float64) - reference).mean() < tolerance


@pytest.mark.parametrize(
    "name, save, tolerance",
    [
        ("page.png", {}, 0.01),
        ("page.jpg", {"quality": 92}, 3.0),
        ("page.bmp", {}, 0.01),
        ("page.webp", {"lossless": True}, 0.01),
        ("page.tif", {"compression": "tiff_lzw"}, 0.01),
    ],
)
def test_common_formats_load_as_the_same_page(tmp_path, page_rgb, reference, name, save, tolerance):
    path = tmp_path / name
    page_rgb.save(path, **save)
    _close(load_grey(path), reference, tolerance)


@pytest.mark.skipif(not features.check("jpg_2000"), reason="this Pillow has no OpenJPEG")
def test_jpeg_2000_loads(tmp_path, page_rgb, reference):
    path = tmp_path / "page.jp2"
    page_rgb.save(path, quality_mode="dB", quality_layers=[45])
    _close(load_grey(path), reference, 3.0)


def test_palette_cmyk_and_one_bit_pages_load(tmp_path, page_rgb, reference):
    page_rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(tmp_path / "p.png")
    _close(load_grey(tmp_path / "p.png"), reference, 4.0)
    page_rgb.convert("CMYK").save(tmp_path / "c.tif")
    _close(load_grey(tmp_path / "c.tif"), reference, 3.0)
    page_rgb.convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    _close(load_grey(tmp_path / "c.jpg"), reference, 4.0)
    # Bi-level fax-compressed TIFF: ink stays black, paper white.
    bilevel = page_rgb.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1")
    bilevel.save(tmp_path / "b.tif", compression="group4")
    grey = load_grey(tmp_path / "b.tif")
    assert set(np.unique(grey)) <= {0, 255}
    assert np.array_equal(grey, np.asarray(bilevel.convert("L")))


def test_sixteen_bit_pages_keep_their_contrast(tmp_path, reference):
    wide = (reference * 257).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "deep.png")
    Image.fromarray(wide).save(tmp_path / "deep.tif")
    for name in ("deep.png", "deep.tif"):
        _close(load_grey(tmp_path / name), reference, 0.6)


def test_multi_page_tiff_gives_every_page(tmp_path, page_rgb, reference):
    second = page_rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    page_rgb.save(tmp_path / "book.tif", save_all=True, append_images=[second, page_rgb.convert("L")])
    pages = load_pages(tmp_path / "book.tif")
    assert len(pages) == 3
    assert np.abs(np.asarray(pages[1].convert("L"), np.float64) - reference[:, ::-1]).mean() < 0.01
    _close(load_grey(tmp_path / "book.tif"), reference, 0.01)


def test_exif_orientation_is_applied(tmp_path, page_rgb, reference):
    # Stored sideways with Orientation=6 ("rotate 90 degrees clockwise to display").
    sideways = page_rgb.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "phone.jpg", quality=95, exif=exif)
    _close(load_grey(tmp_path / "phone.jpg"), reference, 3.0)


def test_pdf_pages_are_rendered_at_the_chosen_dpi(tmp_path, page_rgb, reference):
    # 100 dpi in the PDF: a 500-px-wide page is 5 inches wide.
    page_rgb.save(tmp_path / "scan.pdf", save_all=True, append_images=[page_rgb], resolution=100.0)
    pages = load_pages(tmp_path / "scan.pdf", dpi=100)
    assert len(pages) == 2
    assert abs(pages[0].size[0] - page_rgb.size[0]) <= 1 and abs(pages[0].size[1] - page_rgb.size[1]) <= 1
    big = load_page(tmp_path / "scan.pdf", dpi=200)
    assert abs(big.size[0] - 2 * page_rgb.size[0]) <= 2
    grey = np.asarray(pages[0].convert("L").resize(page_rgb.size), np.float64)
    assert np.abs(grey - reference).mean() < 8.0


def test_wrong_extension_is_read_by_content(tmp_path, page_rgb, reference):
    page_rgb.save(tmp_path / "really_a_png.jpg", format="PNG")
    _close(load_grey(tmp_path / "really_a_png.jpg"), reference, 0.01)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header(width: int, height: int) -> bytes:
    """A valid-looking PNG declaring ``width`` x ``height`` but holding almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _assert_clear_error(path, *words):
    with pytest.raises(ImageLoadError) as caught:
        load_grey(path)
    message = str(caught.value)
    assert path.name in message
    for word in words:
        assert word in message.lower()


def test_hostile_files_raise_one_clear_error(tmp_path, page_rgb):
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_clear_error(tmp_path / "empty.png", "empty")
    _assert_clear_error(tmp_path / "missing.png", "no such file")

    page_rgb.save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    _assert_clear_error(tmp_path / "cut.png", "truncated")
    page_rgb.save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    _assert_clear_error(tmp_path / "cut.jpg", "truncated")

    # 60000 x 60000 declared in a tiny file: refused before any pixel is decoded, quoting our
    # limit (Pillow refuses it first, with its own).
    (tmp_path / "bomb.png").write_bytes(_png_header(60000, 60000))
    _assert_clear_error(tmp_path / "bomb.png", f"limit of {MAX_PIXELS // 1_000_000} mp")
    (tmp_path / "a-folder.png").mkdir()
    _assert_clear_error(tmp_path / "a-folder.png", "folder")
    os.mkfifo(tmp_path / "pipe.png")  # would block the read forever
    _assert_clear_error(tmp_path / "pipe.png", "not a regular file")

    (tmp_path / "notes.png").write_text("these are my notes, not a scan\n")
    _assert_clear_error(tmp_path / "notes.png", "not an image")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    _assert_clear_error(tmp_path / "broken.pdf", "pdf")


def test_pixel_limit_admits_a_600_dpi_double_page_spread():
    # 17 x 11 inches at 600 dpi: two facing letter pages.
    assert 17 * 600 * 11 * 600 <= MAX_PIXELS
    assert 60000 * 60000 > MAX_PIXELS


def test_large_spread_header_is_accepted(tmp_path):
    # A declared 10200 x 6600 PNG passes the size check and fails only for its missing data.
    (tmp_path / "spread.png").write_bytes(_png_header(10200, 6600))
    with pytest.raises(ImageLoadError) as caught:
        load_grey(tmp_path / "spread.png")
    assert "limit" not in str(caught.value)


def test_a_pdf_without_pages_says_so(tmp_path):
    import pypdfium2

    pypdfium2.PdfDocument.new().save(str(tmp_path / "empty.pdf"))  # PDFium calls opening it "Success"
    _assert_clear_error(tmp_path / "empty.pdf", "no pages")

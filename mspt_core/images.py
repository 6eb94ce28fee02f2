"""Loading page scans: raster images (PNG, JPEG, TIFF, WebP, BMP, JPEG 2000) and PDF pages.

Every failure a user can cause (missing, empty, truncated, corrupt, unsupported or absurdly large
file) raises :class:`~mspt_core.errors.ImageLoadError` naming the file and the reason. The format
is recognised from the content, never from the extension, so a mis-named file still loads.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from mspt_core.errors import ImageLoadError
from mspt_core.inputs import file_problem

# Largest page we decode, in pixels. A 600-dpi double-page spread is about 10k x 8k = 80 MP;
# 120 MP leaves room for that and still refuses decompression bombs (which declare giga-pixels).
MAX_PIXELS = 120_000_000
DEFAULT_DPI = 300
MIN_DPI = 10
MAX_DPI = 1200

# Pillow must never pad truncated files silently: a half-decoded page is a wrong page.
ImageFile.LOAD_TRUNCATED_IMAGES = False

PDF_MAGIC = b"%PDF-"


def _fail(path: Path, reason: str) -> ImageLoadError:
    return ImageLoadError(f"cannot load image {path}: {reason}")


def _check_file(path: Path) -> bytes:
    """The first bytes of ``path``, after checking it is a readable, non-empty file."""
    problem = file_problem(path)
    if problem:
        raise _fail(path, problem)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as error:
        raise _fail(path, f"cannot read it ({error.strerror or error})") from error
    if not head:
        raise _fail(path, "the file is empty (0 bytes)")
    return head


def _check_size(path: Path, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise _fail(path, f"invalid dimensions {width}x{height}")
    if width * height > MAX_PIXELS:
        raise _fail(path, _over_limit(f"{width}x{height} ({width * height / 1e6:.0f} MP)"))


def _over_limit(size: str = "") -> str:
    # Pillow refuses far larger images before we see their size, quoting its own limit: we quote ours.
    return (
        f"too large: {'its size ' + size + ' is ' if size else ''}over the limit of {MAX_PIXELS / 1e6:.0f} MP "
        "for a page; scale a real scan down first (a size like this may also mean a damaged file)"
    )


def _normalize_mode(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit "L" or "RGB" so later steps see one of two layouts."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # 16-bit (or float) greyscale: map the full 16-bit range, or the actual range for floats,
        # onto 0..255; a naive convert("L") would clip everything above 255 to white.
        array = np.asarray(image, dtype=np.float64)
        if mode == "F":
            lo, hi = float(np.nanmin(array)), float(np.nanmax(array))
            array = (array - lo) / max(hi - lo, 1e-9) * 255.0
        else:
            array = array / 257.0
        return Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8), "L")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        # Transparent areas become white paper, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("RGB;16", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "P"):
        return image.convert("RGB")
    return image.convert("RGB")


def _open_raster(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own (lower) bomb limit; our explicit check replaces that.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise _fail(path, _over_limit()) from error
    except UnidentifiedImageError as error:
        raise _fail(
            path, "not an image in a supported format (PNG, JPEG, TIFF, WebP, BMP, JPEG 2000 or PDF)"
        ) from error
    except (OSError, ValueError, SyntaxError) as error:
        raise _fail(path, f"corrupt image header ({error})") from error
    _check_size(path, *image.size)
    return image


def _decode_frame(path: Path, frame: Image.Image, index: int) -> Image.Image:
    where = f"page {index + 1}: " if index else ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Scanners often write EXIF blocks with stray tags; Pillow skips them with a warning
            # the person can do nothing about (the orientation tag, if any, is still read).
            warnings.filterwarnings("ignore", message="Tag data larger than file", category=UserWarning)
            frame.load()
            # EXIF orientation: phones and some scanners store the page sideways plus a tag.
            oriented = ImageOps.exif_transpose(frame)
            return _normalize_mode(oriented)
    except Image.DecompressionBombError as error:
        raise _fail(path, where + _over_limit()) from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        reason = str(error) or type(error).__name__
        if "truncated" in reason.lower() or isinstance(error, EOFError):
            reason = f"the file is truncated or corrupt ({reason})"
        else:
            reason = f"cannot decode the image data ({reason})"
        raise _fail(path, where + reason) from error


def _open_pdf(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        # PDFium refuses a PDF whose page tree is empty without setting an error code, so it
        # reports "Success", or the code of an earlier failure in this process.
        no_pages = getattr(error, "err_code", None) == 0 or _declares_no_pages(path)
        raise _fail(path, "the PDF has no pages" if no_pages else f"corrupt or unreadable PDF ({error})") from error


def _declares_no_pages(path: Path) -> bool:
    """Whether every page count the (unopenable) PDF states is 0."""
    if path.stat().st_size > 64 * 2**20:
        return False
    counts = re.findall(rb"/Count\s+(-?\d+)", path.read_bytes())
    return bool(counts) and all(int(count) == 0 for count in counts)


def _load_pdf(path: Path, dpi: float, only: int | None) -> list[Image.Image]:
    import pypdfium2 as pdfium

    if not MIN_DPI <= dpi <= MAX_DPI:
        raise _fail(
            path, f"the resolution to render its pages at must be between {MIN_DPI} and {MAX_DPI} dpi, not {dpi}"
        )
    document = _open_pdf(path)
    try:
        if len(document) == 0:
            raise _fail(path, "the PDF has no pages")
        if only is not None and not 0 <= only < len(document):
            raise _fail(path, f"has {len(document)} pages; there is no page {only + 1}")
        pages = []
        for index in range(len(document)) if only is None else [only]:
            page = document[index]
            try:
                width_pt, height_pt = page.get_size()
                scale = dpi / 72.0
                _check_size(path, round(width_pt * scale), round(height_pt * scale))
                bitmap = page.render(scale=scale, rotation=0)
                image = bitmap.to_pil()
            except pdfium.PdfiumError as error:
                raise _fail(path, f"page {index + 1}: cannot render it ({error})") from error
            finally:
                page.close()
            pages.append(_normalize_mode(image))
        return pages
    finally:
        document.close()


def _load(path: str | Path, dpi: float, only: int | None = None) -> list[Image.Image]:
    """Every page, or only page ``only`` (0-based), decoding nothing beyond what is needed."""
    path = Path(path)
    head = _check_file(path)
    if head.startswith(PDF_MAGIC):
        return _load_pdf(path, dpi, only)
    image = _open_raster(path)
    try:
        pages = []
        # ImageSequence walks TIFF pages (and animated WebP frames; a page scan has one).
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            if only is not None and index < only:
                continue
            _check_size(path, *frame.size)
            pages.append(_decode_frame(path, frame, index))
            if only is not None:
                break
        if not pages:
            raise _fail(path, "the file holds no image" if only is None else f"there is no page {only + 1}")
        return pages
    except (OSError, EOFError) as error:  # raised while seeking to a broken next TIFF page
        raise _fail(path, f"the file is truncated or corrupt ({error})") from error
    finally:
        image.close()


def check_image_file(path: str | Path) -> None:
    """Refuse, without decoding it, a page file that is missing, a folder, a pipe, unreadable or empty."""
    _check_file(Path(path))


def load_pages(path: str | Path, dpi: float = DEFAULT_DPI) -> list[Image.Image]:
    """All pages of an image file or PDF, each a Pillow image in mode "L" or "RGB".

    PDF pages are rasterized at ``dpi``; EXIF orientation is applied to raster images.
    Raises ImageLoadError for anything unreadable.
    """
    return _load(path, dpi)


def page_count(path: str | Path) -> int:
    """How many pages a file holds (PDF pages, TIFF pages), without decoding any of them."""
    path = Path(path)
    head = _check_file(path)
    if head.startswith(PDF_MAGIC):
        document = _open_pdf(path)
        try:
            return len(document)
        finally:
            document.close()
    image = _open_raster(path)
    try:
        return max(1, getattr(image, "n_frames", 1))
    finally:
        image.close()


def load_page(path: str | Path, dpi: float = DEFAULT_DPI, index: int = 0) -> Image.Image:
    """Page ``index`` (0-based) of ``path`` (mode "L" or "RGB"), decoding no other page."""
    return _load(path, dpi, only=index)[0]


def to_grey(image: Image.Image | np.ndarray) -> np.ndarray:
    """8-bit greyscale array (H x W, uint8) of a Pillow image or an RGB/grey array."""
    if isinstance(image, Image.Image):
        return np.asarray(_normalize_mode(image).convert("L"), dtype=np.uint8)
    array = np.asarray(image)
    if array.ndim == 3:
        import cv2

        # Arrays in mspt are RGB (as Pillow gives them), not OpenCV's BGR.
        code = cv2.COLOR_RGBA2GRAY if array.shape[2] == 4 else cv2.COLOR_RGB2GRAY
        array = cv2.cvtColor(array.astype(np.uint8), code)
    return array.astype(np.uint8, copy=False)


def load_grey(path: str | Path, dpi: float = DEFAULT_DPI) -> np.ndarray:
    """First page of ``path`` as a greyscale uint8 array (H x W), dark ink on light paper."""
    return to_grey(load_page(path, dpi))

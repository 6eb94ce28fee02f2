"""Searchable PDF: each page image with an invisible text layer, one text run per word (per line
where the line has no word boxes), laid along the line's baseline and stretched to the word's
(or line's) width, so that selecting, searching and copying in a PDF viewer give the
transcription in reading order, and a search lights up the word itself. The document's title,
creation date and producer ("mspt <version>") are set.

The text uses a font built here with fontTools whose every character is one plain box glyph:
the text is never drawn (render mode 3), and unlike a real font it covers every character a
transcription may hold (⟦, œ, Greek, CJK …), so extraction never loses one. (Characters
beyond U+FFFF, e.g. mathematical letters, do not come back right from reportlab's font
subsetting; transcriptions rarely hold them.)
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path
from typing import BinaryIO

from mspt_core import __version__
from mspt_core.document import Line, Page, bbox, words_match
from mspt_core.errors import FormatError
from mspt_core.layout.turn import line_turn

ASCENT, DESCENT, ADVANCE = 800, -200, 500  # font units per 1000
# A run stretched wider than this (a short word boxed over the ink of words its reading lost:
# "a" over "tell of the number") is left narrower than its box: pdfium read a letter stretched
# ten times its width into the line above, so copied text came out of order.
MAX_STRETCH = 400.0  # per cent of the glyphs' own width
DEFAULT_DPI = 300.0
MAX_POINTS = 14400.0  # the longest page side PDF readers accept: 200 inches (PDF 1.7, annex C)


def page_problem(page: Page) -> str | None:
    """Why ``page`` cannot become a PDF page, or None. Its size comes from its file, so a wrong
    size is refused here rather than making a PDF no reader opens."""
    from mspt_core.images import MAX_PIXELS

    if page.width <= 0 or page.height <= 0:
        return f"unknown page size ({page.width}x{page.height}); a PDF page needs one"
    if page.width * page.height > MAX_PIXELS:
        return (
            f"page size {page.width}x{page.height} is too large for a PDF page "
            f"(at most {MAX_PIXELS / 1e6:.0f} MP, the largest image mspt reads)"
        )
    return None


def _font_bytes(chars: set[str], name: str) -> bytes:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    def box():
        pen = TTGlyphPen(None)
        pen.moveTo((0, DESCENT))
        pen.lineTo((0, ASCENT))
        pen.lineTo((ADVANCE, ASCENT))
        pen.lineTo((ADVANCE, DESCENT))
        pen.closePath()
        return pen.glyph()

    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder([".notdef", "box"])
    fb.setupCharacterMap({ord(ch): "box" for ch in chars if ord(ch) >= 32})
    fb.setupGlyf({".notdef": box(), "box": box()})
    fb.setupHorizontalMetrics({".notdef": (ADVANCE, 0), "box": (ADVANCE, 0)})
    fb.setupHorizontalHeader(ascent=ASCENT, descent=DESCENT)
    # The name inside the font must differ between character sets too: PDF readers (pdfium)
    # cache embedded fonts by name, and two fonts of one name with different character maps
    # made a reader extract the second document's text with the first one's map.
    fb.setupNameTable({"familyName": name, "styleName": "Regular", "psName": name})
    fb.setupOS2(sTypoAscender=ASCENT, sTypoDescender=DESCENT, usWinAscent=ASCENT, usWinDescent=-DESCENT)
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


def _image(page: Page, max_side: int | None):
    from PIL import Image

    from mspt_core.images import load_page

    if page.image_path is None:
        raise FormatError(f"page {page.id}: no page image; a searchable PDF needs one")
    try:
        with Image.open(page.image_path) as raw:
            info, source_format = dict(raw.info), raw.format
            upright = raw.getexif().get(0x0112, 1) == 1  # no EXIF rotation to apply
    except (OSError, Image.DecompressionBombError):
        info, source_format, upright = {}, None, True  # e.g. a PDF: load_page rasterizes it
    # The images module applies EXIF orientation, picks the TIFF frame or PDF page, and checks size.
    img = load_page(page.image_path, index=page.image_index)
    img.info.update(info)
    dpi = img.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))[0] or DEFAULT_DPI
    if not 50 <= float(dpi) <= 2400:
        dpi = DEFAULT_DPI
    # The image may differ in size from the page (a downscaled copy): the page's coordinates
    # rule, so the page size in points comes from the page and the image is stretched onto it.
    resized = False
    if max_side and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))))
        resized = True
    if source_format == "JPEG" and not resized and upright and page.image_index == 0 and img.mode in ("RGB", "L"):
        return str(page.image_path), float(dpi)  # embedded as is: no re-encoding, no growth
    if img.mode not in ("RGB", "L", "1"):
        img = img.convert("RGB")
    if img.mode in ("RGB", "L") and source_format == "JPEG":
        # A photographed page stays a JPEG; raw pixels would make the PDF ten times larger.
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        buf.seek(0)
        return buf, float(dpi)
    return img, float(dpi)  # lossless (flate) for PNG/TIFF scans and renders


def write(pages: list[Page], f: BinaryIO, max_image_side: int | None = None, title: str = "") -> None:
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    chars = {ch for page in pages for line in page.lines() for ch in line.text}
    # One font per character set: reportlab's registry is global and fonts cannot be replaced.
    font_name = "MsptTextLayer-" + hashlib.sha1("".join(sorted(chars)).encode()).hexdigest()[:12]
    pdfmetrics.registerFont(TTFont(font_name, io.BytesIO(_font_bytes(chars | {" "}, font_name))))
    pdf = canvas.Canvas(f, pageCompression=1, invariant=0)  # invariant: dated 2000-01-01
    pdf.setCreator("mspt")
    pdf.setProducer(f"mspt {__version__}")
    pdf.setTitle(title)
    pdf.setAuthor("")  # reportlab's default is "anonymous"
    for page in pages:
        problem = page_problem(page)
        if problem:
            raise FormatError(f"{page.image_path or 'page ' + page.id}: {problem}")
        img, dpi = _image(page, max_image_side)
        # Points per page pixel; a page too long for a PDF at its resolution is drawn smaller.
        scale = min(72.0 / dpi, MAX_POINTS / max(page.width, page.height))
        w_pt, h_pt = page.width * scale, page.height * scale
        pdf.setPageSize((w_pt, h_pt))
        pdf.drawImage(ImageReader(img), 0, 0, width=w_pt, height=h_pt)
        for line in page.lines():
            _text_line(pdf, line, font_name, scale, h_pt)
        pdf.showPage()
    pdf.save()


def _text_line(pdf, line: Line, font: str, scale: float, h_pt: float) -> None:
    text = line.text.strip().replace("\n", " ")
    points = line.polygon or line.baseline
    if not text or not points:
        return
    if line_turn(line):
        _sideways_text_line(pdf, line, text, font, scale, h_pt)
        return
    x0, y0, x1, y1 = bbox(points)
    angle = 0.0
    if len(line.baseline) >= 2:
        (xa, ya), (xb, yb) = line.baseline[0], line.baseline[-1]
        angle = math.atan2(yb - ya, xb - xa)
    if len(line.baseline) >= 2 and abs(angle) <= math.radians(45):
        start_x, start_y = xa, ya
        length = max(math.hypot(xb - xa, yb - ya), 1.0)
    else:  # no baseline, or a vertical / reversed one: a horizontal run across the box
        angle = 0.0
        start_x, start_y = x0, y1 - 0.2 * (y1 - y0)
        length = max(x1 - x0, 1.0)
    # Size the glyph boxes so their ascent reaches the top of the line from the baseline:
    # a selection then covers the written line, and every character lies inside its box.
    size_px = max((start_y - y0) / (ASCENT / 1000), 1.0)
    if words_match(line) and all(w.polygon for w in line.words):
        # One run per word, from where its box starts along the baseline to where it ends; a
        # space after each but the last, so that copied text has its spaces whatever the reader.
        slope = math.tan(angle)
        for i, word in enumerate(line.words):
            wx0, _, wx1, _ = bbox(word.polygon)
            origin = (wx0, start_y + (wx0 - start_x) * slope)
            span = max((wx1 - wx0) / math.cos(angle), 1.0)
            space = " " if i < len(line.words) - 1 else ""
            _run(pdf, word.text + space, len(word.text), origin, span, angle, font, size_px, scale, h_pt)
        return
    _run(pdf, text, len(text), (start_x, start_y), length, angle, font, size_px, scale, h_pt)


def _sideways_text_line(pdf, line: Line, text: str, font: str, scale: float, h_pt: float) -> None:
    """A line written sideways or upside down: its runs go down, up or leftward along its
    baseline, their glyphs' ascent reaching the far side of the polygon from the baseline, as
    across the page."""
    (xa, ya), (xb, yb) = line.baseline[0], line.baseline[-1]
    length = max(math.hypot(xb - xa, yb - ya), 1.0)
    dx, dy = (xb - xa) / length, (yb - ya) / length
    angle = math.atan2(dy, dx)

    def along(point) -> float:
        return (point[0] - xa) * dx + (point[1] - ya) * dy

    # The letters' tops face the left of the reading direction, in page pixels: (dy, -dx).
    ascent = max(((x - xa) * dy - (y - ya) * dx for x, y in line.polygon or line.baseline), default=0.0)
    size_px = max(ascent / (ASCENT / 1000), 1.0)
    if words_match(line) and all(w.polygon for w in line.words):
        for i, word in enumerate(line.words):
            start, end = min(map(along, word.polygon)), max(map(along, word.polygon))
            origin = (xa + start * dx, ya + start * dy)
            space = " " if i < len(line.words) - 1 else ""
            span = max(end - start, 1.0)
            _run(pdf, word.text + space, len(word.text), origin, span, angle, font, size_px, scale, h_pt)
        return
    _run(pdf, text, len(text), (xa, ya), length, angle, font, size_px, scale, h_pt)


def _run(
    pdf, text: str, fit: int, origin: tuple[float, float], length: float, angle: float, font, size_px, scale, h_pt
) -> None:
    """Invisible text from ``origin`` along ``angle``, its first ``fit`` characters stretched
    to ``length`` page pixels (or to MAX_STRETCH of their width, where that is shorter)."""
    start_x, start_y = origin
    size = size_px * scale
    natural = max(fit, 1) * ADVANCE / 1000 * size
    stretch = min(100.0 * length * scale / natural, MAX_STRETCH)
    pdf.saveState()
    pdf.translate(start_x * scale, h_pt - start_y * scale)
    pdf.rotate(-math.degrees(angle))
    t = pdf.beginText()
    t.setTextRenderMode(3)  # invisible: selectable and searchable, never painted
    t.setFont(font, size)
    t.setHorizScale(stretch)
    t.setTextOrigin(0, 0)
    t.textOut(text)
    pdf.drawText(t)
    pdf.restoreState()


def to_file(pages: list[Page], path: Path, max_image_side: int | None = None, title: str | None = None) -> None:
    """``title``: the document's title (default: the file's name without its ending)."""
    from mspt_core.atomic import atomic_write

    atomic_write(path, lambda f: write(pages, f, max_image_side, Path(path).stem if title is None else title))

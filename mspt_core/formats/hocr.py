"""hOCR 1.2 (XHTML): ocr_page / ocr_carea / ocr_line / ocrx_word with bbox, baseline and
x_wconf, all pages of a document in one file. A line written sideways says its turn as
``textangle`` (degrees anticlockwise) instead of a baseline."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from mspt_core.document import Line, Page, bbox
from mspt_core.layout.turn import DOWNWARD, UPSIDE_DOWN, UPWARD, line_turn

from . import _common as c


def _bbox(points) -> str:
    x0, y0, x1, y1 = bbox(points)
    return f"bbox {math.floor(x0)} {math.floor(y0)} {math.ceil(x1)} {math.ceil(y1)}"


# hOCR's textangle of turned text: reading down the page is turned 270 degrees anticlockwise,
# reading up it 90, upside down 180.
TEXT_ANGLES = {DOWNWARD: 270, UPWARD: 90, UPSIDE_DOWN: 180}


def _baseline(line: Line) -> str:
    """hOCR baseline: slope and offset of the baseline from the box's bottom-left corner (for a
    line written sideways or upside down, its textangle)."""
    if len(line.baseline) < 2:
        return ""
    if turn := line_turn(line):
        return f"; textangle {TEXT_ANGLES[turn]}"
    (xa, ya), (xb, yb) = line.baseline[0], line.baseline[-1]
    slope = (yb - ya) / (xb - xa) if xb != xa else 0.0
    x0, _, _, y1 = bbox(line.polygon or line.baseline)
    offset = (ya + slope * (x0 - xa)) - math.ceil(y1)
    return f"; baseline {slope:.4f} {offset:.0f}"


def _title(*parts: str) -> str:
    return escape("; ".join(p for p in parts if p), quote=True)


def to_html(pages: list[Page], out_path: Path) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">',
        "<head>",
        "<title></title>",
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>',
        '<meta name="ocr-system" content="mspt"/>',
        '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_line ocrx_word"/>',
        "</head>",
        "<body>",
    ]
    for n, page in enumerate(pages, 1):
        image = f'image "{c.image_ref(page.image_path, out_path)}"' if page.image_path else ""
        title = _title(image, f"bbox 0 0 {page.width} {page.height}", f"ppageno {n - 1}")
        out.append(f'<div class="ocr_page" id="page_{n}" title="{title}">')
        for region in page.regions:
            points = region.polygon or [p for ln in region.lines for p in (ln.polygon or ln.baseline)]
            rtitle = f' title="{_title(_bbox(points))}"' if points else ""
            out.append(f'<div class="ocr_carea" id="{escape(region.id, True)}"{rtitle}>')
            for line in region.lines:
                out.append(_line(line))
            out.append("</div>")
        out.append("</div>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _line(line: Line) -> str:
    points = line.polygon or line.baseline
    title = _title(_bbox(points) + _baseline(line)) if points else ""
    head = f'<span class="ocr_line" id="{escape(line.id, True)}" title="{title}">'
    if not line.words or " ".join(w.text for w in line.words) != line.text:
        conf = f' title="x_wconf {round(100 * line.confidence)}"' if line.confidence is not None else ""
        return head + f'<span class="ocrx_word"{conf}>{escape(line.text, False)}</span></span>'
    words = []
    for w in line.words:
        parts = [_bbox(w.polygon) if w.polygon else ""]
        if w.confidence is not None:
            parts.append(f"x_wconf {round(100 * w.confidence)}")
        wid = f' id="{escape(w.id, True)}"' if w.id else ""
        words.append(f'<span class="ocrx_word"{wid} title="{_title(*parts)}">{escape(w.text, False)}</span>')
    return head + " ".join(words) + "</span>"


def to_bytes(pages: list[Page], out_path: Path) -> bytes:
    return to_html(pages, out_path).encode("utf-8")

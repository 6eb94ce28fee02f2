"""Whole synthetic pages: a heading and justified paragraphs, set in one face, slightly skewed,
on toned and noisy paper — with the exact ground truth as a ``Page`` (line polygons,
baselines, text), ready for ``mspt_core.formats.write_document``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from mspt_core.data.synth import degrade
from mspt_core.data.synth.fonts import FontFace
from mspt_core.data.synth.render import as_face, draw_ink, line_box, pil_font
from mspt_core.document import Line, LineStatus, Page, Point, Region, bbox, box_polygon
from mspt_core.errors import DataError


@dataclass
class PageLayout:
    width: int = 1700  # about US letter at 200 dpi
    height: int = 2200
    margin_x: int = 190
    margin_top: int = 210
    margin_bottom: int = 220
    font_px: int = 34  # body text size: 12 pt at 200 dpi
    leading: float = 1.42  # baseline distance in font sizes
    heading_scale: float = 1.45
    indent_em: float = 2.0


@dataclass
class PageStyle:
    """How worn the page looks; ``draw`` picks it at random."""

    skew_deg: float = 0.0
    strength: float = 0.5  # ink wear and scan damage, 0..1
    ink_level: float = 25.0

    @classmethod
    def draw(cls, rng: np.random.Generator, strength: float = 0.5) -> PageStyle:
        return cls(skew_deg=float(rng.uniform(-0.8, 0.8)), strength=strength, ink_level=float(rng.uniform(10, 60)))


@dataclass
class _SetLine:
    """A typeset line before the page is skewed: its words, where each starts, and its box."""

    words: list[str]
    xs: list[float]
    baseline: int
    left: float
    right: float
    size: int
    heading: bool = False
    paragraph: int = 0
    text: str = field(init=False)

    def __post_init__(self) -> None:
        self.text = " ".join(self.words)


def _wrap(words: list[str], widths: list[float], space: float, first_width: float, width: float) -> list[list[int]]:
    """Greedy line breaking: word indices per line; the first line is ``first_width`` wide."""
    lines: list[list[int]] = [[]]
    used = 0.0
    for i, w in enumerate(widths):
        room = first_width if len(lines) == 1 else width
        if lines[-1] and used + space + w > room:
            lines.append([])
            used = 0.0
        used += (space if lines[-1] else 0.0) + w
        lines[-1].append(i)
    return [line for line in lines if line]


def typeset(
    heading: Sequence[str],
    paragraphs: Sequence[str],
    face: FontFace,
    layout: PageLayout,
    whole_paragraphs: bool = False,
) -> list[_SetLine]:
    """Heading lines centred, then paragraphs justified with an indented first line, until the
    page is full. Text that does not fit is left out: from the first line that does not fit,
    or with ``whole_paragraphs`` from the first paragraph that does not fit entirely."""
    body = pil_font(str(face.path), face.index, layout.font_px)
    big_px = int(round(layout.font_px * layout.heading_scale))
    big = pil_font(str(face.path), face.index, big_px)
    pitch = int(round(layout.font_px * layout.leading))
    column = layout.width - 2 * layout.margin_x
    _, descent = line_box(str(face.path), face.index, layout.font_px)
    last_baseline = layout.height - layout.margin_bottom - descent

    out: list[_SetLine] = []
    baseline = layout.margin_top + line_box(str(face.path), face.index, big_px)[0]
    for text in heading:
        words = text.split()
        width = big.getlength(" ".join(words))
        left = layout.margin_x + (column - width) / 2
        xs = [left + big.getlength(" ".join(words[:i]) + (" " if i else "")) for i in range(len(words))]
        out.append(_SetLine(words, xs, baseline, left, left + width, big_px, heading=True))
        baseline += int(round(big_px * layout.leading))
    if heading:
        baseline += pitch // 2

    space = body.getlength(" ")
    indent = layout.indent_em * layout.font_px
    for number, paragraph in enumerate(paragraphs):
        words = paragraph.split()
        if not words:
            continue
        widths = [body.getlength(w) for w in words]
        broken = _wrap(words, widths, space, column - indent, column)
        if whole_paragraphs and baseline + pitch * (len(broken) - 1) > last_baseline:
            return out
        for k, indices in enumerate(broken):
            if baseline > last_baseline:
                return out
            left = layout.margin_x + (indent if k == 0 else 0.0)
            natural = sum(widths[i] for i in indices) + space * (len(indices) - 1)
            room = column - (left - layout.margin_x)
            last = k == len(broken) - 1
            # Justify: stretch the spaces, except on a paragraph's last line.
            gap = space if last or len(indices) < 2 else space + (room - natural) / (len(indices) - 1)
            xs, x = [], left
            for i in indices:
                xs.append(x)
                x += widths[i] + gap
            right = xs[-1] + widths[indices[-1]]
            out.append(
                _SetLine([words[i] for i in indices], xs, baseline, left, right, layout.font_px, paragraph=number)
            )
            baseline += pitch
    return out


def _rotate(points: np.ndarray, matrix: np.ndarray) -> list[Point]:
    moved = points @ matrix[:, :2].T + matrix[:, 2]
    return [(round(float(x), 1), round(float(y), 1)) for x, y in moved]


def render_page(
    paragraphs: Sequence[str],
    font: FontFace | str,
    rng: np.random.Generator,
    heading: Sequence[str] = (),
    layout: PageLayout | None = None,
    style: PageStyle | None = None,
    page_id: str = "page",
    whole_paragraphs: bool = False,
) -> tuple[np.ndarray, Page]:
    """(grey uint8 page image, its ground truth). Every line of the Page holds exactly the text
    drawn there; its polygon is the line box and its baseline the drawn baseline, both skewed
    with the page."""
    face = as_face(font)
    layout = layout or PageLayout()
    style = style or PageStyle.draw(rng)
    missing = face.missing(" ".join([*heading, *paragraphs]))
    if missing:
        raise DataError(f"{face.name} cannot draw {missing!r}; choose another font")
    lines = typeset(heading, paragraphs, face, layout, whole_paragraphs)
    if not lines:
        raise DataError("no text to put on the page")

    coverage: np.ndarray = np.zeros((layout.height, layout.width), np.float32)
    for line in lines:
        for word, x in zip(line.words, line.xs, strict=True):
            draw_ink(word, face, line.size, origin=(int(round(x)), line.baseline), into=coverage)
    if style.strength > 0:
        coverage = degrade.wear_ink(coverage, rng, max(1.0, layout.font_px / 12), 0.6 * style.strength)
    centre = (layout.width / 2, layout.height / 2)
    matrix = cv2.getRotationMatrix2D(centre, style.skew_deg, 1.0)
    coverage = cv2.warpAffine(coverage, matrix, (layout.width, layout.height), flags=cv2.INTER_LINEAR, borderValue=0)

    page = Page(width=layout.width, height=layout.height, id=page_id)
    region: Region | None = None
    for n, line in enumerate(lines):
        key = "heading" if line.heading else f"p{line.paragraph}"
        if region is None or region.id != key:
            region = Region(id=key, region_type="MainZone")
            page.regions.append(region)
        ascent, descent = line_box(str(face.path), face.index, line.size)
        # The line box with a 3 px margin, so that antialiased edges stay inside.
        x0, x1 = line.left - 3, line.right + 3
        y0, y1 = line.baseline - ascent - 3, line.baseline + descent + 3
        box = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)
        base = np.array([(line.left, line.baseline), (line.right, line.baseline)], dtype=np.float64)
        region.lines.append(
            Line(
                id=f"l{n + 1:03d}",
                polygon=_rotate(box, matrix),
                baseline=_rotate(base, matrix),
                text=line.text,
                status=LineStatus.CORRECTED,
                line_type="HeadingLine" if line.heading else "DefaultLine",
            )
        )
    for region in page.regions:
        region.polygon = box_polygon(*bbox([p for ln in region.lines for p in ln.polygon]))

    background = degrade.paper(coverage.shape, rng, 0.5 * style.strength)
    image = degrade.compose(coverage, background, style.ink_level)
    return _scan_page(image, rng, style.strength), page


def _scan_page(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Mild scanner look for a whole page: soft focus and sensor noise, no JPEG (pages are
    saved as PNG and should stay small)."""
    out: np.ndarray = cv2.GaussianBlur(image, (0, 0), 0.4 + 0.4 * strength)
    out = out + rng.normal(0, 0.3 + 1.0 * strength, out.shape).astype(np.float32)
    return out.clip(0, 255).astype(np.uint8)

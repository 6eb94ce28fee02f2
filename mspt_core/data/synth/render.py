"""Drawing one text line: ink coverage from a font, then a line image like the crops that
``mspt_core.layout.crop.crop_line`` cuts from real pages (text filling the height, a little
paper around it, sometimes bits of the neighbouring lines at the top and bottom)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mspt_core.data.synth import degrade
from mspt_core.data.synth.fonts import FontFace, read_face
from mspt_core.errors import DataError

# Reference strings for a face's line box: ascenders/capitals above, descenders below.
TALL = "bdfhklH"
DEEP = "gjpqy"


@lru_cache(maxsize=256)
def pil_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size=size, index=index)


@lru_cache(maxsize=512)
def line_box(path: str, index: int, size: int) -> tuple[int, int]:
    """(ascent, descent) in pixels of a face's line box at ``size``: the tallest letter above
    the baseline and the deepest below, over reference letters the face has."""
    font = pil_font(path, index, size)
    tall = [font.getbbox(ch, anchor="ls")[1] for ch in TALL if font.getmask(ch).getbbox()]
    deep = [font.getbbox(ch, anchor="ls")[3] for ch in DEEP if font.getmask(ch).getbbox()]
    return -int(min(tall, default=-size * 3 // 4)), int(max(deep, default=size // 4))


@dataclass
class Ink:
    """Ink coverage (float32, 0..1) of some text drawn at ``baseline`` row, starting at ``left``."""

    coverage: np.ndarray
    baseline: int
    left: int
    right: int  # one past the last column the text advances to
    ascent: int
    descent: int


def as_face(font: FontFace | str | Path) -> FontFace:
    if isinstance(font, FontFace):
        return font
    face = read_face(Path(font))
    if face is None:
        raise DataError(f"{font}: not a usable font file (unreadable, or no basic Latin)")
    return face


def draw_ink(
    text: str,
    face: FontFace,
    size: int,
    tracking: float = 0.0,
    canvas: tuple[int, int] | None = None,
    origin: tuple[int, int] | None = None,
    into: np.ndarray | None = None,
) -> Ink:
    """Draw ``text`` with ``face`` at ``size`` px; ``tracking`` adds that many pixels between
    letters. Draws into ``into`` (a float canvas) at ``origin`` (x, baseline) when given."""
    if not face.can_draw(text):
        raise DataError(f"{face.name} ({face.path}) has no glyph for {face.missing(text)!r}")
    font = pil_font(str(face.path), face.index, size)
    ascent, descent = line_box(str(face.path), face.index, size)
    advance = font.getlength(text) + tracking * max(len(text) - 1, 0)
    if into is None:
        width, height = canvas or (int(advance + 2 * size), ascent + descent + 2 * size)
        into = np.zeros((height, width), np.float32)
    x0, baseline = origin or (size, size + ascent)
    layer = Image.new("L", (into.shape[1], into.shape[0]), 0)
    pen = ImageDraw.Draw(layer)
    if tracking == 0.0:
        pen.text((x0, baseline), text, font=font, fill=255, anchor="ls")
    else:
        # Letter by letter: each starts where the plain string would put it (kerning kept)
        # plus the extra spacing so far.
        for i, ch in enumerate(text):
            if not ch.isspace():
                pen.text((x0 + font.getlength(text[:i]) + tracking * i, baseline), ch, font=font, fill=255, anchor="ls")
    np.maximum(into, np.asarray(layer, np.float32) / 255.0, out=into)
    return Ink(into, int(baseline), int(x0), int(np.ceil(x0 + advance)), ascent, descent)


def font_size_for(face: FontFace, box_height: float) -> int:
    """The font size whose line box (ascent + descent) is about ``box_height`` pixels."""
    ascent, descent = line_box(str(face.path), face.index, 100)
    return max(4, int(round(box_height * 100 / max(ascent + descent, 1))))


@dataclass
class LineStyle:
    """The random choices behind one degraded line image; ``draw`` picks them from an rng."""

    scale: float = 1.6  # render at this multiple of the output height, then scale down
    tracking: float = 0.0  # extra letter spacing, in em
    pad_top: float = 0.06  # paper above / below / beside the text, in line-box heights
    pad_bottom: float = 0.06
    pad_left: float = 0.15
    pad_right: float = 0.15
    leading: float = 1.25  # distance to the neighbouring lines, in line-box heights
    neighbour_above: bool = False
    neighbour_below: bool = False
    ink_level: float = 20.0  # grey of full ink
    strength: float = 1.0  # 0 = clean render on white, 1 = full degradation

    @classmethod
    def draw(cls, rng: np.random.Generator, strength: float = 1.0) -> LineStyle:
        return cls(
            scale=float(rng.uniform(1.0, 2.5)),
            tracking=float(rng.uniform(-0.02, 0.12)) if rng.random() < 0.3 else 0.0,
            pad_top=float(rng.uniform(0.0, 0.18)),
            pad_bottom=float(rng.uniform(0.0, 0.18)),
            pad_left=float(rng.uniform(0.02, 0.5)),
            pad_right=float(rng.uniform(0.02, 0.5)),
            leading=float(rng.uniform(1.0, 1.45)),
            neighbour_above=bool(rng.random() < 0.35),
            neighbour_below=bool(rng.random() < 0.35),
            ink_level=float(rng.uniform(0, 80)),
            strength=strength,
        )


CLEAN = LineStyle(scale=2.0, strength=0.0)


def render_line(
    text: str,
    font: FontFace | str | Path,
    height: int = 40,
    rng: np.random.Generator | None = None,
    style: LineStyle | None = None,
    neighbours: tuple[str, str] | None = None,
) -> np.ndarray:
    """A grey uint8 line image ``height`` px tall showing ``text`` dark on light paper.

    With ``rng`` and no ``style`` the look is drawn at random (scan-like); with neither, a clean
    render. ``neighbours`` are the texts of the lines above and below, of which only the
    descenders / ascenders show when the style asks for them (default: the line's own words
    reshuffled). Raises DataError when the font lacks a glyph of ``text``."""
    face = as_face(font)
    text = " ".join(text.split())
    if not text:
        raise DataError("cannot render an empty line")
    if style is None:
        style = LineStyle.draw(rng) if rng is not None else CLEAN
    rng = rng if rng is not None else np.random.default_rng(0)

    box = height * style.scale
    size = font_size_for(face, box)
    pil = pil_font(str(face.path), face.index, size)
    face_ascent, face_descent = line_box(str(face.path), face.index, size)
    box = face_ascent + face_descent
    tracking = style.tracking * size
    advance = pil.getlength(text) + tracking * (len(text) - 1)
    # Accented capitals and the like may reach beyond the face's usual line box.
    _, ink_top, _, ink_bottom = pil.getbbox(text, anchor="ls")
    ascent, descent = max(face_ascent, -ink_top), max(face_descent, ink_bottom)

    # Draw only into the crop window: the line box, its padding, and room for the warp's drift.
    drift = int(np.ceil(0.08 * box * style.strength)) + 1
    above = int(np.ceil(ascent + style.pad_top * box)) + drift
    below = int(np.ceil(descent + style.pad_bottom * box)) + drift
    left = int(np.ceil(style.pad_left * box)) + drift
    right = int(np.ceil(style.pad_right * box)) + drift
    canvas = np.zeros((above + below, left + max(int(np.ceil(advance)), 1) + right), np.float32)
    baseline = above
    draw_ink(text, face, size, tracking, origin=(left, baseline), into=canvas)

    if style.neighbour_above or style.neighbour_below:
        lead = int(round(style.leading * box))
        texts = neighbours or _shuffled_words(text, rng)
        for wanted, other, row in (
            (style.neighbour_above, texts[0], baseline - lead),
            (style.neighbour_below, texts[1], baseline + lead),
        ):
            if wanted and other and face.can_draw(other):
                x = int(left + rng.uniform(-2, 0.5) * size)
                draw_ink(other, face, size, tracking, origin=(x, row), into=canvas)

    coverage = canvas
    if style.strength > 0:
        coverage = degrade.warp(coverage, rng, baseline, box, style.strength)
        coverage = degrade.wear_ink(coverage, rng, max(1.0, size / 12), style.strength)

    out_w = max(1, int(round(coverage.shape[1] * height / coverage.shape[0])))
    coverage = np.asarray(cv2.resize(coverage, (out_w, height), interpolation=cv2.INTER_AREA), np.float32)
    if style.strength <= 0:
        return np.round(255.0 - 255.0 * coverage.clip(0, 1)).astype(np.uint8)
    background = degrade.paper(coverage.shape, rng, style.strength)
    image = degrade.compose(coverage, background, style.ink_level)
    return degrade.scan(image, rng, style.strength)


def _shuffled_words(text: str, rng: np.random.Generator) -> tuple[str, str]:
    words = text.split()
    return " ".join(rng.permutation(words)), " ".join(rng.permutation(words))

"""Synthetic training data: text lines and whole pages rendered from installed corpora and fonts
with scan-like degradation.

- ``corpus``: text from Debian-packaged corpora (en, fr, de, cs, la) or one's own text files
- ``fonts``: installed fonts, their character maps, weighted picking
- ``render``: one line image (``render_line``)
- ``degrade``: the scan-like damage
- ``pages``: a typeset page plus its ground truth (``render_page``)

This module ties them together: ``LineSynthesizer`` draws (image, text) samples, and
``cover_charset`` makes sure every character of a charset is drawn by several fonts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from mspt_core.data.synth.corpus import Corpus
from mspt_core.data.synth.fonts import FontFace, FontSet, find_fonts
from mspt_core.data.synth.pages import PageLayout, PageStyle, render_page
from mspt_core.data.synth.render import LineStyle, render_line
from mspt_core.errors import DataError

__all__ = [
    "Corpus",
    "FontFace",
    "FontSet",
    "LineStyle",
    "LineSynthesizer",
    "PageLayout",
    "PageStyle",
    "SynthLine",
    "cover_charset",
    "find_fonts",
    "render_line",
    "render_page",
]

# Texts that no face can draw are drawn again; this many misses in a row means the corpus and
# the fonts do not fit together at all.
MAX_TRIES = 50


@dataclass
class SynthLine:
    image: np.ndarray  # grey uint8, ``height`` rows
    text: str
    font: str  # face name, e.g. "EB Garamond italic"
    language: str


class LineSynthesizer:
    """Random degraded line images with their texts. ``strength`` 0 gives clean renders."""

    def __init__(
        self, corpus: Corpus | None = None, fonts: FontSet | None = None, height: int = 40, strength: float = 1.0
    ):
        self.corpus = corpus or Corpus.installed()
        self.fonts = fonts or FontSet.installed()
        self.height = height
        self.strength = strength

    def _text_and_face(self, rng: np.random.Generator) -> tuple[str, str, FontFace]:
        for _ in range(MAX_TRIES):
            text, language = self.corpus.sample(rng)
            if text.strip() and self.fonts.covering(text):
                return text, language, self.fonts.pick(text, rng)
        raise DataError(
            f"none of {MAX_TRIES} corpus lines in a row could be drawn by any of "
            f"{len(self.fonts)} fonts; install more fonts (docs/synth.md)"
        )

    def sample(self, rng: np.random.Generator) -> SynthLine:
        text, language, face = self._text_and_face(rng)
        style = LineStyle.draw(rng, self.strength)
        neighbours = (self.corpus.sample(rng, language)[0], self.corpus.sample(rng, language)[0])
        image = render_line(text, face, self.height, rng, style, neighbours)
        return SynthLine(image, text, face.name, language)

    def samples(self, rng: np.random.Generator, count: int | None = None) -> Iterator[SynthLine]:
        """``count`` samples, or endlessly when None."""
        made = 0
        while count is None or made < count:
            yield self.sample(rng)
            made += 1


def cover_charset(
    chars: Iterable[str],
    rng: np.random.Generator,
    fonts: FontSet | None = None,
    corpus: Corpus | None = None,
    fonts_per_char: int = 2,
    height: int = 40,
    strength: float = 1.0,
) -> list[SynthLine]:
    """For each character of ``chars``, ``fonts_per_char`` lines drawn by different font
    families (different faces where one family is all there is), the character set among a few
    corpus words (or alone). Raises DataError naming the characters that too few installed
    fonts can draw."""
    fonts = fonts or FontSet.installed()
    wanted = sorted({ch for ch in chars if not ch.isspace()})
    short = {ch: len(fonts.covering(ch)) for ch in wanted}
    short = {ch: n for ch, n in short.items() if n < fonts_per_char}
    if short:
        listing = ", ".join(f"{ch!r} ({n})" for ch, n in short.items())
        raise DataError(f"fewer than {fonts_per_char} fonts can draw: {listing}")
    out: list[SynthLine] = []
    for ch in wanted:
        for face in _distinct_faces(fonts.covering(ch), fonts_per_char, rng):
            text = _with_context(ch, face, corpus, rng)
            style = LineStyle.draw(rng, strength)
            out.append(SynthLine(render_line(text, face, height, rng, style), text, face.name, "charset"))
    return out


def _distinct_faces(faces: list[FontFace], count: int, rng: np.random.Generator) -> list[FontFace]:
    """``count`` faces, from different families first."""
    order = [faces[i] for i in rng.permutation(len(faces))]
    chosen: list[FontFace] = []
    for face in order:
        if len(chosen) < count and face.family not in {c.family for c in chosen}:
            chosen.append(face)
    for face in order:
        if len(chosen) < count and face not in chosen:
            chosen.append(face)
    return chosen


def _with_context(ch: str, face: FontFace, corpus: Corpus | None, rng: np.random.Generator) -> str:
    words: list[str] = []
    if corpus is not None:
        words = [w for w in corpus.sample(rng)[0].split() if face.can_draw(w)][:6]
    where = int(rng.integers(len(words) + 1))
    return " ".join(words[:where] + [ch] + words[where:])

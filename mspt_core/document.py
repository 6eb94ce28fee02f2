"""The one data model every part of mspt speaks: a Page holds Regions, a Region holds Lines.

List order is reading order: ``page.regions`` in the order they are read, each region's
``lines`` likewise. Coordinates are image pixels, (x, y), origin top-left.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Point = tuple[float, float]


def bbox(points: Sequence[Point]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the smallest axis-aligned box around ``points`` (at least one)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> list[Point]:
    """The box from (x0, y0) to (x1, y1) as a polygon, clockwise from the top left."""
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character indices of each run of non-space characters."""
    spans = []
    start = None
    for i, ch in enumerate(text):
        if ch.isspace():
            if start is not None:
                spans.append((start, i))
                start = None
        elif start is None:
            start = i
    if start is not None:
        spans.append((start, len(text)))
    return spans


class LineStatus(str, enum.Enum):
    UNRECOGNIZED = "unrecognized"
    RECOGNIZED = "recognized"
    CORRECTED = "corrected"


@dataclass
class Extras:
    """What a PAGE or ALTO file held on an element that mspt does not model, kept verbatim so
    that writing the same format puts it back (``mspt_core.formats`` reports it as lost when the
    target format has no place for it). Keys name the format and the element they came from:

    - ``elements``: ``("page:TextLine", "<pc:TextStyle …/>")`` — parent element, serialized child
    - ``attributes``: ``{"alto:Page@PHYSICAL_IMG_NR": "50"}``
    """

    elements: list[tuple[str, str]] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.elements or self.attributes)


@dataclass
class Glyph:
    """Optional glyph level under a word (PAGE Glyph / ALTO Glyph)."""

    id: str
    text: str
    polygon: list[Point] = field(default_factory=list)
    confidence: float | None = None


@dataclass
class Word:
    """Optional word level, kept when an input file has it (PAGE Word / ALTO String)."""

    id: str
    text: str
    polygon: list[Point] = field(default_factory=list)
    confidence: float | None = None
    glyphs: list[Glyph] = field(default_factory=list)
    extras: Extras = field(default_factory=Extras)


@dataclass
class Line:
    id: str
    polygon: list[Point] = field(default_factory=list)  # boundary polygon
    baseline: list[Point] = field(default_factory=list)  # polyline, left to right
    text: str = ""
    confidence: float | None = None  # whole-line confidence in [0, 1]
    char_confidences: list[float] | None = None  # one per character of ``text``
    status: LineStatus = LineStatus.UNRECOGNIZED
    line_type: str | None = None  # SegmOnto label, e.g. "DefaultLine"
    words: list[Word] = field(default_factory=list)
    extras: Extras = field(default_factory=Extras)  # unmodelled parts of the source file

    def bbox(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the polygon, or of the baseline when there is no polygon."""
        pts = self.polygon or self.baseline
        if not pts:
            raise ValueError(f"line {self.id} has neither polygon nor baseline")
        return bbox(pts)


@dataclass
class Region:
    id: str
    polygon: list[Point] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    region_type: str | None = None  # SegmOnto zone label, e.g. "MainZone"
    extras: Extras = field(default_factory=Extras)  # unmodelled parts of the source file


@dataclass
class Page:
    width: int
    height: int
    image_path: Path | None = None  # absolute, or None when unknown
    image_index: int = 0  # which page of a multi-page TIFF or PDF ``image_path`` this page shows
    id: str = "page"
    regions: list[Region] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. PAGE Creator / Created / LastChange
    extras: Extras = field(default_factory=Extras)  # unmodelled parts of the source file

    def lines(self) -> Iterator[Line]:
        """All lines in reading order."""
        for region in self.regions:
            yield from region.lines

    def lines_with_regions(self) -> Iterator[tuple[Line, Region]]:
        """All lines in reading order, each with the region it is in (its zone type)."""
        for region in self.regions:
            for line in region.lines:
                yield line, region

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines())


def protect_foreign_text(page: Page) -> None:
    """Mark text that came from another tool's file (it has no mspt character confidences) as
    corrected: it may be a person's transcription, and recognition must not overwrite it."""
    for line in page.lines():
        if line.text and line.char_confidences is None:
            line.status = LineStatus.CORRECTED


def words_match(line: Line) -> bool:
    """Whether the line's words are its text's words, in order (what writers need to use them)."""
    return bool(line.words) and [w.text for w in line.words] == [line.text[a:b] for a, b in word_spans(line.text)]


# what segment says of the page
FOUND_METADATA = ("segmentation", "skew_degrees", "page_turn", "library_banner", "faint_lines")


def found_metadata(page: Page) -> dict[str, str]:
    """What segmentation said of ``page`` (its ``FOUND_METADATA`` keys)."""
    return {key: page.metadata[key] for key in FOUND_METADATA if key in page.metadata}


def set_found_metadata(page: Page, said: dict[str, str]) -> None:
    """Make ``said`` all that segmentation says of ``page`` (what an earlier run said is dropped)."""
    for key in FOUND_METADATA:
        page.metadata.pop(key, None)
    page.metadata.update({key: value for key, value in said.items() if key in FOUND_METADATA})


def take_found_metadata(page: Page, found: Page) -> None:
    """Give ``page`` what ``segment`` said of ``found`` (and drop what an earlier run said)."""
    set_found_metadata(page, found_metadata(found))

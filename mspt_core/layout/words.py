"""Word boxes of a read line, from where the CTC alignment put each character.

The recognizer says where each character peaks in the line crop (``Reading.char_x``): that
tells which word lies where; the ink of the crop then says where each word starts and ends
(the blank columns between words). A word takes the height of the line's polygon over its
span. Boxes are whole pixels inside the line's box, in the order of the text (reading order).
A line written sideways is read on the page turned upright (``crop.place_line``); its words are
boxed there and turned back (``placed_words``).

``words_after_edit`` keeps the boxes when a person corrects letters within words, and drops
them when the words themselves change (the boxes no longer say where each word is).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from mspt_core.document import Line, Point, Word, bbox, box_polygon, word_spans
from mspt_core.layout.crop import PlacedCrop
from mspt_core.layout.turn import turned_line, unturn_points


def _pitch(xs: Sequence[float], fallback: float) -> float:
    steps = [b - a for a, b in zip(xs, xs[1:], strict=False) if b > a]
    return float(np.median(steps)) if steps else fallback


def _inked(crop: np.ndarray) -> np.ndarray:
    """Per column of a grey line crop: whether it holds ink (a pixel well below the paper)."""
    paper = float(np.percentile(crop, 90))
    ink = float(crop.min())
    if paper - ink < 40:  # no contrast: treat every column as inked
        return np.ones(crop.shape[1], dtype=bool)
    return (crop < (2 * paper + ink) / 3).sum(axis=0) > 0


def _gap(inked: np.ndarray, lo: float, hi: float) -> tuple[float, float]:
    """The widest run of blank columns between ``lo`` and ``hi`` (the space between two words)
    as (start, end); where none is blank, the column between them."""
    a, b = max(int(math.floor(lo)), 0), min(int(math.ceil(hi)), len(inked))
    best = (0, -1)
    run = None
    for x in range(a, b):
        if not inked[x]:
            run = x if run is None else run
            if x - run > best[1] - best[0]:
                best = (run, x)
        else:
            run = None
    if best[1] < best[0]:
        middle = (lo + hi) / 2
        return middle, middle
    return float(best[0]), float(best[1] + 1)


def _clip_strip(polygon: Sequence[Point], left: float, right: float) -> list[Point]:
    """The part of a polygon between the verticals ``left`` and ``right`` (Sutherland-Hodgman)."""
    points = list(polygon)
    for x, keep_left in ((left, False), (right, True)):
        inside = (lambda p, x=x: p[0] <= x) if keep_left else (lambda p, x=x: p[0] >= x)
        clipped: list[Point] = []
        for i, current in enumerate(points):
            previous = points[i - 1]
            if inside(current) != inside(previous):
                t = (x - previous[0]) / (current[0] - previous[0])
                clipped.append((x, previous[1] + t * (current[1] - previous[1])))
            if inside(current):
                clipped.append(current)
        points = clipped
        if not points:
            break
    return points


def line_words(
    line: Line,
    text: str,
    char_x: Sequence[float],
    char_confidences: Sequence[float] | None,
    crop: np.ndarray,
    page_x: Callable[[float], float],
) -> list[Word]:
    """The words of ``text`` with boxes on the page. ``char_x``: each character's position in
    ``crop``, the grey line image that was read; ``page_x`` maps a crop x to the page.
    Empty when the positions do not match the text or the line has no polygon.

    Where a character peaks differs between models (often past its middle), so the peaks only
    say which words lie where: each boundary between two words is the widest blank run of
    crop columns between them, and the line's ends are its first and last inked columns near
    the first and last character."""
    spans = word_spans(text)
    if len(char_x) != len(text) or len(line.polygon) < 3 or not spans:
        return []
    lx0, ly0, lx1, ly1 = line.bbox()
    left_edge, right_edge = math.ceil(lx0), math.floor(lx1)
    top_edge, bottom_edge = math.ceil(ly0), math.floor(ly1)
    if right_edge <= left_edge or bottom_edge <= top_edge:
        return []
    inked = _inked(crop)
    width = len(inked)
    pitch = _pitch(char_x, crop.shape[0] / 2)
    edges: list[list[float]] = []
    for start, end in spans:
        edges.append([char_x[start] - pitch, char_x[end - 1] + pitch / 2])
    for before, after, (_, end), (start, _) in zip(edges, edges[1:], spans, spans[1:], strict=False):
        # The space lies between the two words' peaks; peaks sit up to a pitch late.
        gap = _gap(inked, char_x[end - 1] - pitch / 2, char_x[start])
        before[1], after[0] = gap
    columns = np.flatnonzero(inked)
    first = columns[columns >= edges[0][0] - pitch]
    if len(first) and first[0] <= char_x[spans[0][0]]:
        edges[0][0] = float(first[0])
    last = columns[columns <= edges[-1][1] + pitch]
    if len(last) and last[-1] >= char_x[spans[-1][1] - 1]:
        edges[-1][1] = float(last[-1] + 1)
    words = []
    for n, ((start, end), (lo, hi)) in enumerate(zip(spans, edges, strict=True)):
        lo, hi = max(lo, 0.0), min(max(hi, lo), width)
        x0 = min(max(round(page_x(lo)), left_edge), right_edge - 1)
        x1 = min(max(round(page_x(hi)), x0 + 1), right_edge)
        strip = _clip_strip(line.polygon, x0, x1)
        _, y0, _, y1 = bbox(strip) if strip else (0, ly0, 0, ly1)
        y0 = min(max(math.floor(y0), top_edge), bottom_edge - 1)
        y1 = min(max(math.ceil(y1), y0 + 1), bottom_edge)
        confidence = None
        if char_confidences is not None and len(char_confidences) == len(text):
            confidence = word_confidence(text, char_confidences, start, end)
        words.append(Word(f"{line.id}_w{n + 1}", text[start:end], box_polygon(x0, y0, x1, y1), confidence))
    return words


def placed_words(
    line: Line,
    text: str,
    char_x: Sequence[float],
    char_confidences: Sequence[float] | None,
    placed: PlacedCrop,
    page_size: tuple[int, int],
) -> list[Word]:
    """``line_words`` for a line read from ``placed`` (``crop.place_line``) on a page of
    ``page_size`` (height, width), written sideways or not."""
    if not placed.turn:
        return line_words(line, text, char_x, char_confidences, placed.image, placed.page_x)
    upright = turned_line(line, placed.turn, page_size)
    words = line_words(upright, text, char_x, char_confidences, placed.image, placed.page_x)
    # Word boxes are pixel edges (a box ends one past its last pixel), so they turn with the
    # page's edges, one more than its last pixel each way.
    edges = (page_size[0] + 1, page_size[1] + 1)
    for word in words:
        word.polygon = unturn_points(word.polygon, placed.turn, edges)
    return words


def word_confidence(text: str, char_confidences: Sequence[float], start: int, end: int) -> float:
    """The least sure character of the word ``text[start:end]`` or of the spaces around it: they
    decide where the word ends, and so the line's least sure character is its least sure word's."""
    while start > 0 and text[start - 1].isspace():
        start -= 1
    while end < len(text) and text[end].isspace():
        end += 1
    return round(min(char_confidences[start:end]), 4)


def words_after_edit(words: list[Word], text: str, char_confidences: Sequence[float] | None) -> list[Word]:
    """The line's words after its text became ``text``: the same boxes with the new words'
    texts (and confidences from ``char_confidences``) when the text still has as many words,
    else none."""
    spans = word_spans(text)
    if not words or len(spans) != len(words):
        return []
    kept = []
    for word, (start, end) in zip(words, spans, strict=True):
        confidence = word.confidence
        if char_confidences is not None and len(char_confidences) == len(text):
            confidence = word_confidence(text, char_confidences, start, end)
        same = text[start:end] == word.text
        if not same and not (char_confidences is not None and len(char_confidences) == len(text)):
            confidence = None
        glyphs = list(word.glyphs) if same else []  # glyphs of a changed word no longer fit
        kept.append(Word(word.id, text[start:end], list(word.polygon), confidence, glyphs, word.extras))
    return kept

"""Given lines cut for reading along the line finder's outline of them.

Lines that come with a page (a PAGE or ALTO file from eScriptorium, Transkribus or kraken, or
drawn in the app) are often outlined generously: up to the line above, whose descenders and the
white between then fill the crop, and the letters come out small once it is scaled to the
recognizer's height. The recognizer reads such lines better cut along the outline our line
finder draws round them. So a given line is cut along the found line paired with it (box IoU >=
0.5, one to one, as the segmentation benchmark pairs them) where that found line spans it
(within ``WIDTH_SLACK`` of the given line's height at either end: a shorter one would cut off
letters) and is no taller than it (a taller one brings in more of the neighbours), and along
its own outline otherwise. Only the crop changes: the document keeps the given outline.
Chosen on the val splits (benchmarks/RESULTS.md, "Given lines cut along the line finder's
outline"): mean line CER 22.94 -> 20.11 % on the handwritten sets (the handwriting model), 4.32
-> 4.17 % on the printed ones (``auto``); cutting along every spanning found line, taller ones
too, read 20.24 % and 4.38 %.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mspt_core.document import Line, Page
from mspt_core.layout.evaluate import pair_lines
from mspt_core.layout.segment import segment
from mspt_core.layout.turn import line_turn

WIDTH_SLACK = 0.5


def found_in_place(lines: Sequence[Line], found: Sequence[Line], shape: tuple[int, int]) -> dict[int, Line]:
    """Index of each of ``lines`` (given) -> the found line paired with it (box IoU >= 0.5, one
    to one, greedy by IoU: ``evaluate.pair_lines``). ``shape`` is the page's (height, width)."""
    pairs = pair_lines([ln.polygon for ln in lines], [ln.polygon for ln in found], shape)
    return {i: found[j] for i, j in pairs}


def outlines_to_cut(lines: Sequence[Line], found: Sequence[Line], shape: tuple[int, int]) -> list[Line]:
    """For each of ``lines`` (given), the line to cut it along: its paired found line where that
    spans it, is no taller and is turned the same way (``turn.line_turn``), else itself."""
    cut = list(lines)
    for i, other in found_in_place(lines, found, shape).items():
        (gx0, gy0, gx1, gy1), (ox0, oy0, ox1, oy1) = lines[i].bbox(), other.bbox()
        slack = WIDTH_SLACK * (gy1 - gy0)
        spans = ox0 <= gx0 + slack and ox1 >= gx1 - slack
        same_way = line_turn(other) == line_turn(lines[i])  # else the crop's columns lie on another page
        if spans and same_way and oy1 - oy0 <= gy1 - gy0:
            cut[i] = other
    return cut


def found_outlines(image: np.ndarray, lines: Sequence[Line]) -> list[Line]:
    """``outlines_to_cut`` with the lines the default segmentation finds on ``image`` (grey)."""
    if not lines:
        return []
    return outlines_to_cut(lines, list(segment(image).lines()), image.shape[:2])


def lines_given(page: Page) -> bool:
    """Whether ``page``'s lines came with it (a file, a person) rather than from mspt's
    segmentation, which says so in ``metadata["segmentation"]``."""
    return not str(page.metadata.get("segmentation", "")).startswith("mspt")

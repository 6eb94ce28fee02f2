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


def outlines_to_cut(lines: Sequence[Line], found: Sequence[Line], shape: tuple[int, int]) -> list[Line]:
    """For each of ``lines`` (given), the line to cut it along: its paired found line where that
    spans it, is no taller and is turned the same way (``turn.line_turn``), else itself.
    ``shape`` is the page's (height, width)."""
    pairs = dict(pair_lines([ln.polygon for ln in lines], [ln.polygon for ln in found], shape))
    cut = list(lines)
    for i, j in pairs.items():
        given, other = lines[i].bbox(), found[j].bbox()
        slack = WIDTH_SLACK * (given[3] - given[1])
        spans = other[0] <= given[0] + slack and other[2] >= given[2] - slack
        same_way = line_turn(found[j]) == line_turn(lines[i])  # else the crop's columns lie on another page
        if spans and same_way and other[3] - other[1] <= given[3] - given[1]:
            cut[i] = found[j]
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

"""Lines that come with a page, cut for reading along the line finder's outline of them.

Lines that come with a page (a PAGE or ALTO file from eScriptorium, Transkribus or kraken, for
``mspt transcribe`` or imported into a project) are often outlined generously: up to the line
above, whose descenders and the white between then fill the crop, and the letters come out small
once it is scaled to the recognizer's height. The recognizer reads such lines better cut along
the outline our line finder draws round them. So on a page whose lines mspt did not find itself
(``lines_given``: the choice is per page), each given line is cut along the found line paired
with it (box IoU >= 0.5, one to one, as the segmentation benchmark pairs them) where that found
line covers the same stretch of the line (its ends within ``END_SLACK`` of the given line's
height of the given ends: a shorter one would cut off letters, a longer one read a neighbour's
words into it), is no taller across it (a taller one brings in more of the neighbours) and is
turned the same way; otherwise along its own outline. Only the crop changes: the document
keeps the given outlines. Chosen on the val splits (benchmarks/RESULTS.md, "Given lines cut
along the line finder's outline").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from mspt_core.document import Line, Page
from mspt_core.layout.crop import PlacedCrop, place_line
from mspt_core.layout.evaluate import pair_lines
from mspt_core.layout.segment import segment
from mspt_core.layout.turn import DOWNWARD, UPWARD, line_turn

END_SLACK = 0.5

log = logging.getLogger(__name__)


def found_in_place(lines: Sequence[Line], found: Sequence[Line], shape: tuple[int, int]) -> dict[int, Line]:
    """Index of each of ``lines`` (given) -> the found line paired with it (box IoU >= 0.5, one
    to one, greedy by IoU: ``evaluate.pair_lines``). ``shape`` is the page's (height, width)."""
    pairs = pair_lines([ln.polygon for ln in lines], [ln.polygon for ln in found], shape)
    return {i: found[j] for i, j in pairs}


def _extent(line: Line) -> tuple[float, float, float]:
    """Where the line starts and ends along its writing, and how thick it is across: its box
    on the page's axes, x along it, or y for a line written down or up the page."""
    x0, y0, x1, y1 = line.bbox()
    if line_turn(line) in (DOWNWARD, UPWARD):
        return y0, y1, x1 - x0
    return x0, x1, y1 - y0


def outlines_to_cut(lines: Sequence[Line], found: Sequence[Line], shape: tuple[int, int]) -> list[Line]:
    """For each of ``lines`` (given, every line of the page), the line to cut it along: its
    paired found line where that covers the same stretch, is no thicker across and is turned the
    same way (``turn.line_turn``), else itself."""
    cut = list(lines)
    for i, other in found_in_place(lines, found, shape).items():
        if line_turn(other) != line_turn(lines[i]):  # the crop's columns would lie on another page
            continue
        (start, end, thickness), (o_start, o_end, o_thickness) = _extent(lines[i]), _extent(other)
        slack = END_SLACK * thickness
        if abs(o_start - start) <= slack and abs(o_end - end) <= slack and o_thickness <= thickness:
            cut[i] = other
    return cut


def reading_outlines(image: np.ndarray, lines: Sequence[Line], rtl: bool = False, strict: bool = False) -> list[Line]:
    """``outlines_to_cut`` with the lines the learned line finder finds on ``image`` (grey);
    the given lines themselves where it cannot look (no finder installed, or it fails: logged),
    so reading goes on along the given outlines. ``strict`` (benchmarks, training data cut this
    way): such a failure is raised instead, so a "finder" cut never quietly means another."""
    if not lines:
        return []
    try:
        found = list(segment(image, rtl=rtl, method="learned").lines())
    except Exception as error:  # noqa: BLE001  (any failure here only costs the better cut)
        if strict:
            raise
        log.warning("reading the page's lines along their own outlines: the line finder failed (%s)", error)
        return list(lines)
    return outlines_to_cut(lines, found, image.shape[:2])


def lines_given(page: Page) -> bool:
    """Whether ``page``'s lines came with it (a file, a person) rather than from mspt's
    segmentation, which says so in ``metadata["segmentation"]`` (kept in a project's PAGE files)."""
    return not str(page.metadata.get("segmentation", "")).startswith("mspt")


def place_along(image: np.ndarray, line: Line, outline: Line, height: int) -> PlacedCrop:
    """``line`` cut (``crop.place_line``) along ``outline`` (from ``reading_outlines``), or along
    its own outline where that cut fails."""
    if outline is not line:
        try:
            return place_line(image, outline, height)
        except ValueError:
            pass
    return place_line(image, line, height)

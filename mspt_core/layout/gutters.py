"""Lines the line finder's maps join across a white gutter: the two pages of a spread, two
columns, whose lines happen to run at the same height with no rule between them to cut at
(``linefinder._rule_cuts`` cuts at a fold's or a column rule's ink).

Such a line has a wide white gap in its ink where, among the lines near it on the page, at
least ``MARGIN_LINES`` start just past the gap (the other column's left margin) and as many end
before it, in the half of the line's own span nearest the gap (its own column's right edge). A
wide space inside one column (a tab stop, a word set out in the margin, a signature set apart,
a wide word space under the indent of a paragraph) lacks one or the other, so it is left
alone. All in the maps' pixels, measured in core heights (``height``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mspt_core.layout.linefinder import _LineMask

WIDE_GAP = 1.5  # core heights of white across a line's ink (chosen on val; the margins tell gutters from word spaces)
MARGIN_REACH = 1.5  # core heights a handwritten left margin wanders
MARGIN_LINES = 3  # lines near it starting past the gap, and ending before it
NEAR = 30.0  # core heights above or below a line that count as near it (several lines)


def _ink_columns(own: _LineMask, ink: np.ndarray) -> np.ndarray:
    """The page columns where a line has ink within its own pixels."""
    h, w = own.mask.shape
    window = ink[own.y0 : own.y0 + h, own.x0 : own.x0 + w] & own.mask
    return own.x0 + np.flatnonzero(window.any(axis=0))


def gutter_cuts(
    masks: dict[int, _LineMask], ink: np.ndarray, height: float, ruled: dict[int, list[int]] | None = None
) -> dict[int, list[int]]:
    """Per line, the page columns to cut it at: the middles of its gutter gaps. ``ruled``: the
    columns each line is cut at already, at a rule; a gap beside such a cut is that rule's
    gutter, split in two by the rule's ink, and is not cut again."""
    columns = {line: cols for line, own in masks.items() if len(cols := _ink_columns(own, ink))}
    lines = list(columns)
    if len(lines) <= MARGIN_LINES:
        return {}
    starts = np.array([columns[line][0] for line in lines])
    ends = np.array([columns[line][-1] for line in lines])
    middles = np.array([masks[line].y0 + masks[line].mask.shape[0] / 2 for line in lines])
    wide, reach = WIDE_GAP * height, MARGIN_REACH * height
    cuts: dict[int, list[int]] = {}
    for k, line in enumerate(lines):
        cols = columns[line]
        gaps = np.flatnonzero(np.diff(cols) > wide)
        if not len(gaps):
            continue
        near = np.abs(middles - middles[k]) <= NEAR * height
        near[k] = False
        at_rule = np.asarray((ruled or {}).get(line, []))
        for i in gaps:
            left, right = int(cols[i]), int(cols[i + 1])
            if np.any((at_rule >= left - reach) & (at_rule <= right + reach)):
                continue
            margin = np.count_nonzero(near & (np.abs(starts - right) <= reach))
            edge = np.count_nonzero(near & (ends < right) & (ends >= (cols[0] + left) / 2))
            if margin >= MARGIN_LINES and edge >= MARGIN_LINES:
                cuts.setdefault(line, []).append((left + right) // 2)
    return cuts

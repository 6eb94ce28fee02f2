"""Reading order of regions by recursive XY-cut on their boxes.

A vertical gap through the whole group splits it into columns (left to right, or right to left
for right-to-left scripts); otherwise a horizontal band of white space splits it into top and
bottom (top first). A heading spanning two columns blocks the vertical cut, so it is read before
both columns, and each column is read to its end before the next. Where neither cut exists (the
lines of one block, whose boxes overlap through their ascenders and descenders; the two pages of
a spread whose blocks overlap at the fold), items are read by top edge, except that items side
by side on one row (``_side_by_side``: a line the finder broke at a wide space, a spread's two
pages) are read left to right (right to left), whichever of them reaches higher.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mspt_core.document import bbox

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def _gaps(spans: list[tuple[float, float, int]]) -> list[list[int]]:
    """Group items whose 1-D spans overlap (chain-wise); groups in increasing coordinate order."""
    groups: list[list[int]] = []
    end = None
    for start, stop, index in sorted(spans):
        if end is None or start >= end:
            groups.append([index])
            end = stop
        else:
            groups[-1].append(index)
            end = max(end, stop)
    return groups


ROW_SHARE = 0.75  # of the thinner box's height that two boxes on one row share


def _side_by_side(a: Box, b: Box) -> bool:
    """On one row: each box's middle height lies within the other (a small box beside a tall
    one, a marginal note beside a block, is not on its row), they share at least ``ROW_SHARE``
    of the thinner one's height (handwritten boxes, ascenders and descenders included, can be
    twice as tall as the lines are apart: a note written a little above the line beside it
    stays before it), and they barely overlap across (a line above or below in the same column
    overlaps along most of its width)."""
    thin = min(a[3] - a[1], b[3] - b[1])
    middle_a, middle_b = (a[1] + a[3]) / 2, (b[1] + b[3]) / 2
    shared = min(a[3], b[3]) - max(a[1], b[1])
    across = min(a[2], b[2]) - max(a[0], b[0])
    return b[1] <= middle_a <= b[3] and a[1] <= middle_b <= a[3] and shared >= ROW_SHARE * thin and across <= 0.5 * thin


def _row_by_row(boxes: Sequence[Box], indices: list[int], rtl: bool) -> list[int]:
    """Items no cut separates, by top edge; an item side by side with one of the row before it
    joins that row, and a row reads left to right (right to left)."""
    rows: list[list[int]] = []
    for i in sorted(indices, key=lambda i: (boxes[i][1], -boxes[i][0] if rtl else boxes[i][0])):
        if rows and any(_side_by_side(boxes[i], boxes[j]) for j in rows[-1]):
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda i: -boxes[i][2] if rtl else boxes[i][0])]


COLUMN_LINES = 3  # items on each side of a cut that a few items reach across
REACH = 0.5  # line heights a column may reach into its gutter (handwriting written into a spread's fold)
ACROSS = 0.05  # share of the group's items (at least one) that may reach across it further
PROSE = 5.0  # median item length, in median item heights, on each side: lines of text, not a table's cells
DENSE = 0.5  # share of a side's height its lines cover: a page of text, not headings set out beside one


def _covered(spans: np.ndarray) -> float:
    """The share of the height from the first span's top to the last's bottom that the spans cover."""
    spans = spans[np.argsort(spans[:, 0])]
    covered, reached = 0.0, -np.inf
    for top, bottom in spans:
        covered += max(0.0, bottom - max(top, reached))
        reached = max(reached, bottom)
    return covered / max(spans[:, 1].max() - spans[:, 0].min(), 1e-9)


def _middle(box: Box) -> float:
    return (box[0] + box[2]) / 2


def _cut_reached_across(boxes: Sequence[Box], indices: list[int]) -> float | None:
    """Two columns that no white gap quite separates: the two pages of a spread written into
    the fold, whose lines reach a little past it, or one of whose lines the line finder joined
    across it. A cut where at least ``COLUMN_LINES`` items lie on each side, reaching over it
    by no more than ``REACH`` line heights, and at most ``ACROSS`` of them (at least one) reach
    further, and each side's items are the lines of a page of text (their median length at
    least ``PROSE`` line heights, covering at least ``DENSE`` of the side's height). Each item
    lies on the side its middle lies on. The cut's x, or None where no such cut exists: the
    lines of one column (a wide space or a few short lines set right cut nothing), a table's
    cells (read row by row, as before), headings or notes set out in a margin beside the text
    (each read where it stands)."""
    if len(indices) < 2 * COLUMN_LINES:
        return None
    b = np.array([boxes[i] for i in indices], dtype=np.float64)
    middles = (b[:, 0] + b[:, 2]) / 2
    height = float(np.median(b[:, 3] - b[:, 1]))
    reach = REACH * height
    lengths = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])  # a line up the margin too
    cuts = np.unique(np.concatenate([b[:, 0], b[:, 2]]))[:, None]  # at an item's start or end
    on_left = middles[None, :] < cuts
    across = np.where(on_left, b[None, :, 2] > cuts + reach, b[None, :, 0] < cuts - reach).sum(axis=1)
    lefts = on_left.sum(axis=1)
    usable = (np.minimum(lefts, len(indices) - lefts) >= COLUMN_LINES) & (across <= max(1, int(ACROSS * len(indices))))
    judged: dict[bytes, bool] = {}  # many cuts part the items alike
    for k in np.flatnonzero(usable):
        key = on_left[k].tobytes()
        if key not in judged:
            judged[key] = all(
                np.median(lengths[side]) >= PROSE * height and _covered(b[side][:, [1, 3]]) >= DENSE
                for side in (on_left[k], ~on_left[k])
            )
        usable[k] = judged[key]
    if not usable.any():
        return None
    return float(cuts[np.flatnonzero(usable)[np.argmin(across[usable])], 0])


def _split_at(boxes: Sequence[Box], indices: list[int], cut: float, rtl: bool) -> list[list[int]]:
    """The items left and right of ``cut`` by their middles, in reading order of the sides."""
    sides = [[i for i in indices if _middle(boxes[i]) < cut], [i for i in indices if _middle(boxes[i]) >= cut]]
    return sides[::-1] if rtl else sides


def xy_cut_order(boxes: Sequence[Box], rtl: bool = False) -> list[int]:
    """Indices of ``boxes`` in reading order."""

    def order(indices: list[int]) -> list[int]:
        out: list[int] = []
        rest = list(indices)
        while len(rest) > 1:
            # Columns first: a gutter running through the whole group means each column is read
            # to its end (even when its paragraphs leave white bands that would allow a
            # horizontal cut).
            columns = _gaps([(boxes[i][0], boxes[i][2], i) for i in rest])
            if len(columns) > 1:
                if rtl:
                    columns.reverse()
                return out + [i for column in columns for i in order(column)]
            rows = _gaps([(boxes[i][1], boxes[i][3], i) for i in rest])
            if len(rows) == 1:
                if (cut := _cut_reached_across(boxes, rest)) is not None:
                    return out + [i for side in _split_at(boxes, rest, cut, rtl) for i in order(side)]
                return out + _row_by_row(boxes, rest, rtl)
            # Cut off the top band only: below it, columns may separate again (two columns under
            # a heading are each read to their end, not row by row).
            out += order(rows[0])
            rest = [i for row in rows[1:] for i in row]
        return out + rest

    return order(list(range(len(boxes))))


def order_regions(regions, rtl: bool = False):
    """The regions (anything with a ``polygon``) sorted into reading order. Where their
    ``lines`` (with polygons) make up two columns only a little reached across (a spread written
    into its fold: ``_cut_reached_across``), each side's regions are read to their end before the
    other's; a region goes with the side its middle lies on."""
    boxes = [bbox(region.polygon) for region in regions]
    lines = [bbox(line.polygon) for region in regions for line in getattr(region, "lines", [])]
    cut = _cut_reached_across(lines, list(range(len(lines))))
    if cut is None:
        return [regions[i] for i in xy_cut_order(boxes, rtl)]
    ordered = []
    for side in _split_at(boxes, list(range(len(regions))), cut, rtl):
        ordered += [side[j] for j in xy_cut_order([boxes[k] for k in side], rtl)]
    return [regions[k] for k in ordered]

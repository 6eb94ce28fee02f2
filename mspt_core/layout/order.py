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
                return out + _row_by_row(boxes, rest, rtl)
            # Cut off the top band only: below it, columns may separate again (two columns under
            # a heading are each read to their end, not row by row).
            out += order(rows[0])
            rest = [i for row in rows[1:] for i in row]
        return out + rest

    return order(list(range(len(boxes))))


def order_regions(regions, rtl: bool = False):
    """The regions (anything with a ``polygon``) sorted into reading order."""
    boxes = [bbox(region.polygon) for region in regions]
    return [regions[i] for i in xy_cut_order(boxes, rtl)]

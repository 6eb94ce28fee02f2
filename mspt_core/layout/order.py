"""Reading order of regions by recursive XY-cut on their boxes.

A vertical gap through the whole group splits it into columns (left to right, or right to left
for right-to-left scripts); otherwise a horizontal band of white space splits it into top and
bottom (top first). A heading spanning two columns blocks the vertical cut, so it is read before
both columns, and each column is read to its end before the next. Where neither cut exists (the
lines of one block, whose boxes overlap through their ascenders and descenders; the two pages of
a spread whose blocks overlap at the fold), the group is split into two pages where its lines
are those of a spread written into its fold, which no white gap quite parts (``_fold``), each
read to its end; else items are read by top edge, except that items side by side on one row
(``_side_by_side``: a line the finder broke at a wide space, a spread's two pages) are read left
to right (right to left), whichever of them reaches higher.
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


COLUMN_LINES = 3  # lines on each side of a fold that a few lines reach across
REACH = 0.5  # line heights a page's lines may reach over the fold (handwriting written into it)
ACROSS = 0.05  # share of the lines (at least one) that may reach across it further: joined across it
PROSE = 5.0  # median line length, in line heights, on each side: lines of text, not a table's short cells
DENSE = 0.5  # share of a side's height its lines cover: a page of text, not headings set out beside one


def _covered(spans: list[tuple[float, float, int]]) -> float:
    """The share of the height from the first span's top to the last's bottom that the spans cover."""
    groups = _gaps(spans)
    tops = {i: top for top, _, i in spans}
    bottoms = {i: bottom for _, bottom, i in spans}
    covered = sum(max(bottoms[i] for i in g) - min(tops[i] for i in g) for g in groups)
    return covered / max(max(bottoms.values()) - min(tops.values()), 1e-9)


def _fold(lines: Sequence[Box]) -> tuple[float, np.ndarray] | None:
    """A spread written into its fold, which no white gap quite parts: its pages' lines reach a
    little past the fold, or the line finder joined one of them across it. A cut where at least
    ``COLUMN_LINES`` lines lie on each side (by their middles), reaching over it by no more than
    ``REACH`` line heights, and at most ``ACROSS`` of them (at least one) reach further, and each
    side holds the lines of a page of text (their median length at least ``PROSE`` line heights,
    covering at least ``DENSE`` of the side's height). Of the cuts with fewest lines across, the
    one that parts the lines most evenly. The cut's x and, per line, whether it lies left of it;
    None where no such cut exists: the lines of one column (a wide space or a few short lines
    set right cut nothing), a table of short cells (read row by row), headings or notes set out
    in a margin beside the text (each read where it stands)."""
    if len(lines) < 2 * COLUMN_LINES:
        return None
    b = np.array(lines, dtype=np.float64)
    middles = (b[:, 0] + b[:, 2]) / 2
    height = max(float(np.median(b[:, 3] - b[:, 1])), 1.0)
    reach = REACH * height
    lengths = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])  # a line up the margin too
    cuts = np.unique(np.concatenate([b[:, 0], b[:, 2]]))[:, None]  # at a line's start or end
    on_left = middles[None, :] < cuts
    across = np.where(on_left, b[None, :, 2] > cuts + reach, b[None, :, 0] < cuts - reach).sum(axis=1)
    fewer = np.minimum(on_left.sum(axis=1), len(lines) - on_left.sum(axis=1))
    usable = (fewer >= COLUMN_LINES) & (across <= max(1, int(ACROSS * len(lines))))
    judged: dict[bytes, bool] = {}  # many cuts part the lines alike
    for k in np.flatnonzero(usable):
        key = on_left[k].tobytes()
        if key not in judged:
            judged[key] = all(
                np.median(lengths[side]) >= PROSE * height
                and _covered([(b[j, 1], b[j, 3], int(j)) for j in np.flatnonzero(side)]) >= DENSE
                for side in (on_left[k], ~on_left[k])
            )
        usable[k] = judged[key]
    if not usable.any():
        return None
    candidates = np.flatnonzero(usable)
    best = candidates[np.lexsort((-fewer[candidates], across[candidates]))[0]]
    return float(cuts[best, 0]), on_left[best]


def xy_cut_order(boxes: Sequence[Box], rtl: bool = False, lines: Sequence[Sequence[Box]] | None = None) -> list[int]:
    """Indices of ``boxes`` in reading order. ``lines``: the boxes of the lines each box holds
    (where the boxes are a page's blocks), which tell a spread written into its fold (``_fold``);
    without them, the boxes are taken as lines."""

    def pages(indices: list[int]) -> list[list[int]] | None:
        """The group split at a spread's fold, in reading order of its pages; None if it is none."""
        held = [(i, line) for i in indices for line in lines[i]] if lines is not None else None
        fold = _fold([line for _, line in held] if held is not None else [boxes[i] for i in indices])
        if fold is None:
            return None
        cut, on_left = fold
        if held is None:
            left = {i for i, side in zip(indices, on_left, strict=True) if side}
        else:  # a block goes with the side most of its lines lie on
            votes = dict.fromkeys(indices, 0)
            for (i, _), side in zip(held, on_left, strict=True):
                votes[i] += 1 if side else -1
            left = {i for i in indices if votes[i] > 0 or (votes[i] == 0 and _middle(boxes[i]) < cut)}
        split = [[i for i in indices if i in left], [i for i in indices if i not in left]]
        if not all(split):
            return None
        return split[::-1] if rtl else split

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
                if spread := pages(rest):
                    return out + [i for page in spread for i in order(page)]
                return out + _row_by_row(boxes, rest, rtl)
            # Cut off the top band only: below it, columns may separate again (two columns under
            # a heading are each read to their end, not row by row).
            out += order(rows[0])
            rest = [i for row in rows[1:] for i in row]
        return out + rest

    return order(list(range(len(boxes))))


def _middle(box: Box) -> float:
    return (box[0] + box[2]) / 2


def order_regions(regions, rtl: bool = False):
    """The regions (anything with a ``polygon``; their ``lines``' polygons, where they have
    them, tell a spread written into its fold) sorted into reading order."""
    boxes = [bbox(region.polygon) for region in regions]
    lines = [[bbox(line.polygon) for line in getattr(region, "lines", []) if len(line.polygon)] for region in regions]
    return [regions[i] for i in xy_cut_order(boxes, rtl, lines)]

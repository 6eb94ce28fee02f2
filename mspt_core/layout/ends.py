"""Line ends moved out to the ink the line finder's maps missed.

The finder's maps are at half its input's resolution or less, where a thin quotation mark, a
full stop or a hyphen at the end of a line is too faint to be text; a line found there often
stops just before them, and what the crop cuts off the reader never sees (on the bundled sample
page the default model reads the ground-truth lines at 0.39 % CER and our own lines at 1.12 %
without this step, most of the difference quotation marks cut off; 0.84 % with it). At the
page's working resolution, ink components just beyond an end of a line, within its band and
nearer than a word gap, are taken into the line, one after another, and its polygon and
baseline are lengthened to hold them, by at most one line height (a row of ornaments or a
border would otherwise be followed across the page). On the printed val pages it is neutral
(mean page CER 6.31 -> 6.32 %; fondue, with dialogue, 0.56 -> 0.48 %; the other sets within 0.2
points either way).

A small mark the outline cuts through anywhere along the line (a quotation mark or an
apostrophe raised above the letters' band) is taken in whole, so the crop does not keep only its
foot: on the sample page 0.39 -> 0.28 % page CER, on the printed val pages 5.31 -> 5.29 %.
"""

from __future__ import annotations

import cv2
import numpy as np

GAP = 0.5  # x the line's height: ink farther out is the next word or column, not this line's end
BAND_SLACK = 0.25  # x height above and below the line's band a mark may reach (quotes sit high)
MAX_MARK_HEIGHT = 1.5  # x height: taller ink is a rule, a drop capital or a picture
MAX_REACH = 1.0  # x height: how far an end may move out in all (a quote and a stop need far less)
MAX_STEPS = 4  # components taken in at one end at most
MAX_CUT_MARK = 0.6  # x the line's height: a mark its outline cuts through is at most this tall and wide
# Paper left beyond the outermost ink at each end, px: the outline runs through the centres of
# the ink's outermost pixels. Wider margins (0.1 and 0.3 x the height) read worse on the printed
# val pages (mean page CER 6.37 and 6.40 % against 6.29 %; benchmarks/RESULTS.md).
MARGIN = 1


Lines = list[tuple[np.ndarray, np.ndarray]]  # (polygon, baseline) point arrays


def extend_line_ends(lines: Lines, ink: np.ndarray) -> Lines:
    """``lines`` in ``ink``'s pixels, each lengthened at both ends over the ink components
    (``ink``: bool, True for ink) beyond it that belong to no other line, plus a margin."""
    if not lines:
        return lines
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    owner = np.zeros(ink.shape, np.int32)
    for number, (polygon, _) in enumerate(lines, 1):
        cv2.fillPoly(owner, [np.round(polygon).astype(np.int32)], number)
    claimed: dict[int, int] = {}  # component -> the line that took it in (two facing ends share none)
    return [
        _extended(n, polygon, baseline, labels, stats, owner, claimed) for n, (polygon, baseline) in enumerate(lines, 1)
    ]


def _extended(number, polygon, baseline, labels, stats, owner, claimed) -> tuple[np.ndarray, np.ndarray]:
    page_h, page_w = owner.shape
    x0, y0 = np.floor(polygon.min(axis=0)).astype(int)
    x1, y1 = np.ceil(polygon.max(axis=0)).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, page_w - 1), min(y1, page_h - 1)
    if x1 <= x0 or y1 <= y0:
        return polygon, baseline
    # The line's own polygon (``owner`` gives an overlap to whichever line was drawn last).
    own = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(own, [np.round(polygon - (x0, y0)).astype(np.int32)], 1)
    mask = own.astype(bool)
    columns = np.flatnonzero(mask.any(axis=0))
    if len(columns) == 0:
        return polygon, baseline
    height = float(np.median(mask.sum(axis=0)[columns]))
    added: list[tuple[int, tuple[int, int, int, int], bool]] = []  # (side, box x0 y0 x1 y1, a mark?)
    for side in (-1, 1):
        end = columns[0] if side < 0 else columns[-1]
        reach = max(1, int(round(height)))
        near = mask[:, end : end + reach] if side < 0 else mask[:, max(0, end - reach + 1) : end + 1]
        rows = np.flatnonzero(near.any(axis=1))
        top, bottom = y0 + rows[0], y0 + rows[-1]
        edge = x0 + end
        marks = _marks_beyond(number, edge, side, top, bottom, labels, stats, owner, claimed)
        outer = (min if side < 0 else max)([edge] + [b[0] if side < 0 else b[2] for b in marks])
        lo, hi = (outer - MARGIN, outer - 1) if side < 0 else (outer + 1, outer + MARGIN)
        lo, hi = max(lo, 0), min(hi, page_w - 1)
        added += [(side, box, True) for box in marks]
        if lo <= hi:
            added.append((side, (lo, top, hi, bottom), False))  # the margin of paper
    added += [(0, box, True) for box in _marks_cut(number, (x0, y0), mask, height, labels, stats, owner, claimed)]
    if not added:
        return polygon, baseline
    return _lengthened(polygon, baseline, mask, (x0, y0), added)


def _marks_beyond(number, edge, side, top, bottom, labels, stats, owner, claimed) -> list[tuple[int, int, int, int]]:
    """Boxes of the ink components found one after another beyond ``edge`` on ``side`` (-1 left,
    1 right) in the band ``top``..``bottom``."""
    height = bottom - top + 1
    slack = BAND_SLACK * height
    found: list[tuple[int, int, int, int]] = []
    taken: set[int] = set()
    limit = edge + side * MAX_REACH * height  # a row of ornaments or a border must not be followed
    for _ in range(MAX_STEPS):
        gap = int(round(GAP * height))
        lo, hi = (edge - gap, edge) if side < 0 else (edge, edge + gap)
        lo, hi = max(lo, 0), min(hi, owner.shape[1] - 1)
        band_lo, band_hi = max(0, int(top - slack)), min(owner.shape[0] - 1, int(bottom + slack))
        window = labels[band_lo : band_hi + 1, lo : hi + 1]
        best = None
        for label in np.unique(window[window > 0]).tolist():
            if label in taken or claimed.get(label, number) != number:
                continue
            cx, cy, cw, ch = (int(v) for v in stats[label, :4])
            outer = cx if side < 0 else cx + cw - 1
            if (outer >= edge) if side < 0 else (outer <= edge):
                continue  # does not reach beyond the end
            if (outer < limit) if side < 0 else (outer > limit):
                continue  # would take the end too far out
            if ch > MAX_MARK_HEIGHT * height or cy < top - slack or cy + ch - 1 > bottom + slack:
                continue
            pixels = labels[cy : cy + ch, cx : cx + cw] == label
            owners = owner[cy : cy + ch, cx : cx + cw][pixels]
            if np.count_nonzero((owners != 0) & (owners != number)) * 2 > len(owners):
                continue  # mostly another line's ink
            inner = cx + cw - 1 if side < 0 else cx
            if best is None or abs(inner - edge) < abs(best[0] - edge):
                best = (inner, label, (cx, cy, cx + cw - 1, cy + ch - 1))
        if best is None:
            break
        taken.add(best[1])
        claimed[best[1]] = number
        box = best[2]
        found.append(box)
        edge = box[0] if side < 0 else box[2]
    return found


def _marks_cut(number, origin, mask, height, labels, stats, owner, claimed) -> list[tuple[int, int, int, int]]:
    """Boxes of the small ink components (a quotation mark, an apostrophe, an accent) that the
    line's outline cuts through: mostly inside it, the rest on bare paper, owned by no other line.
    The finder's outline follows the letters' band at a reduced resolution and can pass through a
    mark raised above it, anywhere along the line; the crop would keep only the mark's foot."""
    x0, y0 = origin
    region = labels[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
    inside = np.bincount(region[mask], minlength=len(stats))
    found = []
    for label in np.flatnonzero(inside).tolist():
        if label == 0 or claimed.get(label, number) != number:
            continue
        cx, cy, cw, ch, area = (int(v) for v in stats[label])
        if inside[label] == area or inside[label] * 2 < area:
            continue  # wholly inside already, or mostly outside: another line's or not a mark
        if ch > MAX_CUT_MARK * height or cw > MAX_CUT_MARK * height:
            continue  # a letter or a rule: what its outline leaves out is the finder's to judge
        # Where it sticks out of the outline (inside, ``owner`` may name a line drawn later that
        # overlaps this one), it must lie in no other line.
        pixels = labels[cy : cy + ch, cx : cx + cw] == label
        ours = np.zeros_like(pixels)
        mx0, my0 = max(cx - x0, 0), max(cy - y0, 0)
        mx1, my1 = min(cx + cw - x0, mask.shape[1]), min(cy + ch - y0, mask.shape[0])
        if mx1 > mx0 and my1 > my0:
            ours[my0 + y0 - cy : my1 + y0 - cy, mx0 + x0 - cx : mx1 + x0 - cx] = mask[my0:my1, mx0:mx1]
        owners = owner[cy : cy + ch, cx : cx + cw][pixels & ~ours]
        if np.count_nonzero((owners != 0) & (owners != number)) > 0:
            continue  # part of it lies in another line
        claimed[label] = number
        found.append((cx, cy, cx + cw - 1, cy + ch - 1))
    return found


def _lengthened(polygon, baseline, mask, origin, added) -> tuple[np.ndarray, np.ndarray]:
    """The line's polygon grown over the ``added`` (side, box, is a mark)s and the band between
    each and the end of the line it lies beyond (for a mark, reaching its rows too); its baseline
    carried level to the new ends."""
    boxes = [box for _, box, _ in added]
    x0 = min([origin[0]] + [b[0] for b in boxes])
    y0 = min([origin[1]] + [b[1] for b in boxes])
    x1 = max([origin[0] + mask.shape[1] - 1] + [b[2] for b in boxes])
    y1 = max([origin[1] + mask.shape[0] - 1] + [b[3] for b in boxes])
    grown = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    ox, oy = origin[0] - x0, origin[1] - y0
    grown[oy : oy + mask.shape[0], ox : ox + mask.shape[1]] = mask
    columns = np.flatnonzero(mask.any(axis=0))
    for side, (bx0, by0, bx1, by1), is_mark in added:
        if side == 0:  # a mark the outline cuts through: it overlaps the line already
            grown[by0 - y0 : by1 - y0 + 1, bx0 - x0 : bx1 - x0 + 1] = 1
            continue
        near = columns[0] if side < 0 else columns[-1]
        rows = np.flatnonzero(mask[:, near])
        top, bottom = oy + rows[0], oy + rows[-1]
        if is_mark:
            # Down (or up) to the mark's own rows: a quote above the band of the line's last column
            # would otherwise be an island, and only the largest piece of the outline is kept.
            top, bottom = min(top, by0 - y0), max(bottom, by1 - y0)
        lo, hi = (bx0 - x0, ox + near) if side < 0 else (ox + near, bx1 - x0)
        grown[top : bottom + 1, lo : hi + 1] = 1
        grown[by0 - y0 : by1 - y0 + 1, bx0 - x0 : bx1 - x0 + 1] = 1
    contours, _ = cv2.findContours(grown, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    outline = cv2.approxPolyDP(contour, 1.0, True)[:, 0, :].astype(np.float64) + (x0, y0)
    if len(outline) < 3:
        return polygon, baseline
    left, right = float(outline[:, 0].min()), float(outline[:, 0].max())
    points = baseline.tolist()
    if left < points[0][0]:
        points.insert(0, [left, points[0][1]])
    if right > points[-1][0]:
        points.append([right, points[-1][1]])
    return outline, np.asarray(points, dtype=np.float64)

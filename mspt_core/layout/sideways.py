"""Lines written sideways: up a letter's margin, across an address panel, a stamp turned on its side.

The line finder was trained on text that runs across the page. Text turned a quarter comes out
of it as a column of small pieces, or not at all. So after the upright pass, the ink it leaves
unexplained is looked at: where that ink stands in tall columns (a turned line is long along
the page's height and one line thick), that part of the page is turned a quarter and searched
again. Which way the text was turned is told from its letters, the way one tells a page held
upside down: Latin letters put far more ink above their baseline (ascenders, capitals) than
below it (descenders). Lines found there replace the upright pieces they hold. Their baselines
run in their reading direction, down or up the page, so ``crop.place_line`` turns them upright
to read them.

Searching costs one more pass of the finder over the turned area only, and only on pages
where such columns of unexplained ink exist.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from mspt_core.document import Line
from mspt_core.layout.clean import odd, sauvola
from mspt_core.layout.turn import DOWNWARD, UPWARD, unturn_points

Finder = Callable[[np.ndarray], list[Line]]

GRID = 10.0  # px: the line height the ink is looked at in
LONG = 3.0  # a column of unexplained ink this many line heights tall is searched
SOLID = 2.0  # an upright line this many times as wide as tall explains its ink; shorter ones may be pieces
PIECE_INSIDE = 0.6  # an upright line with this share of its box inside a sideways line is a piece of it
THIN = 0.4  # a sideways "line" thinner than this share of the page's line height is specks and strokes


def _line_height(lines: list[Line]) -> float | None:
    heights = [y1 - y0 for x0, y0, x1, y1 in (ln.bbox() for ln in lines) if y1 > y0]
    return float(np.median(heights)) if heights else None


def _solid(line: Line) -> bool:
    x0, y0, x1, y1 = line.bbox()
    return x1 - x0 >= SOLID * (y1 - y0)


def sideways_areas(grey: np.ndarray, upright: list[Line], height: float) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1, page pixels) around the columns of ink that the upright lines do not
    explain and that are at least ``LONG`` line heights tall, ``height`` being the page's line height."""
    f = min(1.0, GRID / max(height, 1.0))
    size = (max(1, round(grey.shape[1] * f)), max(1, round(grey.shape[0] * f)))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    ink = sauvola(small)
    solid = np.zeros(ink.shape, np.uint8)
    for line in upright:
        if _solid(line):
            cv2.fillPoly(solid, [np.round(np.asarray(line.polygon) * f).astype(np.int32)], 1)
    line_px = height * f
    covered = cv2.dilate(solid, np.ones((3, 3), np.uint8), iterations=max(1, round(line_px / 4))) > 0
    rest = (ink & ~covered).astype(np.uint8)
    # Letters one above the other join into a column; letters side by side stay apart.
    column = cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((odd(line_px), 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(column, connectivity=8)
    areas = []
    for x, y, w, h, pixels in stats[1:count]:
        if h >= LONG * line_px and h >= 1.5 * w and pixels >= LONG * line_px:
            pad = line_px
            areas.append(
                (
                    max(0, int((x - pad) / f)),
                    max(0, int((y - pad) / f)),
                    min(grey.shape[1], int((x + w + pad) / f) + 1),
                    min(grey.shape[0], int((y + h + pad) / f) + 1),
                )
            )
    return _merged(areas)


def _merged(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Overlapping boxes joined, so each part of the page is searched once."""
    boxes = list(boxes)
    joined = True
    while joined:
        joined = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    boxes[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del boxes[j]
                    joined = True
                    break
            if joined:
                break
    return boxes


def upside_down_share(grey: np.ndarray, lines: list[Line]) -> float:
    """Of the ink of ``lines`` (found on ``grey`` as if upright) outside each line's body, the
    share below the body: about a third for Latin text the right way up, more than half for text
    upside down. The body is the band of rows where the line's ink is densest."""
    above = below = 0.0
    for line in lines:
        x0, y0, x1, y1 = (int(round(v)) for v in line.bbox())
        box = grey[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1]
        if box.size == 0 or box.shape[0] < 4:
            continue
        profile = sauvola(box, window=odd(box.shape[0])).sum(axis=1).astype(np.float64)
        if profile.max() <= 0:
            continue
        body = np.flatnonzero(profile >= 0.5 * profile.max())
        above += profile[: body[0]].sum()
        below += profile[body[-1] + 1 :].sum()
    return below / (above + below) if above + below else 0.0


def sideways_lines(grey: np.ndarray, upright: list[Line], find: Finder) -> tuple[list[list[Line]], list[Line]]:
    """Lines written sideways on the page ``grey``, one list per part of the page searched, and
    the upright lines that are pieces of them.

    ``upright``: the lines the upright pass found (page coordinates); ``find``: the line finder
    on an upright image, returning lines in that image's pixels. The sideways lines come with
    baselines in their reading direction (down or up the page) and no id or kind."""
    height = _line_height([ln for ln in upright if _solid(ln)]) or _line_height(upright)
    if height is None:
        return [], []
    groups: list[list[Line]] = []
    for x0, y0, x1, y1 in sideways_areas(grey, upright, height):
        area = np.ascontiguousarray(grey[y0:y1, x0:x1])
        lines, turn = [], DOWNWARD
        for turn in (DOWNWARD, UPWARD):
            turned = np.ascontiguousarray(np.rot90(area, turn))
            lines = [ln for ln in find(turned) if _solid(ln) and _thickness(ln) >= THIN * height]
            if not lines or upside_down_share(turned, lines) < 0.5:
                break
        group = []
        for line in lines:
            polygon = [(x + x0, y + y0) for x, y in unturn_points(line.polygon, turn, area.shape)]
            baseline = [(x + x0, y + y0) for x, y in unturn_points(line.baseline, turn, area.shape)]
            page_line = Line(id="", polygon=polygon, baseline=baseline)
            if not _crosses_upright(page_line, upright):
                group.append(page_line)
        if group:
            groups.append(group)
    return groups, _pieces(upright, [line for group in groups for line in group], grey.shape)


def _pieces(upright: list[Line], sideways: list[Line], shape: tuple[int, int]) -> list[Line]:
    """The upright lines lying mostly (``PIECE_INSIDE`` of their box) on sideways lines: the
    upright pass's pieces of them, one letter or a stretch across several of them."""
    if not sideways:
        return []
    f = 0.25  # a coarse raster is enough to tell where the sideways lines lie
    mask = np.zeros((int(shape[0] * f) + 1, int(shape[1] * f) + 1), np.uint8)
    for line in sideways:
        cv2.fillPoly(mask, [np.round(np.asarray(line.polygon) * f).astype(np.int32)], 1)
    pieces = []
    for line in upright:
        x0, y0, x1, y1 = (int(round(v * f)) for v in line.bbox())
        box = mask[y0 : y1 + 1, x0 : x1 + 1]
        if box.size and box.mean() >= PIECE_INSIDE:
            pieces.append(line)
    return pieces


def _thickness(line: Line) -> float:
    """An upright line's height."""
    _, y0, _, y1 = line.bbox()
    return y1 - y0


def _inside(line: Line, outer: Line) -> float:
    """Share of ``line``'s box inside ``outer``'s box."""
    a, b = line.bbox(), outer.bbox()
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return w * h / area if area > 0 else 0.0


def _crosses_upright(line: Line, upright: list[Line]) -> bool:
    """Whether a sideways line runs across a solid upright line (it is then the finder reading
    a column of ordinary text, not a turned line)."""
    return any(_solid(u) and 0 < _inside(u, line) < PIECE_INSIDE and _inside(line, u) > 0.1 for u in upright)

"""Lines written sideways: up a letter's margin, across an address panel, a stamp turned on its side.

The line finder was trained on text that runs across the page. Text turned a quarter comes out
of it as a column of small pieces, or not at all. So after the upright pass, the ink it leaves
unexplained is looked at: where that ink stands in tall columns (a turned line is long along
the page's height and one line thick), that part of the page is turned a quarter and searched
again. Which way the text was turned is told from its letters, the way one tells a page held
upside down: Latin letters put far more ink above their baseline (ascenders, capitals) than
below it (descenders). The part is turned down the page first, and up it only where its lines
do not plainly read down; capitals and figures, which do not tell, are read down the page.
Lines found there replace the upright pieces they hold. Their baselines run in their reading
direction, down or up the page, so ``crop.place_line`` turns them upright to read them.

A page scanned sideways (most of its ink unexplained and hardly an upright line) is searched
whole, and read turned when its turned lines explain more of its ink than its upright lines
(at least twice as wide as high) do. Searching costs one more pass of the finder over those
parts only (two where the letters do not plainly read down the page), and only on pages where
such columns of unexplained ink exist.
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
THIN = 0.6  # a sideways "line" thinner than this share of the page's line height is specks and strokes
WORDS = 4.0  # a part of the page holds sideways text if one of its lines is this many times as long as thick
UPRIGHT_SHARE = 0.4  # lines with less than this share of their outer ink below the body read the right way up
CLEAR = 0.1  # how much less of its ink below the body text must show to be taken as turned up the page
OVER_UPRIGHT = 0.3  # a sideways line this much on upright lines is ordinary text seen turned
UNEXPLAINED = 0.5  # when upright lines explain less than this share of the ink, the whole page is searched
LARGEST_AREA = 0.4  # share of the page a searched column may cover
FEW_UPRIGHT = 6  # ... if it has fewer upright lines than this (a faint or bleeding hand leaves much ink unexplained)


def _line_height(lines: list[Line]) -> float | None:
    heights = [y1 - y0 for x0, y0, x1, y1 in (ln.bbox() for ln in lines) if y1 > y0]
    return float(np.median(heights)) if heights else None


def _solid(line: Line) -> bool:
    x0, y0, x1, y1 = line.bbox()
    return x1 - x0 >= SOLID * (y1 - y0)


def sideways_areas(
    grey: np.ndarray, upright: list[Line], height: float
) -> tuple[list[tuple[int, int, int, int]], bool]:
    """Boxes (x0, y0, x1, y1, page pixels) around the columns of ink that the upright lines do not
    explain and that are at least ``LONG`` line heights tall, ``height`` being the page's line
    height; and whether the box is the whole page, as where most of its ink is unexplained (a
    page scanned sideways: its turned lines side by side make one block as wide as it is tall,
    and the upright pass's "lines" there run across them)."""
    ink, f = _grid_ink(grey, height)
    solid = _filled([line for line in upright if _solid(line)], ink.shape, f)
    line_px = height * f
    covered = cv2.dilate(solid, np.ones((3, 3), np.uint8), iterations=max(1, round(line_px / 4))) > 0
    rest = (ink & ~covered).astype(np.uint8)
    if rest.sum() > UNEXPLAINED * ink.sum() and sum(map(_solid, upright)) < FEW_UPRIGHT:
        return [(0, 0, grey.shape[1], grey.shape[0])], True
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
    # A "column" over most of the page is upright text the finder left loose (a faint hand,
    # bleed-through), not turned text; with many upright lines around, it is not searched.
    page = grey.shape[0] * grey.shape[1]
    return [a for a in _merged(areas) if (a[2] - a[0]) * (a[3] - a[1]) <= LARGEST_AREA * page], False


def _grid_ink(grey: np.ndarray, height: float) -> tuple[np.ndarray, float]:
    """The page's ink on the grid of ``GRID`` pixels per line height, and the grid's scale."""
    f = min(1.0, GRID / max(height, 1.0))
    size = (max(1, round(grey.shape[1] * f)), max(1, round(grey.shape[0] * f)))
    return sauvola(cv2.resize(grey, size, interpolation=cv2.INTER_AREA)), f


def _filled(lines: list[Line], shape: tuple[int, int], scale: float) -> np.ndarray:
    """A ``shape`` mask (1 inside) of the lines' polygons scaled by ``scale``."""
    mask = np.zeros(shape, np.uint8)
    for line in lines:
        cv2.fillPoly(mask, [np.round(np.asarray(line.polygon) * scale).astype(np.int32)], 1)
    return mask


def _explained(ink: np.ndarray, scale: float, lines: list[Line]) -> float:
    """Share of the ink (on a grid ``scale`` times the page) inside ``lines``."""
    return float((ink & (_filled(lines, ink.shape, scale) > 0)).sum() / max(ink.sum(), 1))


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
    groups: list[list[Line]] = []
    if height is None:  # no upright line at all: the page may be all turned
        areas, whole_page = [(0, 0, grey.shape[1], grey.shape[0])], True
    else:
        areas, whole_page = sideways_areas(grey, upright, height)
    for x0, y0, x1, y1 in areas:
        area = np.ascontiguousarray(grey[y0:y1, x0:x1])
        # Down the page first; up it only where the lines found do not plainly read down.
        down_share, lines = _turned_lines(area, DOWNWARD, find, height, whole_page)
        turn = DOWNWARD
        if not lines:  # the finder finds turned text in either turn alike, so none is sought up the page
            continue
        if down_share >= UPRIGHT_SHARE:
            up_share, up_lines = _turned_lines(area, UPWARD, find, height, whole_page)
            # Capitals and figures (a stamped number) have no ascenders or descenders to tell
            # by: unless the letters say up, the text runs down, as English spines and most stamps do.
            if up_lines and up_share < down_share - CLEAR:
                turn, lines = UPWARD, up_lines
        group = []
        for line in lines:
            polygon = [(x + x0, y + y0) for x, y in unturn_points(line.polygon, turn, area.shape)]
            baseline = [(x + x0, y + y0) for x, y in unturn_points(line.baseline, turn, area.shape)]
            group.append(Line(id="", polygon=polygon, baseline=baseline))
        if whole_page:  # the page read turned, if that explains more of its ink than upright
            # lines do (those at least twice as wide as high: the finder's blobs over turned
            # text are squat and cover much)
            solid = [u for u in upright if _solid(u)]
            grid = height or float(np.median([_width(ln) for ln in group])) if group else 1.0
            ink, f = _grid_ink(grey, grid)
            if _explained(ink, f, group) <= _explained(ink, f, solid):
                group = []
        else:  # where most of the page is upright, upright lines come first
            group = [ln for ln, over in zip(group, _over_upright(group, upright, grey.shape), strict=True) if not over]
        # Ornaments, a binding's edge and other strokes give short pieces only.
        if any(_height(ln) >= WORDS * _width(ln) for ln in group):
            groups.append(group)
    return groups, _pieces(upright, [line for group in groups for line in group], grey.shape)


def _turned_lines(area: np.ndarray, turn: int, find: Finder, height: float | None, whole_page: bool):
    """The lines the finder finds on ``area`` turned by ``np.rot90(area, turn)`` (in its pixels),
    at least twice as long as thick and ``THIN`` of the line height thick, and their
    ``upside_down_share`` (1.0 without lines)."""
    turned = np.ascontiguousarray(np.rot90(area, turn))
    lines = [ln for ln in find(turned) if _solid(ln)]
    # A page scanned sideways has no upright lines to measure its line height by.
    typical = (_line_height(lines) if whole_page and lines else None) or height or 0.0
    lines = [ln for ln in lines if _height(ln) >= THIN * typical]
    return (upside_down_share(turned, lines) if lines else 1.0), lines


RASTER = 0.25  # a coarse raster is enough to tell where lines lie


def _raster(lines: list[Line], shape: tuple[int, int]) -> np.ndarray:
    """The lines' polygons on the coarse raster of a page of ``shape`` (height, width)."""
    return _filled(lines, (int(shape[0] * RASTER) + 1, int(shape[1] * RASTER) + 1), RASTER)


def _share_on(mask: np.ndarray, line: Line) -> float:
    """Share of ``line``'s polygon on the raster ``mask``, drawn within its own box only (a
    page-sized raster per line would cost a page's worth of pixels for every line)."""
    points = np.round(np.asarray(line.polygon) * RASTER).astype(np.int32)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    window = mask[y0 : y1 + 1, x0 : x1 + 1]
    own = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    cv2.fillPoly(own, [points - (x0, y0)], 1)
    own = own[: window.shape[0], : window.shape[1]]  # as on the raster, cut at its edge
    area = own.sum()
    return float((own & window).sum() / area) if area else 0.0


def _pieces(upright: list[Line], sideways: list[Line], shape: tuple[int, int]) -> list[Line]:
    """The upright lines lying mostly (``PIECE_INSIDE`` of them) on sideways lines: the upright
    pass's pieces of them, one letter or a stretch across several of them."""
    if not sideways:
        return []
    mask = _raster(sideways, shape)
    return [line for line in upright if _share_on(mask, line) >= PIECE_INSIDE]


def _height(line: Line) -> float:
    """A line's extent down the page: an upright line's thickness, a sideways one's length."""
    _, y0, _, y1 = line.bbox()
    return y1 - y0


def _width(line: Line) -> float:
    x0, _, x1, _ = line.bbox()
    return x1 - x0


def _over_upright(lines: list[Line], upright: list[Line], shape: tuple[int, int]) -> list[bool]:
    """For each sideways line, whether upright lines (at least ``SOLID`` times as wide as high)
    cover more than ``OVER_UPRIGHT`` of it: the finder then took a column of ordinary text, the
    ends of lines one under the other, for a turned line."""
    mask = _raster([u for u in upright if _solid(u)], shape)
    return [_share_on(mask, line) > OVER_UPRIGHT for line in lines]

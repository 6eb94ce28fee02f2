"""Found lines far fainter than the page's own writing, left out. The line finder takes for lines
some marks that are not the page's text: writing from the leaf's other side seen through thin
paper (mirrored), a sheet beneath seen through it or beyond its edge, a digitizer's pale grey
mark under the scan ("Digitalisiert von Google"), specks, a page's edge, a gutter's shadow. The
page's own writing, even where it is pale, has strokes nearly black next to them. Each found
line is measured by the grey its darkest 2 % of pixels reach on the page with its paper brought
to white, and a line under ``FAINT_SHARE`` of the page's median line's is left out; a page of
one line keeps it, and a page written all in pale ink keeps every line (it is measured against
itself).

On the train and val pages of all 13 sets in ``../shared/data`` (8,416 found lines matched to a
ground-truth line, 406 matched to none with no ground-truth line under them), a share of 0.3
leaves out 32 of the latter and none of the former; the faintest line the ground truth
transcribes comes to 0.38 (docs/layout.md; benchmarks/RESULTS.md, "Lines far fainter than the
page's writing")."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from mspt_core.document import Point, bbox
from mspt_core.layout.clean import brought_to_white, paper_background

FAINT_SHARE = 0.3  # of the page's median line's darkness
DARKEST_PERCENTILE = 2  # a line's ink: the grey its darkest 2 % of pixels reach


def line_darkness(grey: np.ndarray, background: np.ndarray, polygon: Sequence[Point]) -> float | None:
    """How dark a line's darkest ink is (0 blank paper, 255 black) once the paper is brought to
    white (``background``: ``paper_background(grey)``); None for an outline holding no pixel of
    the page."""
    if len(polygon) < 3:
        return None
    h, w = grey.shape
    x0, y0, x1, y1 = bbox(polygon)
    left, top = max(0, int(x0)), max(0, int(y0))
    right, bottom = min(w, int(np.ceil(x1)) + 1), min(h, int(np.ceil(y1)) + 1)
    if right <= left or bottom <= top:
        return None
    mask = np.zeros((bottom - top, right - left), np.uint8)
    points = np.round(np.asarray(polygon, np.float64) - (left, top)).astype(np.int32)
    cv2.fillPoly(mask, [points], 1)
    part = (slice(top, bottom), slice(left, right))
    inside = brought_to_white(grey[part], background[part])[mask.astype(bool)]
    return 255.0 - float(np.percentile(inside, DARKEST_PERCENTILE)) if inside.size else None


def darkness_shares(grey: np.ndarray, polygons: Sequence[Sequence[Point]]) -> list[float | None]:
    """Each line's darkness (``line_darkness``) as a share of the page's median line's, for the
    ``polygons`` (lines found on the grey page ``grey``). None for a line that cannot be
    measured (no pixel of the page inside; it does not count towards the median), and for every
    line of a page with fewer than two measured lines or no ink at all."""
    background = paper_background(grey)
    darkness = [line_darkness(grey, background, polygon) for polygon in polygons]
    measured = [d for d in darkness if d is not None]
    typical = float(np.median(measured)) if len(measured) >= 2 else 0.0
    return [d / typical if d is not None and typical > 0 else None for d in darkness]


def faint_lines(grey: np.ndarray, polygons: Sequence[Sequence[Point]]) -> list[int]:
    """Indices of the ``polygons`` (lines found on the grey page ``grey``) far fainter than the
    page's writing: under ``FAINT_SHARE`` of its median line's darkness. A line that cannot be
    measured is kept."""
    if len(polygons) < 2:  # one line is its own page's writing, however faint
        return []
    return [i for i, share in enumerate(darkness_shares(grey, polygons)) if share is not None and share < FAINT_SHARE]

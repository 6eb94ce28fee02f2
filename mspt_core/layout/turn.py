"""Lines written sideways or upside down: which turn brings a line upright, and coordinates
across it.

A line's baseline runs in its reading direction (PAGE and ALTO files from eScriptorium and
kraken keep this convention), so a baseline running down the page is text turned a quarter
clockwise (its letters' tops face right), one running up the page is text turned a quarter
anticlockwise. A baseline running leftward is either right-to-left script the right way up or
left-to-right text upside down (a page scanned upside down); the letters tell them apart: they
stand on the left of the reading direction, so upside-down text lies below its baseline.
Turning the page by ``np.rot90(image, k)`` (k quarters anticlockwise) with the
``k`` of ``line_turn`` makes such a line read left to right; ``turn_points`` and
``unturn_points`` carry coordinates into that turned page and back.
"""

from __future__ import annotations

from collections.abc import Sequence

from mspt_core.document import Line, Point

UPRIGHT = 0
DOWNWARD = 1  # text reading top to bottom: the page turned a quarter anticlockwise rights it
UPSIDE_DOWN = 2  # text reading right to left with its letters below the baseline: half a turn
UPWARD = 3  # text reading bottom to top: three quarters anticlockwise (one clockwise)


def line_turn(line: Line) -> int:
    """``np.rot90``'s k that makes the line read left to right: 0 for a line whose baseline
    runs more across than down or up the page (right-to-left script included), 1 for one
    running down, 3 for one running up, 2 for one running leftward with its polygon below it
    (upside down); 0 without a baseline."""
    if len(line.baseline) < 2:
        return UPRIGHT
    (xa, ya), (xb, yb) = line.baseline[0], line.baseline[-1]
    dx, dy = xb - xa, yb - ya
    if abs(dy) > abs(dx):
        return DOWNWARD if dy > 0 else UPWARD
    if dx >= 0 or not line.polygon:
        return UPRIGHT
    # Right to left: upside down when the middle of the line's box lies on the baseline's left
    # (below it).
    x0, y0, x1, y1 = line.bbox()
    below = ((x0 + x1) / 2 - xa) * dy - ((y0 + y1) / 2 - ya) * dx
    return UPSIDE_DOWN if below > 0 else UPRIGHT


def turn_points(points: Sequence[Point], k: int, size: tuple[int, int]) -> list[Point]:
    """Page points as they lie on ``np.rot90(page, k)``; ``size`` is the page's (height, width)."""
    height, width = size
    if k % 4 == 1:
        return [(y, width - 1 - x) for x, y in points]
    if k % 4 == 3:
        return [(height - 1 - y, x) for x, y in points]
    if k % 4 == 2:
        return [(width - 1 - x, height - 1 - y) for x, y in points]
    return [(x, y) for x, y in points]


def unturn_points(points: Sequence[Point], k: int, size: tuple[int, int]) -> list[Point]:
    """Points of ``np.rot90(page, k)`` back on the page; ``size`` is the page's (height, width)."""
    height, width = size
    turned = (width, height) if k % 2 else (height, width)
    return turn_points(points, (4 - k % 4) % 4, turned)


def turned_line(line: Line, k: int, size: tuple[int, int]) -> Line:
    """A copy of ``line`` (polygon and baseline only) on ``np.rot90(page, k)``."""
    return Line(id=line.id, polygon=turn_points(line.polygon, k, size), baseline=turn_points(line.baseline, k, size))

"""Line geometry for segmentation editing: new boxes, splitting, merging, reading order.

Pure functions on ``mspt_core.document`` objects (no Qt), used by ``edits.Editor``.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from mspt_core.document import Line, LineStatus, Page, Point, Region, Word, bbox, box_polygon
from mspt_core.layout.turn import line_turn, turn_points, unturn_points


def new_line_id(page: Page) -> str:
    used = {line.id for line in page.lines()}
    number = len(used) + 1
    while f"{page.id}_l{number}" in used:
        number += 1
    return f"{page.id}_l{number}"


def baseline_of_box(polygon: list[Point]) -> list[Point]:
    """A straight baseline for a hand-drawn box: three quarters down, where it usually is."""
    x0, y0, x1, y1 = bbox(polygon)
    y = round(y0 + 0.75 * (y1 - y0))
    return [(round(x0), y), (round(x1), y)]


def fit_baseline(baseline: list[Point], polygon: list[Point]) -> list[Point]:
    """Keep a baseline inside its (edited) polygon's box."""
    if len(baseline) < 2:
        return baseline_of_box(polygon)
    x0, y0, x1, y1 = bbox(polygon)
    return [(min(max(x, x0), x1), min(max(y, y0), y1)) for x, y in baseline]


def fit_words(words: list[Word], polygon: list[Point]) -> list[Word]:
    """Word boxes cut to their (edited) line polygon's box; none when a word would lose all of
    its box (the boxes then no longer say where the words are)."""
    if not words or len(polygon) < 3:
        return []
    x0, y0, x1, y1 = bbox(polygon)
    fitted = []
    for word in words:
        if not word.polygon:
            return []
        wx0, wy0, wx1, wy1 = bbox(word.polygon)
        wx0, wy0, wx1, wy1 = max(wx0, x0), max(wy0, y0), min(wx1, x1), min(wy1, y1)
        if wx1 <= wx0 or wy1 <= wy0:
            return []
        moved = (wx0, wy0, wx1, wy1) != bbox(word.polygon)
        fitted.append(replace(word, polygon=box_polygon(wx0, wy0, wx1, wy1) if moved else list(word.polygon)))
    return fitted


def center(line: Line) -> tuple[float, float]:
    x0, y0, x1, y1 = line.bbox()
    return (x0 + x1) / 2, (y0 + y1) / 2


def insert_in_reading_order(page: Page, line: Line) -> None:
    """Put a new line into the region that holds it (or the nearest one), before the first
    line lower down: top-to-bottom order inside a region."""
    cx, cy = center(line)
    if not page.regions:
        page.regions.append(Region(id=f"{page.id}_r1", polygon=list(line.polygon), region_type="MainZone"))

    def distance(region: Region) -> float:
        points = region.polygon or [p for other in region.lines for p in other.polygon]
        if not points:
            return float("inf")
        x0, y0, x1, y1 = bbox(points)
        return max(x0 - cx, 0, cx - x1) + max(y0 - cy, 0, cy - y1)

    region = min(page.regions, key=distance)
    position = next(
        (i for i, other in enumerate(region.lines) if other.polygon and center(other)[1] > cy), len(region.lines)
    )
    region.lines.insert(position, line)


def move_in_order(page: Page, line_id: str, step: int) -> None:
    flat = [(region, line) for region in page.regions for line in region.lines]
    index = next(i for i, (_, line) in enumerate(flat) if line.id == line_id)
    target = min(max(index + step, 0), len(flat) - 1)
    if target == index:
        return
    own_region, line = flat[index]
    neighbour_region, neighbour = flat[target]
    own_region.lines.remove(line)
    at = neighbour_region.lines.index(neighbour)
    neighbour_region.lines.insert(at if step < 0 else at + 1, line)


def _clip_x(polygon: list[Point], x: float, keep_left: bool) -> list[Point]:
    """The part of a polygon left (or right) of the vertical x (one Sutherland-Hodgman pass)."""
    inside = (lambda p: p[0] <= x) if keep_left else (lambda p: p[0] >= x)
    result: list[Point] = []
    for i, current in enumerate(polygon):
        previous = polygon[i - 1]
        if inside(current) != inside(previous):
            t = (x - previous[0]) / (current[0] - previous[0])
            result.append((x, previous[1] + t * (current[1] - previous[1])))
        if inside(current):
            result.append(current)
    return [(round(px), round(py)) for px, py in result]


def _clip_polyline(points: list[Point], x: float, keep_left: bool) -> list[Point]:
    points = sorted(points)
    if len(points) < 2:
        return points
    ys = np.interp([x], [p[0] for p in points], [p[1] for p in points])
    cut = (round(x), round(float(ys[0])))
    kept = [p for p in points if (p[0] < x if keep_left else p[0] > x)]
    return kept + [cut] if keep_left else [cut] + kept


def _split_text(line: Line, at: int) -> tuple[tuple[str, list[float] | None], tuple[str, list[float] | None]]:
    text, confs = line.text, line.char_confidences
    confs = confs if confs is not None and len(confs) == len(text) else None

    def part(lo: int, hi: int):
        while lo < hi and text[lo].isspace():
            lo += 1
        while hi > lo and text[hi - 1].isspace():
            hi -= 1
        return text[lo:hi], (confs[lo:hi] if confs is not None else None)

    return part(0, at), part(at, len(text))


def _turned(lines: list[Line]) -> tuple[int, tuple[int, int]]:
    """Turn lines written sideways or upside down (all as the first) so they read left to right,
    in place; returns the turn and the frame ``_unturned`` needs to put them back."""
    turn = line_turn(lines[0])
    points = [p for line in lines for p in (*line.polygon, *line.baseline)]
    if not turn or not points:
        return 0, (0, 0)
    frame = (int(max(y for _, y in points)) + 2, int(max(x for x, _ in points)) + 2)
    for line in lines:
        line.polygon = turn_points(line.polygon, turn, frame)
        line.baseline = turn_points(line.baseline, turn, frame)
    return turn, frame


def _unturned(lines: list[Line], turn: int, frame: tuple[int, int]) -> None:
    if turn:
        for line in lines:
            line.polygon = [(round(x), round(y)) for x, y in unturn_points(line.polygon, turn, frame)]
            line.baseline = [(round(x), round(y)) for x, y in unturn_points(line.baseline, turn, frame)]


def split(line: Line, at_char: int, new_id: str) -> Line:
    """Cut ``line`` in two before character ``at_char`` (the cut falls at the same fraction of
    the line's length as of its text; the middle for a line without text). ``line`` keeps the
    part its text starts with; the rest is returned as a new line. A line written sideways or
    upside down is cut along its reading direction, and both parts keep its turn."""
    turn, frame = _turned([line])
    right = _split_upright(line, at_char, new_id)
    _unturned([line, right], turn, frame)
    return right


def _split_upright(line: Line, at_char: int, new_id: str) -> Line:
    x0, _, x1, _ = line.bbox()
    at_char = min(max(at_char, 0), len(line.text))
    fraction = at_char / len(line.text) if line.text else 0.5
    x = x0 + (x1 - x0) * min(max(fraction, 0.05), 0.95)
    (left_text, left_confs), (right_text, right_confs) = _split_text(line, at_char)
    right = Line(
        id=new_id,
        polygon=_clip_x(line.polygon, x, keep_left=False),
        baseline=_clip_polyline(line.baseline, x, keep_left=False),
        text=right_text,
        char_confidences=right_confs,
        status=line.status,
        line_type=line.line_type,
    )
    line.polygon = _clip_x(line.polygon, x, keep_left=True)
    line.baseline = _clip_polyline(line.baseline, x, keep_left=True)
    line.text, line.char_confidences = left_text, left_confs
    line.words = []  # word boxes no longer match; the formats rebuild words from the text
    for part in (line, right):
        if part.char_confidences:
            part.confidence = min(part.char_confidences)
    return right


def merge_polygons(a: list[Point], b: list[Point]) -> list[Point]:
    """The outline of two touching or overlapping polygons; their convex hull when apart."""
    points = np.asarray(list(a) + list(b), dtype=np.float64)
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - 3  # margin: closing must not touch the edge
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 4
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    for polygon in (a, b):
        cv2.fillPoly(mask, [np.round(np.asarray(polygon) - (x0, y0)).astype(np.int32)], 255)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))  # close one-pixel seams
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if len(contours) == 1:
        outline = cv2.approxPolyDP(contours[0], 1.5, True)[:, 0, :]
    else:
        outline = cv2.convexHull(np.round(points - (x0, y0)).astype(np.int32))[:, 0, :]
    return [(int(x + x0), int(y + y0)) for x, y in outline]


def merge_into(first: Line, second: Line) -> None:
    """Join ``second`` onto the end of ``first`` (text separated by a space); the baseline runs
    in ``first``'s reading direction, across, down, up or upside down."""
    turn, frame = _turned([first, second])
    first.polygon = merge_polygons(first.polygon, second.polygon)
    first.baseline = sorted(list(first.baseline) + list(second.baseline))
    _unturned([first, second], turn, frame)
    joiner = " " if first.text and second.text else ""
    if first.char_confidences is not None and second.char_confidences is not None:
        first.char_confidences = first.char_confidences + [1.0] * len(joiner) + second.char_confidences
    else:
        first.char_confidences = None
    first.text = first.text + joiner + second.text
    confidences = [c for c in (first.confidence, second.confidence) if c is not None]
    first.confidence = min(confidences) if confidences else None
    first.words = []
    statuses = {first.status, second.status}
    if LineStatus.CORRECTED in statuses:
        first.status = LineStatus.CORRECTED  # a person's text is never handed back to recognition
    elif first.text:
        first.status = LineStatus.RECOGNIZED
    else:
        first.status = LineStatus.UNRECOGNIZED

"""How well found lines match ground-truth lines: one-to-one matching at an IoU threshold.

Used by the segmentation benchmark, the layout tests and the line finder's validation, so all
three count a line as found in the same way. IoU is taken either on the lines' bounding boxes
(the usual measure, which Tesseract's boxes can be compared with) or on their polygons.

Where the ground truth transcribes only some of a page's lines (a page label, a stamp or a note
left out), a found line far from every line it gives cannot be judged: ``match_lines(...,
partial=True)`` leaves such lines out of the count (``judged_lines``). Line-finder training
leaves the same reach around the given lines out of its loss, pixel by pixel
(``train.linefinder.ignore_away_from_lines``); here whole lines are kept or left out by their
boxes' distance, so a line left out lies wholly where training does not look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar, cast

import cv2
import numpy as np

from mspt_core.document import bbox

RASTER = 4  # polygon IoU is computed on masks reduced by this factor
KNOWN_AROUND = 1.0  # line heights (the median given line's) around a partial page's lines that it speaks for
Polygon = Sequence[tuple[float, float]]
T = TypeVar("T")


@dataclass
class Match:
    ground_truth: int
    found: int
    matched: int

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.ground_truth if self.ground_truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Match) -> Match:
        return Match(self.ground_truth + other.ground_truth, self.found + other.found, self.matched + other.matched)


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def _boxes_and_overlaps(truth: list[Polygon], found: list[Polygon]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The truth boxes (n, 1, 4), the found boxes (1, m, 4) and the (n, m) areas they share."""
    a = np.array([bbox(p) for p in truth], dtype=np.float64).reshape(-1, 1, 4)
    b = np.array([bbox(p) for p in found], dtype=np.float64).reshape(1, -1, 4)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    return a, b, w * h


def _box_ious(truth: list[Polygon], found: list[Polygon]) -> np.ndarray:
    if not truth or not found:
        return np.zeros((len(truth), len(found)))
    a, b, inter = _boxes_and_overlaps(truth, found)
    union = _area(a) + _area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _polygon_ious(truth: list[Polygon], found: list[Polygon], shape: tuple[int, int]) -> np.ndarray:
    small = (shape[0] // RASTER + 1, shape[1] // RASTER + 1)

    def mask(polygon):
        m = np.zeros(small, np.uint8)
        cv2.fillPoly(m, [np.round(np.asarray(polygon) / RASTER).astype(np.int32)], 1)
        return m.astype(bool)

    ious = np.zeros((len(truth), len(found)))
    boxes = _box_ious(truth, found)  # polygons can only overlap where their boxes do
    if not (boxes > 0).any():
        return ious
    det = [mask(p) for p in found]
    for i, polygon in enumerate(truth):
        g = mask(polygon)
        for j in np.flatnonzero(boxes[i] > 0):
            inter = np.logical_and(g, det[j]).sum()
            if inter:
                ious[i, j] = inter / np.logical_or(g, det[j]).sum()
    return ious


def pair_lines(
    truth: list[Polygon], found: list[Polygon], shape: tuple[int, int], threshold: float = 0.5, kind: str = "box"
) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by decreasing IoU (``kind`` "box" or "polygon"): the
    (truth index, found index) pairs whose IoU is at least ``threshold``. Truth polygons of
    fewer than 3 points never match. ``shape`` is the page's (height, width)."""
    usable = [i for i, p in enumerate(truth) if len(p) >= 3]
    kept = [truth[i] for i in usable]
    if kind == "box":
        ious = _box_ious(kept, found)
    elif kind == "polygon":
        ious = _polygon_ious(kept, found, shape)
    else:
        raise ValueError(f"kind must be 'box' or 'polygon', got {kind!r}")
    pairs = sorted(((ious[i, j], i, j) for i, j in zip(*np.nonzero(ious >= threshold), strict=True)), reverse=True)
    used_truth, used_found, matched = set(), set(), []
    for _, i, j in pairs:
        if i not in used_truth and j not in used_found:
            used_truth.add(i)
            used_found.add(j)
            matched.append((usable[i], int(j)))
    return matched


def judged_lines(truth: list[Polygon], found: list[Polygon]) -> list[int]:
    """Indices of the ``found`` lines that a ground truth giving only some of a page's lines can
    judge: those whose box comes within ``KNOWN_AROUND`` line heights of one of its lines' boxes
    (none, where it gives no line)."""
    given = [bbox(p) for p in truth if len(p) >= 3]
    if not given or not found:
        return []
    a = np.array(given, dtype=np.float64)[:, None, :]
    b = np.array([bbox(p) for p in found], dtype=np.float64)[None, :, :]
    reach = KNOWN_AROUND * float(np.median(a[:, 0, 3] - a[:, 0, 1]))
    dx = np.maximum(np.maximum(a[..., 0] - b[..., 2], b[..., 0] - a[..., 2]), 0)
    dy = np.maximum(np.maximum(a[..., 1] - b[..., 3], b[..., 1] - a[..., 3]), 0)
    return [int(j) for j in np.flatnonzero((np.maximum(dx, dy) <= reach).any(axis=0))]


def judged(truth: list[Polygon], found: Sequence[T], outline: Callable[[T], Polygon] | None = None) -> list[T]:
    """The ``found`` items that ``judged_lines`` keeps, in their order: outlines themselves, or
    anything ``outline`` gives the outline of (a line). An item without an outline cannot be
    placed, and is kept. A ground truth giving no line at all judges nothing: every outlined
    item goes."""
    outlines = [outline(item) if outline else cast(Polygon, item) for item in found]
    placed = [j for j, points in enumerate(outlines) if len(points)]
    kept = {placed[k] for k in judged_lines(truth, [outlines[j] for j in placed])}
    return [item for j, item in enumerate(found) if j in kept or not len(outlines[j])]


def match_lines(
    truth: list[Polygon],
    found: list[Polygon],
    shape: tuple[int, int],
    threshold: float = 0.5,
    kind: str = "box",
    partial: bool = False,
) -> Match:
    """How many lines ``pair_lines`` matches, with the counts precision and recall need;
    ``partial``: the ground truth gives only some of the page's lines, and the found lines it
    cannot judge (``judged_lines``) are left out."""
    if partial:
        found = judged(truth, found)
    pairs = pair_lines(truth, found, shape, threshold, kind)
    return Match(sum(1 for p in truth if len(p) >= 3), len(found), len(pairs))


# Why a line went unmatched (``unmatched_kinds``), by the lines' boxes. A ground-truth line
# missed: no found line lies over it (covers a tenth of its box, or has half of its own box on
# it); two or more found lines matched to nothing lie in it (split); the found line covering
# most of it is matched to another line (joined into it); or that line has the wrong extent
# (beyond these shares of its width or height) or sits off it. A found line matched to nothing:
# no ground-truth line is under it (a fifth of its box, or half of the line's), or it lies over
# a line that was found, or over one that was missed (a piece of it, or a wrong-sized try at it).
MISSED_KINDS = ("not found", "split", "joined", "too wide", "too narrow", "too tall", "too short", "off")
EXTRA_KINDS = ("where no line is", "over a line found", "over a line missed")
WIDER, TALLER = 1.3, 1.5


def _shares(truth: list[Polygon], found: list[Polygon]) -> tuple[np.ndarray, np.ndarray]:
    """(truth x found) shares of each ground-truth box that each found box covers, and of each
    found box that lies on each ground-truth box."""
    a, b, inter = _boxes_and_overlaps(truth, found)
    return inter / np.maximum(_area(a), 1e-9), inter / np.maximum(_area(b), 1e-9)


def unmatched_kinds(
    truth: list[Polygon], found: list[Polygon], shape: tuple[int, int], partial: bool = False
) -> tuple[Counter[str], Counter[str]]:
    """Why the lines ``match_lines`` (by box) leaves unmatched are: a count of each of
    ``MISSED_KINDS`` over the ground-truth lines and of ``EXTRA_KINDS`` over the found ones."""
    if partial:
        found = judged(truth, found)
    usable = [p for p in truth if len(p) >= 3]
    pairs = pair_lines(usable, found, shape)  # indices into usable (all of it usable) and found
    truth_of = {j: i for i, j in pairs}
    found_of = dict(pairs)
    covered, lying = _shares(usable, found)
    missed: Counter[str] = Counter()
    for i, polygon in enumerate(usable):
        if i in found_of:
            continue
        over = [j for j in range(len(found)) if covered[i, j] >= 0.1 or lying[i, j] >= 0.5]
        if not over:
            missed["not found"] += 1
            continue
        if sum(1 for j in over if j not in truth_of and lying[i, j] >= 0.5) >= 2:
            missed["split"] += 1
            continue
        j = max(over, key=lambda j: covered[i, j])
        if j in truth_of:
            missed["joined"] += 1
            continue
        t, f = bbox(polygon), bbox(found[j])
        width = (f[2] - f[0]) / max(t[2] - t[0], 1e-9)
        height = (f[3] - f[1]) / max(t[3] - t[1], 1e-9)
        if width > WIDER:
            missed["too wide"] += 1
        elif width < 1 / WIDER:
            missed["too narrow"] += 1
        elif height > TALLER:
            missed["too tall"] += 1
        elif height < 1 / TALLER:
            missed["too short"] += 1
        else:
            missed["off"] += 1
    extra = Counter(kind for kind in _found_kinds(len(usable), found, truth_of, found_of, covered, lying) if kind)
    return missed, extra


def _found_kinds(truths: int, found: list[Polygon], truth_of: dict, found_of: dict, covered, lying) -> list[str]:
    """For each found line: "" where it is matched, else which of ``EXTRA_KINDS`` it is."""
    kinds = []
    for j in range(len(found)):
        if j in truth_of:
            kinds.append("")
            continue
        under = [i for i in range(truths) if lying[i, j] >= 0.2 or covered[i, j] >= 0.5]
        if not under:
            kinds.append("where no line is")
            continue
        i = max(under, key=lambda i: max(lying[i, j], covered[i, j]))
        kinds.append("over a line found" if i in found_of else "over a line missed")
    return kinds


def found_line_kinds(truth: list[Polygon], found: list[Polygon], shape: tuple[int, int]) -> list[str]:
    """For each of the ``found`` lines: "" where ``pair_lines`` matches it (by box), else which of
    ``EXTRA_KINDS`` it is (as ``unmatched_kinds`` counts them)."""
    usable = [p for p in truth if len(p) >= 3]
    pairs = pair_lines(usable, found, shape)
    covered, lying = _shares(usable, found)
    return _found_kinds(len(usable), found, {j: i for i, j in pairs}, dict(pairs), covered, lying)

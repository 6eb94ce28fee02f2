"""Page segmentation: text regions, then text lines with polygons and baselines.

Both methods share steps 1-3 and 7; the learned one (``linefinder``, the default where its
model file is present) replaces 4-6 by a network's line maps. The classical pipeline (each step
a function of ``clean``/``deskew`` usable alone):
1. work on a copy reduced to at most ``work_side`` pixels (layout needs no fine detail);
2. normalize illumination, binarize (Sauvola), drop specks and dark scan borders;
3. estimate skew and rotate the page straight;
4. regions: ink smeared by about a line height and a few letters wide, then connected
   components, so columns and marginalia separated by white space become separate regions;
5. lines per region: peaks of the horizontal projection give one row per line; a medial curve
   follows each line's ink; between two medial curves a minimum-ink seam (dynamic programming)
   separates the lines even where ascenders and descenders touch;
6. each line's polygon is the ink envelope between its two seams; its baseline sits where the
   ink profile (measured relative to the medial curve) drops most steeply below the line body;
7. everything is mapped back to the original image's coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import cv2
import numpy as np

from mspt_core.document import Line, Page, Region, bbox, box_polygon
from mspt_core.errors import ModelFileError
from mspt_core.images import to_grey
from mspt_core.layout.banner import banner_rows
from mspt_core.layout.clean import normalize_illumination, odd, remove_noise, sauvola
from mspt_core.layout.deskew import estimate_skew, rotate
from mspt_core.layout.ends import extend_line_ends
from mspt_core.layout.facing import facing_page_stubs
from mspt_core.layout.faint import faint_lines
from mspt_core.layout.kinds import KindClassifier, assign_kinds
from mspt_core.layout.kinds import bundled as bundled_kinds
from mspt_core.layout.linefinder import bundled, bundled_path, find_lines, group_into_blocks
from mspt_core.layout.order import order_regions
from mspt_core.layout.orient import UprightClassifier, page_turn
from mspt_core.layout.orient import bundled as bundled_upright
from mspt_core.layout.sideways import sideways_lines
from mspt_core.layout.turn import UPRIGHT, line_turn, unturn_points

WORK_SIDE = 1600  # longest side of the working copy, in pixels


@dataclass
class SegmentParams:
    """Knobs, in units of the estimated character height ``ch`` (tuned on train/val only)."""

    region_width: float = 5.0  # horizontal smear joining words, not columns
    region_height: float = 1.4  # vertical smear joining the lines of one block
    profile_sigma: float = 0.35  # smoothing of the projection profile
    valley_ratio: float = 0.75  # two peaks are two lines if the profile dips below this between
    min_line_ink: float = 2.0  # ch^2 pixels of ink for a line to count
    envelope_pad: float = 0.4  # polygon margin around the ink


def _working_copy(grey: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The page at ``scale`` (at most 1), illumination-normalized, and its cleaned binary."""
    if scale < 1:
        h, w = grey.shape
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    norm = normalize_illumination(grey)
    return norm, remove_noise(sauvola(norm), min_area=3)


CHAR_FLOOR = 6  # px: letters are not told apart from specks below this; smaller ones read as 6


def _letter_height(binary: np.ndarray) -> float | None:
    """Median height of letter-sized connected components (at least CHAR_FLOOR), or None where
    there are too few to tell (a blank page, or letters lost at this resolution)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    h = stats[1:, cv2.CC_STAT_HEIGHT]
    w = stats[1:, cv2.CC_STAT_WIDTH]
    area = stats[1:, cv2.CC_STAT_AREA]
    letters = (area >= 8) & (h >= 4) & (h < binary.shape[0] / 8) & (w < binary.shape[1] / 4)
    if letters.sum() < 5:
        return None
    return float(np.clip(np.median(h[letters]), CHAR_FLOOR, 200))


UNMEASURED_CHAR = 12.0  # px: the letter height assumed where it cannot be measured


def _char_height(binary: np.ndarray) -> float:
    """The scale of everything else: the letters' height, UNMEASURED_CHAR where it cannot be measured."""
    measured = _letter_height(binary)
    return UNMEASURED_CHAR if measured is None else measured


def _peaks(profile: np.ndarray, valley_ratio: float, min_height: float) -> list[int]:
    """Row indices of profile maxima separated by real valleys (strongest first, then sorted)."""
    p = profile
    candidates = [i for i in range(1, len(p) - 1) if p[i] >= p[i - 1] and p[i] > p[i + 1] and p[i] >= min_height]
    accepted: list[int] = []
    for i in sorted(candidates, key=lambda i: -p[i]):
        ok = True
        for j in accepted:
            a, b = sorted((i, j))
            if p[a : b + 1].min() > valley_ratio * min(p[i], p[j]):
                ok = False  # no dip between them: same line (ascender peak, say)
                break
        if ok:
            accepted.append(i)
    return sorted(accepted)


def _seam(cost: np.ndarray, lo: np.ndarray, hi: np.ndarray, step_penalty: float) -> np.ndarray:
    """Minimum-cost left-to-right path, one row per column, moving at most one row per column,
    staying within rows lo[j]..hi[j]."""
    h, n = cost.shape
    inf = np.float32(np.inf)
    rows = np.arange(h)
    acc = np.where((rows >= lo[0]) & (rows <= hi[0]), cost[:, 0], inf)
    back = np.zeros((n, h), dtype=np.int8)
    for j in range(1, n):
        up = np.concatenate(([inf], acc[:-1])) + step_penalty  # from row r-1
        down = np.concatenate((acc[1:], [inf])) + step_penalty  # from row r+1
        stack = np.stack([up, acc, down])
        move = stack.argmin(axis=0)
        acc = stack[move, rows] + cost[:, j]
        acc[: lo[j]] = inf
        acc[hi[j] + 1 :] = inf
        back[j] = move - 1
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmin(acc))
    for j in range(n - 1, 0, -1):
        path[j - 1] = path[j] + back[j, path[j]]
    return path


def remove_rules(binary: np.ndarray, ch: float) -> np.ndarray:
    """Drop long thin vertical strokes (the fold of a spread, ruled margins, column rules):
    they would glue columns together. Handwritten strokes are never many lines tall and thin."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    H, W = binary.shape
    rule = (h > 6 * ch) & (w < 0.15 * h)
    rule |= (w > 30 * ch) & (h < 0.05 * w)  # page-wide horizontal rules and frame edges
    rule |= (w > 0.5 * W) & (h > 0.5 * H)  # the inner outline of a dark scan frame
    rule[0] = False
    return binary & ~rule[labels]


def _split_columns(x0, y0, x1, y1, ink, ch):
    """Split a tall region at a clear vertical white gap (a gutter) into columns, recursively."""
    h, w = ink.shape
    if h < 6 * ch or w < 16 * ch:
        return [(x0, y0, x1, y1, ink)]
    profile = ink.sum(axis=0).astype(np.float32)
    typical = float(np.median(profile[profile > 0])) if (profile > 0).any() else 0.0
    empty = profile <= 0.02 * typical
    best = None
    start = None
    for x in range(w + 1):
        if x < w and empty[x]:
            start = x if start is None else start
            continue
        if start is not None:
            a, b = start, x
            if b - a >= 1.0 * ch and a >= 8 * ch and w - b >= 8 * ch and (best is None or b - a > best[1] - best[0]):
                best = (a, b)
            start = None
    if best is None:
        return [(x0, y0, x1, y1, ink)]
    a, b = best
    out = []
    for lo, hi in ((0, a), (b, w)):
        part = ink[:, lo:hi]
        rows = np.flatnonzero(part.any(axis=1))
        if rows.size:
            sub = part[rows[0] : rows[-1] + 1]
            out += _split_columns(x0 + lo, y0 + rows[0], x0 + hi, y0 + rows[-1] + 1, sub, ch)
    return out


def _find_regions(binary: np.ndarray, ch: float, params: SegmentParams):
    """(x0, y0, x1, y1, ink mask of the region's box) for each block of text."""
    binary = remove_rules(binary, ch)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (odd(params.region_width * ch), odd(params.region_height * ch)))
    smeared = cv2.dilate(binary.astype(np.uint8), kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(smeared, connectivity=8)
    regions = []
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        ink = binary[y : y + h, x : x + w] & (labels[y : y + h, x : x + w] == label)
        if ink.sum() < params.min_line_ink * ch * ch or h < 0.5 * ch:
            continue
        regions += _split_columns(x, y, x + w, y + h, ink, ch)
    return regions


def _find_lines(ink: np.ndarray, ch: float, params: SegmentParams):
    """(polygon, baseline) pairs, in the region's own coordinates, top to bottom."""
    h, w = ink.shape
    dens = ink.astype(np.float32)
    profile = (
        cv2.GaussianBlur(dens.sum(axis=1).reshape(-1, 1), (1, 0), sigmaX=0, sigmaY=params.profile_sigma * ch).ravel()
        if h > 1
        else dens.sum(axis=1)
    )
    if profile.max() <= 0:
        return []
    rows = _peaks(profile, params.valley_ratio, min_height=0.05 * profile.max())
    if not rows:
        return []

    # Medial curves: per column, the row of highest smeared ink density near each peak.
    body = cv2.GaussianBlur(dens, (0, 0), sigmaX=2.0 * ch, sigmaY=0.4 * ch)
    medials = []
    for k, r in enumerate(rows):
        above = r - (r - rows[k - 1]) // 2 if k else max(r - ch, 0)
        below = r + (rows[k + 1] - r) // 2 if k + 1 < len(rows) else min(r + ch, h - 1)
        above, below = int(max(above, 0)), int(min(below, h - 1))
        window = body[above : below + 1]
        med = above + np.argmax(window, axis=0).astype(np.float64)
        strength = window.max(axis=0)
        # Where this line has little ink (before it starts, after it ends, in gaps) the argmax
        # would jump to a neighbour's ink: hold the curve from the confident columns instead.
        sure = strength > 0.3 * max(float(np.median(strength[strength > 1e-3])) if (strength > 1e-3).any() else 0, 1e-3)
        if sure.sum() >= 2:
            med = np.interp(np.arange(w), np.flatnonzero(sure), med[sure])
        else:
            med[:] = r
        med = cv2.GaussianBlur(med.reshape(1, -1), (0, 1), sigmaX=1.5 * ch).ravel() if w > 1 else med
        medials.append(med)

    # Separating seams between consecutive medial curves, on a subsampled column grid.
    stride = max(1, int(ch // 3))
    cols = np.arange(0, w, stride)
    fine = cv2.GaussianBlur(dens, (0, 0), sigmaX=0.5 * ch, sigmaY=0.15 * ch)[:, cols]
    margin = max(1, int(0.15 * ch))
    seams = []
    for k in range(len(rows) - 1):
        lo = np.round(medials[k][cols]).astype(np.int64) + margin
        hi = np.round(medials[k + 1][cols]).astype(np.int64) - margin
        hi = np.maximum(hi, lo)
        path = _seam(fine, np.clip(lo, 0, h - 1), np.clip(hi, 0, h - 1), step_penalty=0.02)
        seams.append(np.interp(np.arange(w), cols, path))
    top_edge = [np.maximum(medials[0] - 1.6 * ch, 0)] + seams
    bottom_edge = seams + [np.minimum(medials[-1] + 1.6 * ch, h - 1)]

    out = []
    all_rows = np.arange(h)[:, None]
    for k, med in enumerate(medials):
        band = (all_rows >= top_edge[k][None, :]) & (all_rows <= bottom_edge[k][None, :])
        line_ink = ink & band
        if line_ink.sum() < params.min_line_ink * ch * ch:
            continue
        columns = np.flatnonzero(line_ink.any(axis=0))
        x0, x1 = int(columns[0]), int(columns[-1])
        if x1 - x0 < 0.5 * ch:
            continue
        polygon = _envelope(line_ink, band, x0, x1, ch, params)
        baseline = _baseline(line_ink, med, x0, x1, ch)
        out.append((polygon, baseline))
    return out


def _envelope(line_ink, band, x0, x1, ch, params):
    """Polygon hugging the line's ink: top and bottom ink rows per bin of about ``ch`` columns."""
    h = line_ink.shape[0]
    edges = np.linspace(x0, x1 + 1, max(2, int(round((x1 + 1 - x0) / ch)) + 1)).astype(int)
    xs, tops, bottoms = [], [], []
    for a, b in pairwise(edges):
        rows = np.flatnonzero(line_ink[:, a:b].any(axis=1))
        if rows.size:
            xs.append((a + b - 1) / 2)
            tops.append(rows[0])
            bottoms.append(rows[-1])
    centres = np.array(xs)
    # Widen the envelope over neighbouring bins: an ascender or descender in one word is part of
    # the line's height everywhere near it, and the outline stays smooth.
    reach = 2
    tops = [min(tops[max(0, i - reach) : i + reach + 1]) for i in range(len(tops))]
    bottoms = [max(bottoms[max(0, i - reach) : i + reach + 1]) for i in range(len(bottoms))]
    pad = params.envelope_pad * ch
    # Hold the edge values out to the line's first and last ink columns.
    grid = np.array(sorted(set([x0, x1] + [int(round(x)) for x in centres])))
    top = np.interp(grid, centres, tops) - pad
    bottom = np.interp(grid, centres, bottoms) + pad
    band_top = np.array([np.flatnonzero(band[:, x])[0] if band[:, x].any() else 0 for x in grid])
    band_bottom = np.array([np.flatnonzero(band[:, x])[-1] if band[:, x].any() else h - 1 for x in grid])
    top = np.clip(top, band_top, None)
    bottom = np.clip(bottom, None, band_bottom)
    bottom = np.maximum(bottom, top + 1)
    left, right = grid[0] - pad, grid[-1] + pad
    upper = [(left, top[0])] + list(zip(grid, top, strict=True)) + [(right, top[-1])]
    lower = [(right, bottom[-1])] + list(zip(grid[::-1], bottom[::-1], strict=True)) + [(left, bottom[0])]
    return [(float(x), float(y)) for x, y in upper + lower]


def _baseline(line_ink, medial, x0, x1, ch):
    """Baseline polyline: the medial curve shifted down to where the ink body ends."""
    h = line_ink.shape[0]
    offsets = np.arange(-int(2 * ch), int(2 * ch) + 1)
    cols = np.arange(x0, x1 + 1)
    rows = np.round(medial[cols])[None, :] + offsets[:, None]
    valid = (rows >= 0) & (rows < h)
    samples = np.where(valid, line_ink[np.clip(rows, 0, h - 1).astype(int), cols[None, :]], False)
    profile = samples.sum(axis=1).astype(np.float32)
    profile = cv2.GaussianBlur(profile.reshape(-1, 1), (1, 0), sigmaX=0, sigmaY=max(0.08 * ch, 0.5)).ravel()
    center = int(np.argmax(profile))
    drop = np.diff(profile)  # drop[i] = profile[i+1] - profile[i]
    below = np.arange(center, min(len(drop), center + int(1.2 * ch)))
    offset = offsets[below[np.argmin(drop[below])] + 1] if below.size else offsets[center]
    xs = np.linspace(x0, x1, max(2, int(round((x1 - x0) / (3 * ch))) + 1))
    ys = np.interp(xs, np.arange(len(medial)), medial) + offset
    return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]


def _classical_blocks(binary: np.ndarray, ch: float, params: SegmentParams):
    """(region polygon, [(line polygon, baseline)]) per text block, in working-copy pixels."""
    blocks = []
    for x0, y0, x1, y1, ink in _find_regions(binary, ch, params):
        found = _find_lines(ink, ch, params)
        if found:
            lines = [
                ([(x + x0, y + y0) for x, y in polygon], [(x + x0, y + y0) for x, y in baseline])
                for polygon, baseline in found
            ]
            blocks.append(([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], lines))
    return blocks


# Letter heights (``_char_height``) the line finder met in training: the train pages at its
# input side have 7-31 px (5 % under 8, 5 % over 24), and training zooms them by 0.64-1.56.
# Letters measured under ENLARGE_UNDER at its input are enlarged to MIN_NET_CHAR_HEIGHT; letters
# measured at CHAR_FLOOR may be smaller still, and are enlarged to 1.5 x MIN_NET_CHAR_HEIGHT.
MAX_NET_CHAR_HEIGHT = 32
MIN_NET_CHAR_HEIGHT = 7
ENLARGE_UNDER = 6
# Pixels of the finest working copy for small text, and of the largest image the finder then
# reads (about 4x its usual): a 120 MP page of small text takes about 1.8 GiB (tall or square).
MAX_WORK_PIXELS = 10e6
MAX_NET_PIXELS = 8e6


def _learned_blocks(norm: np.ndarray, ch: float, finder, rtl: bool = False):
    """The same, from the line finder's maps (see ``linefinder``). The page is scaled to the
    finder's input side, but the letters are kept within the sizes it was trained on: a small
    image (a crop of a few lines) is not blown up past them, and small text on a large page is
    enlarged up to them (within ``MAX_NET_PIXELS``)."""
    h, w = norm.shape
    r = min(finder.config.input_side / max(h, w), MAX_NET_CHAR_HEIGHT / ch)
    floor = ch <= CHAR_FLOOR
    if ch * r < (1.5 * MIN_NET_CHAR_HEIGHT if floor else ENLARGE_UNDER):
        wanted = (1.5 if floor else 1.0) * MIN_NET_CHAR_HEIGHT / ch
        r = max(r, min(wanted, (MAX_NET_PIXELS / (h * w)) ** 0.5))
    size = (max(1, round(w * r)), max(1, round(h * r)))
    scaled = cv2.resize(norm, size, interpolation=cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    core, body = finder.maps(scaled)
    half = cv2.resize(scaled, (core.shape[1], core.shape[0]), interpolation=cv2.INTER_AREA)
    ink = sauvola(half)  # for the rules, folds and gutters that separate text (linefinder.find_lines)
    to_work = 2.0 / r  # map pixels -> working-copy pixels
    lines = [
        (polygon * to_work, baseline * to_work) for polygon, baseline in find_lines(core, body, finder.config, ink)
    ]
    if not lines:
        return []

    # Blocks from the lines as found: a lengthened end may reach towards a neighbouring column
    # or a marginal note, and must not join its block. A block's box holds its lengthened lines.
    def boxes_of(lines):
        return [(p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()) for p, _ in lines]

    found = boxes_of(lines)
    lines = extend_line_ends(lines, sauvola(norm))  # the marks too faint for the maps' resolution
    boxes = boxes_of(lines)
    pitch = float(np.median([b[3] - b[1] for b in found]))
    blocks = []
    for members in group_into_blocks(found, pitch, rtl):
        x0 = min(boxes[i][0] for i in members)
        y0 = min(boxes[i][1] for i in members)
        x1 = max(boxes[i][2] for i in members)
        y1 = max(boxes[i][3] for i in members)
        blocks.append(
            ([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], [(lines[i][0].tolist(), lines[i][1].tolist()) for i in members])
        )
    return blocks


METHODS = ("auto", "learned", "classical")


def _finder_on(finder):
    """The line finder's upright lines on an image (for the sideways search and the page's turn):
    a part of the scan, or the scan turned, which a library's banner was already cut from."""
    return lambda image: list(
        segment(
            image,
            method="learned",
            finder=finder,
            kinds=False,
            sideways=False,
            orientation=False,
            banner=False,
            faint=False,
        ).lines()
    )


def segment(
    image,
    *,
    rtl: bool = False,
    max_skew: float = 15.0,
    work_side: int = WORK_SIDE,
    params: SegmentParams | None = None,
    method: str = "auto",
    finder=None,
    kinds: KindClassifier | Literal[False] | None = None,
    sideways: bool = True,
    orientation: UprightClassifier | Literal[False] | None = None,
    banner: bool = True,
    faint: bool = True,
) -> Page:
    """Find text regions and lines in a page image (Pillow image or grey/RGB array).

    Returns a Page whose regions are in reading order (columns left to right, or right to left
    when ``rtl``), each line with a polygon and a baseline in the original image's pixels.
    ``method``: "learned" (the line finder, ``finder`` or the bundled one), "classical" (the
    projection/seam method of this module, tuned by ``params``), or "auto": learned where a line
    finder is available, else classical. Which one ran is in ``page.metadata["segmentation"]``
    ("mspt learned" / "mspt classical"), the skew angle found in ``metadata["skew_degrees"]``.
    Each line's SegmOnto kind and each region's zone come from ``kinds`` (a ``KindClassifier``;
    None: the bundled one; False, or no bundled one: every line is a ``DefaultLine`` of a
    ``MainZone``). With the line finder, text written sideways (a note up the margin, a stamp
    on its side) is searched for too (``sideways``); its lines get baselines running down or up
    the page, in regions of their own (see ``layout.sideways``). A page scanned sideways or
    upside down is told by ``orientation`` (an ``UprightClassifier``; None: the bundled one;
    False, or no bundled one: pages are taken as scanned upright; see ``layout.orient``; with
    the line finder only, and not for ``rtl`` pages, whose scripts it did not learn): its lines
    are found on the page turned upright and carried back, baselines in their reading
    direction, and ``metadata["page_turn"]`` says by how many degrees the page had to be turned
    anticlockwise to read (``np.rot90``'s k times 90: a scan turned a quarter anticlockwise
    says "270"). A digital library's banner along the image's bottom or top edge (Gallica's
    "Source gallica.bnf.fr / ...") is not the document's: lines are found on the rest of the
    image only, and ``metadata["library_banner"]`` gives the banner's rows ("first-end", see
    ``layout.banner``; ``banner=False``: not looked for). With the line finder, lines far fainter
    than the page's writing (seen through the paper, a digitizer's pale mark, specks) are left
    out (``layout.faint``; ``faint=False``: kept), and ``metadata["faint_lines"]`` says how many.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method != "classical" and finder is None:
        finder = bundled()
        if finder is None and method == "learned":
            raise ModelFileError(f"{bundled_path()}: no usable line finder there; use the classical method")
    use_finder = method != "classical" and finder is not None
    params = params or SegmentParams()
    grey = to_grey(image)
    rows = banner_rows(grey) if banner else None
    scan = grey if rows is None else grey[rows[1] :] if rows[0] == 0 else grey[: rows[0]]
    finder = finder if use_finder else None
    page = _segment_as_given(scan, rtl, max_skew, work_side, params, finder, kinds, sideways, faint)
    classifier = bundled_upright() if orientation is None else orientation or None
    if finder is not None and classifier is not None and not rtl:  # the classifier learned Latin script only
        upright = [line for line in page.lines() if line_turn(line) == UPRIGHT]
        turn = page_turn(scan, upright, _finder_on(finder), classifier)
        if turn:
            righted = np.ascontiguousarray(np.rot90(scan, turn))
            page = _turned_back(
                _segment_as_given(righted, rtl, max_skew, work_side, params, finder, kinds, sideways, faint),
                turn,
                scan.shape,
            )
            page.metadata["page_turn"] = str(90 * turn)
    if rows is not None:
        first, end = rows
        _moved_down(page, end if first == 0 else 0, grey.shape)
        page.metadata["library_banner"] = f"{first}-{end}"
    return page


def _without(regions: list[Region], dropped: list[Line]) -> list[Region]:
    """``regions`` less the lines ``dropped`` (and less the regions left empty), each region's
    box fitted to the lines it keeps."""
    if not dropped:
        return regions
    for region in regions:
        kept = [line for line in region.lines if all(line is not gone for gone in dropped)]
        if len(kept) < len(region.lines) and kept:
            region.polygon = box_polygon(*bbox([p for line in kept for p in line.polygon]))
        region.lines = kept
    return [r for r in regions if r.lines]


def _carried(page: Page, to_image, size: tuple[int, int]) -> Page:
    """``page``, its points mapped by ``to_image`` (a list of points to a list of points) onto an
    image of ``size`` (height, width)."""
    for region in page.regions:
        region.polygon = to_image(region.polygon)
        for line in region.lines:
            line.polygon, line.baseline = to_image(line.polygon), to_image(line.baseline)
    page.height, page.width = size
    return page


def _moved_down(page: Page, rows: int, size: tuple[int, int]) -> Page:
    """``page``, found on the image below its first ``rows`` rows, on the whole image of ``size``."""
    return _carried(page, lambda points: [(x, y + rows) for x, y in points], size)


def _turned_back(page: Page, turn: int, size: tuple[int, int]) -> Page:
    """``page``, found on ``np.rot90(image, turn)``, on ``image`` of ``size`` (height, width)."""
    return _carried(
        page, lambda points: [(round(x, 1), round(y, 1)) for x, y in unturn_points(points, turn, size)], size
    )


def _segment_as_given(
    grey: np.ndarray,
    rtl: bool,
    max_skew: float,
    work_side: int,
    params: SegmentParams,
    finder,
    kinds: KindClassifier | Literal[False] | None,
    sideways: bool,
    faint: bool,
) -> Page:
    """``segment`` on the page as it lies (``finder``: None for the classical method)."""
    use_finder = finder is not None
    full_h, full_w = grey.shape
    scale = min(1.0, work_side / max(full_h, full_w))
    norm, binary = _working_copy(grey, scale)
    measured = _letter_height(binary) if use_finder else None  # the classical method measures after rotating
    if use_finder and scale < 1 and (measured is None or measured <= CHAR_FLOOR):
        # Small text on a large image (a big register, a newspaper, a letter photographed on a
        # table): at work_side the letters are at most a few pixels, or lost altogether. Take the
        # finest copy allowed, so the finder (which then reads it at more than its input side)
        # gets the detail the image has.
        scale = max(scale, min(1.0, (MAX_WORK_PIXELS / (full_h * full_w)) ** 0.5))
        norm, binary = _working_copy(grey, scale)
        measured = _letter_height(binary)
    angle = estimate_skew(binary, max_skew)
    matrix = np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    if abs(angle) >= 0.1:
        norm, matrix = rotate(norm, -angle, fill=255)
        if not use_finder:
            binary = remove_noise(sauvola(norm), min_area=3)
    inverse = cv2.invertAffineTransform(matrix)

    def back(points):
        pts = np.asarray(points, dtype=np.float64)
        mapped = pts @ inverse[:, :2].T + inverse[:, 2]
        mapped /= scale
        mapped[:, 0] = np.clip(mapped[:, 0], 0, full_w - 1)
        mapped[:, 1] = np.clip(mapped[:, 1], 0, full_h - 1)
        return [(round(float(x), 1), round(float(y), 1)) for x, y in mapped]

    if use_finder:
        blocks = _learned_blocks(norm, UNMEASURED_CHAR if measured is None else measured, finder, rtl)
    else:
        blocks = _classical_blocks(binary, _char_height(binary), params)
    page = Page(
        width=full_w,
        height=full_h,
        metadata={"skew_degrees": f"{angle:.2f}", "segmentation": "mspt learned" if use_finder else "mspt classical"},
    )
    regions = []
    for box, lines in blocks:
        region = Region(id="", polygon=back(box), region_type="MainZone")
        for polygon, baseline in lines:
            region.lines.append(Line(id="", polygon=back(polygon), baseline=back(baseline), line_type="DefaultLine"))
        regions.append(region)
    turned_regions = []
    if use_finder and sideways:
        groups, pieces = sideways_lines(grey, [ln for r in regions for ln in r.lines], _finder_on(finder))
        regions = _without(regions, pieces)
        for group in groups:
            for line in group:
                line.line_type = "DefaultLine"
            box = box_polygon(*bbox([p for line in group for p in line.polygon]))
            turned_regions.append(Region(id="", polygon=box, lines=group, region_type="MainZone"))
    # after the sideways search, which must see the stubs' ink as explained by lines (and may
    # find "turned lines" in a column of them)
    every = [line for region in regions + turned_regions for line in region.lines]
    stubs = [every[i] for i in facing_page_stubs([line.bbox() for line in every], full_w)]
    regions, turned_regions = _without(regions, stubs), _without(turned_regions, stubs)
    if use_finder and faint:  # the classical method was not measured so
        every = [line for region in regions + turned_regions for line in region.lines]
        pale = [every[i] for i in faint_lines(grey, [line.polygon for line in every])]
        regions, turned_regions = _without(regions, pale), _without(turned_regions, pale)
        if pale:
            page.metadata["faint_lines"] = str(len(pale))
    classifier = bundled_kinds() if kinds is None else kinds or None
    if classifier is not None and regions:  # it knows lines that run across the page only
        regions = assign_kinds(regions, full_w, full_h, classifier)
    page.regions = order_regions(regions + turned_regions, rtl=rtl)
    for i, region in enumerate(page.regions, 1):
        region.id = f"r{i}"
        for j, line in enumerate(region.lines, 1):
            line.id = f"r{i}_l{j}"
    return page

"""Cutting one text line out of a page for the recognizer.

``crop_line`` masks the line's polygon (everything outside becomes paper colour, so the
neighbouring lines' ascenders and descenders do not leak in), shifts every pixel column so the
baseline becomes a straight horizontal line, trims the bare rows the polygon reaches in only a
few columns (``ROW_SHARE``), and scales to the model's input height keeping the aspect ratio.
``place_line`` does the same and says where the crop's columns lie on the page (straightening
moves pixels only up and down), which is how positions the recognizer finds in a crop
(``Reading.char_x``) become page coordinates. A line written sideways (its baseline running down
or up the page) is cut from the page turned a quarter so that it reads left to right
(``turn.line_turn``); its crop then says the turn, and its columns lie on the turned page.

``crop_box`` is the other way lines arrive: the plain rectangle around the line plus a margin,
unmasked and unstraightened, as many library ALTO files and other tools give them (parts of the
neighbouring lines' ascenders and descenders are inside). The recognizer is trained on both.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mspt_core.data.batching import to_height
from mspt_core.document import Line
from mspt_core.layout.turn import line_turn, turned_line
from mspt_core.model.config import LINE_HEIGHT

# Extra pixels around the polygon's box, so a polygon drawn tight on the ink keeps its edges.
PAD = 2
# A straightened crop keeps the rows its polygon covers in more than this share of its columns,
# and every row with ink. A wavy outline, a flourish's bulge or a skewed polygon's corners reach
# a few rows of bare paper beyond the line's body in a few columns; kept, they make the crop
# taller and the letters smaller once it is scaled to the model's height. Chosen on the val
# splits (benchmarks/RESULTS.md): 0.1 read best through our own lines on the printed pages.
ROW_SHARE = 0.1
# Grey levels below the paper a pixel must be to count as ink when rows are trimmed.
INK_CONTRAST = 30


def _baseline_rows(baseline: list[tuple[float, float]], xs: np.ndarray) -> np.ndarray | None:
    """Baseline y at every column x (linear between points, flat beyond the ends)."""
    if len(baseline) < 2:
        return None
    points = sorted(baseline)
    bx = np.array([p[0] for p in points], dtype=np.float64)
    by = np.array([p[1] for p in points], dtype=np.float64)
    if bx[-1] - bx[0] < 1:
        return None
    # np.interp needs strictly increasing x; drop duplicates (vertical steps) keeping the first.
    keep = np.concatenate(([True], np.diff(bx) > 0))
    return np.interp(xs, bx[keep], by[keep])


def paper_level(pixels: np.ndarray) -> int:
    """Paper brightness of a grey crop: a high percentile, robust to the ink on it."""
    if pixels.size == 0:
        return 255
    return int(np.percentile(pixels, 90))


def _padded_box(image: np.ndarray, line: Line, pad: int, caller: str) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the line's polygon widened by ``pad`` px and clipped to the page;
    ValueError for a wrong image, a missing polygon or one outside the page."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"{caller} needs a greyscale uint8 image, got {image.dtype} {image.shape}")
    if len(line.polygon) < 3:
        raise ValueError(f"line {line.id} has no polygon to crop along")
    page_h, page_w = image.shape
    polygon = np.asarray(line.polygon, dtype=np.float64)
    x0 = max(int(np.floor(polygon[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(polygon[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(polygon[:, 0].max())) + pad + 1, page_w)
    y1 = min(int(np.ceil(polygon[:, 1].max())) + pad + 1, page_h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"line {line.id}: polygon lies outside the {page_w}x{page_h} image")
    return x0, y0, x1, y1


@dataclass(frozen=True)
class PlacedCrop:
    """A line crop and where it lies on the page: crop column ``x`` shows page column
    ``left + x / scale`` (rows are straightened, columns only shifted and scaled) of the page
    turned by ``np.rot90(page, turn)`` (0 for a line that is not written sideways)."""

    image: np.ndarray
    left: float
    scale: float
    turn: int = 0

    def page_x(self, x: float) -> float:
        return self.left + x / self.scale


def crop_line(image: np.ndarray, line: Line, height: int = LINE_HEIGHT) -> np.ndarray:
    """The line's pixels as a ``height`` x W' uint8 array, straightened along its baseline.

    ``image`` is the page as a greyscale uint8 array (H x W). The line needs a polygon; the
    baseline is optional (without one the crop is only masked, not straightened).
    Raises ValueError for a line without a polygon or with a polygon outside the image.
    """
    return place_line(image, line, height).image


def place_line(image: np.ndarray, line: Line, height: int = LINE_HEIGHT) -> PlacedCrop:
    """``crop_line``'s crop with where its columns lie on the page."""
    if height < 1:
        raise ValueError(f"height must be positive, got {height}")
    x0, y0, x1, y1 = _padded_box(image, line, PAD, "crop_line")
    turn = line_turn(line)
    if turn:
        line = turned_line(line, turn, image.shape)
        image = np.rot90(image, turn)
        x0, y0, x1, y1 = _padded_box(image, line, PAD, "crop_line")
    polygon = np.asarray(line.polygon, dtype=np.float64)

    box = np.ascontiguousarray(image[y0:y1, x0:x1])
    mask = np.zeros(box.shape, dtype=np.uint8)
    shifted = np.round(polygon - (x0, y0)).astype(np.int32)
    cv2.fillPoly(mask, [shifted], 255)
    if not mask.any():
        raise ValueError(f"line {line.id}: polygon covers no pixel of the image")
    paper = paper_level(box[mask > 0])
    cut = np.where(mask > 0, box, np.uint8(paper)).astype(np.uint8)

    rows = _baseline_rows(line.baseline, np.arange(x0, x1, dtype=np.float64))
    if rows is not None:
        cut, mask = _straighten(cut, mask, rows - y0, paper)

    # Trim to the polygon's extent after straightening: its rows held across a share of the line.
    top, bottom = _held_rows(cut, mask, paper)
    xs = np.flatnonzero(mask.any(axis=0))
    cut = cut[top : bottom + 1, xs[0] : xs[-1] + 1]
    scaled = to_height(cut, height)
    return PlacedCrop(scaled, float(x0 + xs[0]), scaled.shape[1] / cut.shape[1], turn)


def _held_rows(cut: np.ndarray, mask: np.ndarray, paper: int) -> tuple[int, int]:
    """First and last row of a straightened line to keep: those its polygon covers in more than
    ``ROW_SHARE`` of its columns, widened to every row with ink in it (a polygon drawn close
    around the letters reaches its ascenders' rows in a few columns only)."""
    inside = mask > 0
    held = np.flatnonzero(inside.mean(axis=1) > ROW_SHARE)
    if len(held) == 0:
        rows = np.flatnonzero(inside.any(axis=1))
        return int(rows[0]), int(rows[-1])
    # Ink: darker than halfway from the paper to the line's darkest pixels, and by at least
    # INK_CONTRAST (on a line with little ink the darkest per cent may be paper and its noise);
    # two pixels in a row, so a speck at the polygon's edge does not count.
    level = float(np.percentile(cut[inside], 1))
    threshold = min((paper + level) / 2, paper - INK_CONTRAST)
    inked = np.flatnonzero(((cut < threshold) & inside).sum(axis=1) >= 2)
    first, last = int(held[0]), int(held[-1])
    if len(inked):
        first, last = min(first, int(inked[0])), max(last, int(inked[-1]))
    return first, last


def _straighten(cut: np.ndarray, mask: np.ndarray, baseline_y: np.ndarray, paper: int):
    """Shift each column vertically so the baseline sits on one row; canvas grows to fit."""
    h, w = cut.shape
    offset = baseline_y - baseline_y.min()  # >= 0: how far this column's baseline sits lower
    spread = int(np.ceil(offset.max()))
    if spread < 1:
        return cut, mask
    out_h = h + spread
    rows = np.arange(out_h, dtype=np.float32)[:, None]
    # Output row r shows source row r - spread + offset(x): the baseline lands on one row.
    map_y = (rows - spread + offset[None, :]).astype(np.float32)
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32)[None, :], (out_h, w)).copy()
    straight = cv2.remap(cut, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=int(paper))
    straight_mask = cv2.remap(mask, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return straight, straight_mask


def crop_box(image: np.ndarray, line: Line, height: int | None = LINE_HEIGHT, margin: int = 4) -> np.ndarray:
    """The line's bounding rectangle widened by ``margin`` px on every side (clipped to the
    page), as a ``height`` x W' uint8 array (``height=None``: the page's pixels, unscaled),
    turned upright as ``crop_line`` turns a line written sideways.
    Raises ValueError as ``crop_line`` does."""
    x0, y0, x1, y1 = _padded_box(image, line, margin, "crop_box")
    box = np.ascontiguousarray(np.rot90(image[y0:y1, x0:x1], line_turn(line)))
    return box if height is None else to_height(box, height)

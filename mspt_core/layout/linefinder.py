"""Learned line finding: a small fully convolutional network marks two things on a page, at half
its input resolution:

- the **body** of every text line: the inside of its polygon, ascenders and descenders included;
- the **core** of every text line: the band from its baseline up to half-way to the polygon's
  top (about the x-height). Cores of neighbouring lines stay apart even where the lines'
  ascenders and descenders touch, so each core is one line.

``find_lines`` turns the two maps into lines: cores are the instances (pieces of one core broken
at a wide word gap are joined where the body map runs on between them), each body pixel goes to
the nearest core, the line's polygon is the outline of its pixels and its baseline is the lower
edge of its core (cores are cut apart at ``core_threshold``, chosen on val; baselines follow the
map at ``BASELINE_LEVEL`` whatever that threshold is). The network is trained on the train split
of our ground truth (``mspt_core.train.linefinder``, recipe in ``packaging/line_finder``); the
bundled file is a safetensors file with its settings in the metadata (no code, no pickle).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mspt_core import tensorfile
from mspt_core.errors import ModelFileError
from mspt_core.layout.gutters import gutter_cuts
from mspt_core.layout.order import xy_cut_order

if TYPE_CHECKING:
    from mspt_core.onnx_engine import OnnxLineNet

log = logging.getLogger(__name__)

ENGINE_VARIABLE = "MSPT_FINDER_ENGINE"  # "torch": never ONNX Runtime for the line finder
FORMAT = "mspt-line-finder"
CORE_SHARE = 0.5  # the core reaches from the baseline this share of the way up to the polygon's top
BASELINE_LEVEL = 0.5  # baselines sit where the core map's lower edge is at this probability, whatever
# ``core_threshold`` cuts lines apart at: a higher cut separates touching lines, it does not lift baselines
STRIDE = 32  # the input is padded to a multiple of this (four poolings below the half-res stem)


@dataclass
class LineFinderConfig:
    widths: tuple[int, ...] = (16, 32, 48, 64, 96)  # channels at 1/2, 1/4, 1/8, 1/16, 1/32
    input_side: int = 1600  # pages are read scaled so their longer side has this many pixels
    train_side: int = 1280  # the same in training (each page at 0.8, 1 and 1.25 times it)
    core_threshold: float = 0.5
    body_threshold: float = 0.5
    join_gap: float = 6.0  # join core pieces up to this many core heights apart if the body runs on:
    join_body_mean: float = 0.3  # mean body probability along the gap, and
    join_body_floor: float = 0.05  # the probability that 90% of the gap must exceed (a gutter is ~0)

    @classmethod
    def from_json(cls, data: dict) -> LineFinderConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "widths" in known:
            known["widths"] = tuple(int(w) for w in known["widths"])
        return cls(**known)


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class LineNet(nn.Module):
    """U-Net: a stride-2 stem, four downsampling stages, a wide-context bottleneck (dilated
    convolutions, lines are long), and an upsampling path with skips back to half resolution.
    Output: two logit maps (core, body) at half the input size."""

    def __init__(self, config: LineFinderConfig):
        super().__init__()
        w = config.widths
        self.stem = _block(1, w[0], stride=2)
        self.down = nn.ModuleList(_block(w[i], w[i + 1], stride=2) for i in range(len(w) - 1))
        self.context = nn.Sequential(
            *[
                nn.Sequential(
                    nn.Conv2d(w[-1], w[-1], 3, padding=d, dilation=d, bias=False),
                    nn.BatchNorm2d(w[-1]),
                    nn.ReLU(inplace=True),
                )
                for d in (2, 4, 8)
            ]
        )
        self.up = nn.ModuleList(_block(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1)))
        self.head = nn.Conv2d(w[0], 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for stage in self.down:
            skips.append(stage(skips[-1]))
        y = skips.pop()
        y = y + self.context(y)
        for stage in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = stage(torch.cat([y, skip], dim=1))
        return self.head(y)


def prepare(norm: np.ndarray) -> torch.Tensor:
    """Network input from an illumination-normalized grey page (paper ~255): 1 x 1 x H x W,
    padded with paper to a multiple of ``STRIDE``."""
    h, w = norm.shape
    ph, pw = -h % STRIDE, -w % STRIDE
    padded = np.pad(norm, ((0, ph), (0, pw)), constant_values=255) if ph or pw else norm
    x = torch.from_numpy(np.ascontiguousarray(padded)).float()
    return ((255.0 - x) / 255.0)[None, None]  # ink high, paper zero: padding is "nothing"


# --- model files ------------------------------------------------------------------------------


@dataclass
class LineFinder:
    net: LineNet
    config: LineFinderConfig
    metadata: dict = field(default_factory=dict)
    # Run the network with ONNX Runtime (``onnx_engine.OnnxLineNet``: the network 1.4-1.8 times
    # as fast on a CPU) where it can: only for a finder whose weights no longer change (the
    # bundled one, one loaded to be compared with it), and unless $MSPT_FINDER_ENGINE is "torch".
    # PyTorch otherwise, and from the first failure on.
    onnx: bool = field(default=False, kw_only=True)
    _onnx_net: OnnxLineNet | None = field(default=None, init=False, repr=False, compare=False)
    _onnx_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @torch.no_grad()
    def maps(self, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(core, body) probability maps at half the size of ``norm`` (which is at input scale).
        The net is left in the mode it is in (eval once loaded): it may be shared by threads."""
        page = prepare(norm)
        logits = self._onnx_logits(page)
        if logits is None:
            logits = self.net(page)[0]
        h, w = (norm.shape[0] + 1) // 2, (norm.shape[1] + 1) // 2
        probs = torch.sigmoid(logits[:, :h, :w].float()).numpy()
        return probs[0], probs[1]

    def ready(self) -> LineFinder:
        """Itself, its ONNX Runtime session made now (the graph exported if not cached yet)
        rather than on the first page, so that pages can be timed from the first."""
        self._onnx_session()
        return self

    def _onnx_session(self) -> OnnxLineNet | None:
        from mspt_core.onnx_engine import OnnxLineNet, UnavailableError

        with self._onnx_lock:  # one export and one session, whichever thread asks first
            if not self.onnx or os.environ.get(ENGINE_VARIABLE) == "torch":
                return None
            if self._onnx_net is None:
                try:
                    self._onnx_net = OnnxLineNet(self.net, {"widths": list(self.config.widths)}, STRIDE)
                except UnavailableError as error:  # no ONNX Runtime, a failed export, a damaged cache
                    self._give_up_onnx(error)
            return self._onnx_net

    def _give_up_onnx(self, error: Exception) -> None:
        log.warning("the line finder runs on PyTorch: ONNX Runtime cannot run it (%s)", error)
        self.onnx = False

    def _onnx_logits(self, page: torch.Tensor) -> torch.Tensor | None:
        session = self._onnx_session()
        if session is None:
            return None
        try:
            return torch.from_numpy(session(page.numpy()))[0]
        except Exception as error:  # ONNX Runtime's own errors: a page the graph cannot take
            with self._onnx_lock:
                if self.onnx:
                    self._give_up_onnx(error)
            return None


def save_line_finder(path: Path, net: LineNet, config: LineFinderConfig, provenance: dict | None = None) -> Path:
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    meta = {"format": FORMAT, "format_version": 1, "config": asdict(config), "provenance": provenance or {}}
    return tensorfile.write(path, tensors, {"mspt": meta})


def _checked_config(path: Path, meta: dict) -> LineFinderConfig:
    """The settings in a file's metadata, refused unless sane (they size the network)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ModelFileError(f"{path}: not an mspt line finder (format is {found!r})")
    tensorfile.check_format_version(path, meta, 1)
    try:
        config = LineFinderConfig.from_json(meta["config"])
        ok = (
            2 <= len(config.widths) <= 8
            and all(1 <= w <= 1024 for w in config.widths)
            and 64 <= config.input_side <= 16384
            and 64 <= config.train_side <= 16384
            and 0 < config.core_threshold < 1
            and 0 < config.body_threshold < 1
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{path}: unreadable line-finder settings ({error})") from error
    if not ok:
        raise ModelFileError(f"{path}: line-finder settings out of range: {meta['config']}")
    return config


def load_line_finder(path: Path, onnx: bool = False) -> LineFinder:
    """The line finder in ``path``; ``onnx``: run by ONNX Runtime where it can (``LineFinder``)."""
    path = Path(path)
    file = tensorfile.open_file(path, "line-finder file")
    meta = file.json("mspt") if "mspt" in file.header else {}
    if not isinstance(meta, dict):
        meta = {}  # refused just below, as a file without settings
    config = _checked_config(path, meta)
    net = LineNet(config)
    own = net.state_dict()
    tensorfile.check_shapes(file, {k: tuple(v.shape) for k, v in own.items()}, detail="the line finder's settings")
    net.load_state_dict({k: v.to(own[k].dtype) for k, v in file.tensors().items()})
    return LineFinder(net.eval(), config, meta, onnx=onnx)


def bundled_path() -> Path:
    from mspt_core import resources

    return resources.line_finder()


@lru_cache(maxsize=1)
def bundled() -> LineFinder | None:
    """The line finder shipped with mspt, or None where it is missing or unreadable (then
    segmentation falls back to the classical method, with one warning)."""
    return tensorfile.bundled_or_none(
        bundled_path(),
        partial(load_line_finder, onnx=True),
        "the bundled line finder cannot be used, lines are found the classical way",
    )


# --- from maps to lines ------------------------------------------------------------------------


class _Groups:
    """Union-find over 0..n-1: which items ended up together."""

    def __init__(self, n: int):
        self.parent = np.arange(n)

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return int(i)

    def join(self, a: int, b: int) -> None:
        self.parent[self.root(b)] = self.root(a)


def _end_row(labels: np.ndarray, piece: int, column: int) -> float:
    """Mean row of a piece in one of its own columns (its first or last: never empty)."""
    return float(np.flatnonzero(labels[:, column] == piece).mean()) if piece else 0.0


def _join_broken_cores(
    labels: np.ndarray, stats: np.ndarray, body: np.ndarray, thickness: float, config: LineFinderConfig
) -> tuple[np.ndarray, list[tuple[int, int, int, int, int]]]:
    """Map from core piece to line: a piece whose left end continues, at the same height, a
    little to the right of another piece's right end, with the body map running on across the
    gap, is the same line broken at a wide word space. (Ends, not boxes: a sloping line's box is
    many lines tall.) Also returns each join as (piece, x0, y0, x1, y1): the gap it spans."""
    count = len(stats)
    joins = []
    groups = _Groups(count)
    left = stats[:, cv2.CC_STAT_LEFT]
    right = left + stats[:, cv2.CC_STAT_WIDTH] - 1
    order = sorted(range(1, count), key=lambda i: left[i])
    right_rows = [_end_row(labels, i, right[i]) for i in range(count)]  # each end read once
    left_rows = [_end_row(labels, i, left[i]) for i in range(count)]
    for a in range(1, count):
        ya = right_rows[a]
        best = None
        for b in order:
            gap = left[b] - right[a]
            if b == a or gap < -thickness:
                continue
            if gap > config.join_gap * thickness:
                break
            yb = left_rows[b]
            if abs(yb - ya) > 1.5 * thickness:
                continue
            if best is None or gap < best[1]:
                best = (b, gap, yb)
        if best is None:
            continue
        b, _, yb = best
        n = max(abs(left[b] - right[a]) + 1, 2)
        xs = np.linspace(right[a], left[b], n).round().astype(int)
        ys = np.linspace(ya, yb, n).round().astype(int)
        path = body[ys, xs]
        if path.mean() >= config.join_body_mean and (path >= config.join_body_floor).mean() >= 0.9:
            groups.join(a, b)
            joins.append((a, int(right[a]), int(round(ya)), int(left[b]), int(round(yb))))
    line_of = np.array([groups.root(i) for i in range(count)])
    return line_of, [(int(line_of[a]), x0, y0, x1, y1) for a, x0, y0, x1, y1 in joins]


def _outline(mask: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    contour = cv2.approxPolyDP(contour, 1.0, True)[:, 0, :].astype(np.float64)
    return contour if len(contour) >= 3 else None


def _bottoms(mask: np.ndarray) -> np.ndarray:
    """Each column's lowest set row (the last row where a column is empty: callers skip those)."""
    return mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0)


def _edge_core(own_core: np.ndarray, edge: np.ndarray) -> np.ndarray:
    """A line's core (cut at ``core_threshold``) grown to its core at ``BASELINE_LEVEL``
    (``edge``, within the line's pixels): only the part joined to it, so a fainter line below,
    whose core never reached the threshold, is not taken for this one's lower edge."""
    _, labels = cv2.connectedComponents((edge | own_core).astype(np.uint8), connectivity=8)
    return np.isin(labels, np.unique(labels[own_core]))  # a kept line's core is never empty: no 0 here


def _baseline(core: np.ndarray, x0: int, x1: int, height: float) -> np.ndarray:
    """Lower edge of a core, smoothed, sampled every couple of core heights: (x, y) points."""
    cols = np.arange(x0, x1 + 1)
    sub = core[:, x0 : x1 + 1]
    present = sub.any(axis=0)
    bottom = _bottoms(sub) + 0.5  # the targets end on the baseline's row
    ys: np.ndarray = np.interp(cols, cols[present], bottom[present])
    if len(ys) > 3:
        ys = cv2.GaussianBlur(ys.reshape(1, -1).astype(np.float64), (0, 1), sigmaX=max(height, 1.0)).ravel()
    xs = np.unique(np.concatenate([np.arange(x0, x1, max(2.0 * height, 4.0)), [x1]]).round().astype(int))
    return np.stack([xs, np.interp(xs, cols, ys)], axis=1)


def find_lines(
    core_p: np.ndarray, body_p: np.ndarray, config: LineFinderConfig, ink: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(polygon, baseline) point arrays, in the maps' pixel coordinates, one per line found.
    ``ink`` (bool, the maps' size) lets lines joined across a spread's fold or a column rule be
    cut apart there (``_rule_cuts``), and lines joined across a white gutter too (``gutters``)."""
    core = (core_p >= config.core_threshold).astype(np.uint8)
    core_edge = core_p >= BASELINE_LEVEL
    body = body_p >= config.body_threshold
    count, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
    if count <= 1:
        return []
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    thicknesses = areas / stats[1:, cv2.CC_STAT_WIDTH]  # not box heights: lines may slope
    height = float(np.median(np.repeat(thicknesses, np.maximum(areas.astype(int) // 16, 1))))  # by size
    line_of, joins = _join_broken_cores(labels, stats, body_p, height, config)
    line_map = line_of[labels]  # 0 stays background
    # Every body pixel belongs to the nearest core (Euclidean), through the core pieces' labels.
    _, nearest = cv2.distanceTransformWithLabels(
        np.where(core > 0, 0, 255).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_CCOMP
    )
    piece_to_line = np.zeros(nearest.max() + 1, dtype=np.int64)
    ys, xs = np.nonzero(core)
    piece_to_line[nearest[ys, xs]] = line_map[ys, xs]
    owner = np.where(body | (core > 0), piece_to_line[nearest], 0).astype(np.int32)
    for line, x0, y0, x1, y1 in joins:  # the bodies of joined pieces may not meet: bridge them
        cv2.line(owner, (x0, y0), (x1, y1), int(line), thickness=max(1, int(round(height))))

    min_area = 2.0 * height * height
    kept = [
        line
        for line in np.unique(line_of[1:])
        if stats[np.flatnonzero(line_of == line), cv2.CC_STAT_AREA].sum() >= min_area
    ]  # no specks
    masks = {}
    for line in kept:
        ys, xs = np.nonzero(owner == line)
        y0, x0 = ys.min(), xs.min()
        mask = np.zeros((ys.max() - y0 + 1, xs.max() - x0 + 1), bool)
        mask[ys - y0, xs - x0] = True
        masks[line] = _LineMask(int(y0), int(x0), mask)
    cuts: dict[int, list[int]] = {}
    if ink is not None:
        cuts = _rule_cuts(masks, ink, height)
        for line, at in gutter_cuts(masks, ink, height, cuts).items():
            cuts[line] = sorted(set(cuts.get(line, [])) | set(at))
    found = []
    for line in kept:
        own = masks[line]
        box = (slice(own.y0, own.y0 + own.mask.shape[0]), slice(own.x0, own.x0 + own.mask.shape[1]))
        own_core = line_map[box] == line
        # the baseline follows the line's core at BASELINE_LEVEL, whatever it was cut apart at
        own_edge = (
            _edge_core(own_core, core_edge[box] & own.mask) if config.core_threshold > BASELINE_LEVEL else own_core
        )
        edges = [0] + [x - own.x0 for x in cuts.get(line, [])] + [own.mask.shape[1]]
        for lo, hi in pairwise(edges):
            piece_core = own_core[:, lo:hi]
            if piece_core.sum() < min_area:
                continue
            cols = np.flatnonzero(piece_core.any(axis=0))
            piece = np.zeros_like(own.mask)
            piece[:, lo:hi] = own.mask[:, lo:hi]
            polygon = _outline(piece)
            if polygon is None:
                continue
            baseline = _baseline(own_edge, lo + int(cols[0]), lo + int(cols[-1]), height)
            found.append((polygon + (own.x0, own.y0), baseline + (own.x0, own.y0)))
    return found


@dataclass
class _LineMask:
    """A line's pixels: a bool mask over the box whose top-left corner is (x0, y0)."""

    y0: int
    x0: int
    mask: np.ndarray


WRITTEN_ACROSS = 0.5  # share of the lines a rule crosses with writing right up to it on both sides
RULE_BLUR = 0.25  # line thicknesses beside a rule that may be its own blurred edge, not letters
GUTTER = 1.0  # line thicknesses beyond the blur where letters that run up to a rule have ink
LETTER_INK = 0.04  # share of that band inked where they do (a gutter leaves it white)


def _rule_cuts(masks: dict[int, _LineMask], ink: np.ndarray, height: float) -> dict[int, list[int]]:
    """Where a line runs across a vertical rule (the fold of a spread, a column rule) the maps
    may join the text on both sides of it: cut the line at the rule. A rule is ink that stays
    after an opening with a thin vertical bar several lines tall; no letter is that tall. A
    rule is not cut at where the text runs over it: the ruled columns of ledger or account
    paper, which a hand writes straight across, cross most lines beside them, with writing
    right up to them on both sides (``_written_across``); a fold or a column rule is crossed
    only by the few lines the maps joined over it, each other line ending or starting there."""
    bar = max(3, int(round(18 * height)))
    rules = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN, np.ones((bar, 1), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(rules, connectivity=8)
    cuts: dict[int, list[int]] = {}
    columns = {line: own.x0 + np.flatnonzero(own.mask.any(axis=0)) for line, own in masks.items()}  # once a page
    for rule in range(1, count):
        x, y, w, h, _ = stats[rule]
        if w > 0.25 * h:
            continue  # a blot, not a rule
        centre = x + w // 2
        reach = int(2 * height)
        top, bottom = y - bar, y + h + bar  # the rule's rows, and its run on for a few lines: folds fade
        crossed, beside = [], 0
        for line, own in masks.items():
            cols = columns[line]
            local = centre - own.x0
            # A line crosses the rule with its text on both sides of it, in the rule's rows.
            if centre - cols[0] > 2 * height and cols[-1] - centre > 2 * height:
                near = own.mask[:, max(local - reach, 0) : local + reach + 1].any(axis=1)
                rows = own.y0 + np.flatnonzero(near)
                if len(rows) and rows[0] <= bottom and rows[-1] >= top:
                    crossed.append((line, rows))
                    continue
            beside += _ends_at(own, cols, centre, top, bottom, reach)
        if len(crossed) > beside:
            written = sum(_written_across(ink, rows, x, x + w, height) for _, rows in crossed)
            if written > WRITTEN_ACROSS * len(crossed):
                continue  # a ruled column the text runs over, not a gutter
        for line, _ in crossed:
            cuts.setdefault(line, []).append(int(centre))
    return {line: sorted(set(xs)) for line, xs in cuts.items()}


def _ends_at(own: _LineMask, cols: np.ndarray, centre: int, top: int, bottom: int, reach: int) -> bool:
    """Whether a line that does not cross a rule ends or starts within ``reach`` of it (on
    either side, or just past it), in the rule's rows ``top``..``bottom``."""
    meets = own.y0 <= bottom and own.y0 + own.mask.shape[0] - 1 >= top
    return meets and min(abs(int(cols[0]) - centre), abs(int(cols[-1]) - centre)) <= reach


def _written_across(ink: np.ndarray, rows: np.ndarray, x0: int, x1: int, height: float) -> bool:
    """Whether a line's writing runs up to a rule (columns ``x0``..``x1`` - 1) on both sides:
    ink in the band of ``GUTTER`` line thicknesses just past its blurred edges, over the line's
    ``rows``."""
    band, edge = max(2, int(round(GUTTER * height))), max(2, int(round(RULE_BLUR * height)))
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left = ink[top:bottom, max(x0 - edge - band, 0) : max(x0 - edge, 0)]
    right = ink[top:bottom, x1 + edge : x1 + edge + band]
    return all(side.size and side.mean() >= LETTER_INK for side in (left, right))


def group_into_blocks(
    boxes: list[tuple[float, float, float, float]], pitch: float, rtl: bool = False
) -> list[list[int]]:
    """Lines (by box) grouped into text blocks: lines overlapping horizontally with less than
    about a line of white between them are one block. Each block's lines in reading order
    (``rtl``: pieces of a line side by side read right to left)."""
    n = len(boxes)
    groups = _Groups(n)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = boxes[i], boxes[j]
            overlap = min(a[2], b[2]) - max(a[0], b[0])
            gap = max(a[1], b[1]) - min(a[3], b[3])
            if overlap > 0.25 * min(a[2] - a[0], b[2] - b[0]) and gap < 1.2 * pitch:
                groups.join(i, j)
    blocks: dict[int, list[int]] = {}
    for i in range(n):
        blocks.setdefault(groups.root(i), []).append(i)
    # Within a block, XY-cut again: a line spanning two columns can chain them into one block,
    # and each column must still be read to its end.
    return [[members[k] for k in xy_cut_order([boxes[i] for i in members], rtl)] for members in blocks.values()]

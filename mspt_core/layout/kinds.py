"""What kind of line each found line is, as SegmOnto says it: a heading or an interlinear
addition rather than a line of the text (``DefaultLine``), and in what zone: the main text, a
marginal note (``MarginTextZone``) or a page or folio number (``NumberingZone``).

A line's kind shows in where it sits among the others: a page number is short and alone at the
top or bottom, a marginal note sits beside the main column, an interlinear addition is small and
squeezed between two lines. So the classifier sees only the lines' boxes on the page
(``line_features``: sizes relative to the page's lines, position relative to the main column,
gaps to the neighbours, the block it falls in) and is a small network with two heads, one for
the line kind and one for the zone, fitted on the lines of the train splits of every set in
``../shared/data`` that labels them, the ground truth's own and those our segmentation finds
there (``packaging/line_kinds``). A kind it could not
tell apart on the val splits is switched off in its file and never said. It ships as a tensors
+ JSON file beside the line finder; without it every found line stays a ``DefaultLine`` of a
``MainZone``, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import groupby
from pathlib import Path

import numpy as np
import torch

from mspt_core import resources, tensorfile
from mspt_core.document import Line, Page, Region, box_polygon
from mspt_core.errors import ModelFileError
from mspt_core.layout.evaluate import Match, pair_lines
from mspt_core.layout.linefinder import group_into_blocks

FORMAT = "mspt-line-kinds"
LINE_KINDS = ("DefaultLine", "HeadingLine", "InterlinearLine")
ZONE_KINDS = ("MainZone", "MarginTextZone", "NumberingZone")
FEATURES = 22
GAP_CAP = 5.0  # gaps to the neighbours, in median line heights, are capped here ("none")

Box = tuple[float, float, float, float]


OTHER = 3  # a labelled line of a kind the classifier does not learn (see the two functions below)
# PAGE's own region types, as SegmOnto zones: the classifier learns three zones; a line in any
# other labelled zone (tables, title pages, stamps, running titles, footnotes, ...) is OTHER.
PAGE_ZONES = {
    "paragraph": "MainZone",
    "heading": "MainZone",
    "caption": "MainZone",
    "page-number": "NumberingZone",
    "marginalia": "MarginTextZone",
}


def line_kind_index(label: str | None) -> int:
    """The class of a ground-truth line type in ``LINE_KINDS``; ``OTHER`` for a kind the
    classifier does not learn (``DropCapitalLine``), -1 for no label. Subtypes
    (``HeadingLine:title``) count as their type; kraken's ``default`` is ``DefaultLine``."""
    kind = (label or "").partition(":")[0]
    kind = "DefaultLine" if kind == "default" else kind
    return LINE_KINDS.index(kind) if kind in LINE_KINDS else OTHER if kind else -1


def zone_kind_index(label: str | None) -> int:
    """The class of a ground-truth region type in ``ZONE_KINDS`` (PAGE's own types mapped by
    ``PAGE_ZONES``); ``OTHER`` for any other zone, -1 for no label. A wrong call on an OTHER
    line counts against the classifier when it is scored; it is not learned from."""
    kind = (label or "").partition(":")[0]
    kind = PAGE_ZONES.get(kind, kind)
    return ZONE_KINDS.index(kind) if kind in ZONE_KINDS else OTHER if kind else -1


def line_features(boxes: Sequence[Box], width: float, height: float) -> np.ndarray:
    """(lines, FEATURES) for the line boxes (x0, y0, x1, y1) of one page of ``width`` x
    ``height``: the same for ground-truth and found lines, and the same at any scan resolution
    (lengths are measured in the page's median line height or width)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = len(b)
    if n == 0:
        return np.zeros((0, FEATURES), np.float32)
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    w = np.maximum(b[:, 2] - b[:, 0], 1.0)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    line_h, line_w = float(np.median(h)), float(np.median(w))
    blocks = group_into_blocks([tuple(box) for box in b], line_h)
    block_of = np.zeros(n, int)
    for k, members in enumerate(blocks):
        block_of[members] = k
    spans = np.array([[b[m, 0].min(), b[m, 1].min(), b[m, 2].max(), b[m, 3].max()] for m in blocks])
    # The main column: the block with the most text (lines x width).
    main = int(np.argmax([len(m) * (spans[k, 2] - spans[k, 0]) for k, m in enumerate(blocks)]))
    mx0, my0, mx1, my1 = spans[main]
    main_w, main_h = max(mx1 - mx0, 1.0), max(my1 - my0, 1.0)
    top, bottom = b[:, 1].min(), b[:, 3].max()
    rows = []
    for i in range(n):
        k = block_of[i]
        members = blocks[k]
        bx0, _, bx1, _ = spans[k]
        block_w = max(bx1 - bx0, 1.0)
        overlap = np.minimum(b[:, 2], b[i, 2]) - np.maximum(b[:, 0], b[i, 0])
        overlap[i] = -1
        above, below = (overlap > 0) & (b[:, 3] <= cy[i]), (overlap > 0) & (b[:, 1] >= cy[i])
        gap_above = (b[i, 1] - b[above, 3]).min() / line_h if above.any() else GAP_CAP
        gap_below = (b[below, 1] - b[i, 3]).min() / line_h if below.any() else GAP_CAP
        left, right = (b[i, 0] - bx0) / block_w, (bx1 - b[i, 2]) / block_w
        rows.append(
            [
                np.log(h[i] / line_h),
                np.log(w[i] / line_w),
                np.log(h[i] / np.median(h[members])),
                np.log(w[i] / h[i]),
                (cx[i] - mx0) / main_w,
                (b[i, 0] - mx0) / main_w,
                (b[i, 2] - mx0) / main_w,
                (cy[i] - top) / max(bottom - top, 1.0),
                (cy[i] - my0) / main_h,
                min(gap_above, GAP_CAP),
                min(gap_below, GAP_CAP),
                np.log(len(members)),
                np.log(block_w / main_w),
                max(0.0, min(bx1, mx1) - max(bx0, mx0)) / block_w,  # share of the block over the main column
                float(k == main),
                left,
                right,
                abs(left - right),  # centred
                float(i == members[0]),
                float(i == members[-1]),
                cx[i] / max(width, 1.0),
                cy[i] / max(height, 1.0),
            ]
        )
    return np.asarray(rows, np.float32)


def page_examples(page: Page) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ground-truth page's lines as training examples: their features (from the lines' boxes
    alone, as for found lines) and their line-kind and zone classes (-1 where not known)."""
    lines = [(line, region) for line, region in page.lines_with_regions() if line.polygon or line.baseline]
    features = line_features([line.bbox() for line, _ in lines], page.width, page.height)
    kinds = np.array([line_kind_index(line.line_type) for line, _ in lines], dtype=np.int64)
    zones = np.array([zone_kind_index(region.region_type) for _, region in lines], dtype=np.int64)
    return features, kinds, zones


def paired_classes(truth: Page, found: Page) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each line a segmentation ``found`` on a ground-truth page (in ``found.lines()``
    order): the line-kind and zone class of the ground-truth line it pairs with (box IoU >= 0.5,
    as ``evaluate.pair_lines``), -1 where none does, and whether one does."""
    found_lines = list(found.lines())
    true_lines = list(truth.lines_with_regions())
    kinds = np.full(len(found_lines), -1, dtype=np.int64)
    zones = np.full(len(found_lines), -1, dtype=np.int64)
    paired = np.zeros(len(found_lines), dtype=bool)
    pairs = pair_lines(
        [line.polygon for line, _ in true_lines], [line.polygon for line in found_lines], (found.height, found.width)
    )
    for i, j in pairs:
        kinds[j] = line_kind_index(true_lines[i][0].line_type)
        zones[j] = zone_kind_index(true_lines[i][1].region_type)
        paired[j] = True
    return kinds, zones, paired


def found_examples(truth: Page, found: Page) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lines a segmentation ``found`` on a ground-truth page as training examples: features
    from the found lines' boxes (as the classifier sees them in use), classes from the
    ground-truth lines they pair with (``paired_classes``)."""
    features = line_features([line.bbox() for line in found.lines()], found.width, found.height)
    kinds, zones, _ = paired_classes(truth, found)
    return features, kinds, zones


def kind_scores(predicted: np.ndarray, truth: np.ndarray, names: Sequence[str]) -> dict[str, Match]:
    """How well each class but the default (class 0) is told, over the lines whose class is
    known (``truth`` >= 0, ``OTHER`` included): ``ground_truth`` lines have it, it was ``found``
    (said) on so many, ``matched`` of them rightly."""
    known = truth >= 0
    p, t = predicted[known], truth[known]
    return {
        name: Match(int((t == k).sum()), int((p == k).sum()), int(((p == k) & (t == k)).sum()))
        for k, name in enumerate(names[1:], 1)
    }


@dataclass
class KindClassifier:
    """Two softmax heads on one small hidden layer over standardized ``line_features``."""

    mean: np.ndarray  # (FEATURES,)
    scale: np.ndarray
    hidden_weight: np.ndarray  # (hidden, FEATURES)
    hidden_bias: np.ndarray  # (hidden,)
    line_weight: np.ndarray  # (len(LINE_KINDS), hidden)
    line_bias: np.ndarray
    zone_weight: np.ndarray  # (len(ZONE_KINDS), hidden)
    zone_bias: np.ndarray
    # The kinds it may say; a kind it could not tell apart on val is left out (class 0, the
    # default, always stays).
    line_kinds: tuple[str, ...] = LINE_KINDS
    zone_kinds: tuple[str, ...] = ZONE_KINDS
    metadata: dict = field(default_factory=dict)

    def probabilities(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(line kind) and P(zone) for each row of ``features``."""
        hidden = np.tanh(((features - self.mean) / self.scale) @ self.hidden_weight.T + self.hidden_bias)
        return _softmax(hidden @ self.line_weight.T + self.line_bias), _softmax(
            hidden @ self.zone_weight.T + self.zone_bias
        )

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The line-kind and zone class of each row of ``features``, among the kinds it may say."""
        lines, zones = self.probabilities(features)
        return _allowed(lines, LINE_KINDS, self.line_kinds), _allowed(zones, ZONE_KINDS, self.zone_kinds)

    def classify(self, boxes: Sequence[Box], width: float, height: float) -> tuple[list[str], list[str]]:
        """The line kind and the zone of each line of a page, from all its line boxes."""
        if not len(boxes):
            return [], []
        lines, zones = self.predict(line_features(boxes, width, height))
        return [LINE_KINDS[k] for k in lines], [ZONE_KINDS[k] for k in zones]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _allowed(probs: np.ndarray, names: tuple[str, ...], allowed: tuple[str, ...]) -> np.ndarray:
    keep = np.array([name in allowed or i == 0 for i, name in enumerate(names)])
    return np.where(keep, probs, -1.0).argmax(axis=1)


def fit_kinds(
    features: np.ndarray,
    line_labels: np.ndarray,
    zone_labels: np.ndarray,
    hidden: int = 16,
    l2: float = 1e-2,
    class_weight_power: float = 0.5,
    seed: int = 0,
) -> KindClassifier:
    """Fit both heads together (L-BFGS on the full set, deterministic for a seed). Labels are
    class indices, -1 (or ``OTHER``) where a line's kind (or zone) is not learned; rare classes weigh more
    (inverse frequency to ``class_weight_power``), the weights L2-penalized by ``l2``."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    x = torch.tensor((features - mean) / scale, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    params = {
        "hidden_weight": torch.randn(hidden, x.shape[1], generator=generator, dtype=torch.float64) / x.shape[1] ** 0.5,
        "hidden_bias": torch.zeros(hidden, dtype=torch.float64),
        "line_weight": torch.randn(len(LINE_KINDS), hidden, generator=generator, dtype=torch.float64) / hidden**0.5,
        "line_bias": torch.zeros(len(LINE_KINDS), dtype=torch.float64),
        "zone_weight": torch.randn(len(ZONE_KINDS), hidden, generator=generator, dtype=torch.float64) / hidden**0.5,
        "zone_bias": torch.zeros(len(ZONE_KINDS), dtype=torch.float64),
    }
    for p in params.values():
        p.requires_grad_(True)
    heads = []
    for labels, classes, prefix in ((line_labels, len(LINE_KINDS), "line"), (zone_labels, len(ZONE_KINDS), "zone")):
        known = (labels >= 0) & (labels < classes)  # OTHER is scored against, not learned
        counts = np.bincount(labels[known], minlength=classes).astype(np.float64)
        weight = (counts.sum() / np.maximum(counts, 1.0)) ** class_weight_power
        heads.append(
            (
                prefix,
                torch.from_numpy(known),
                torch.from_numpy(labels[known]).long(),
                torch.from_numpy(weight / weight.mean()),
            )
        )
    optimizer = torch.optim.LBFGS(list(params.values()), max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        h = torch.tanh(x @ params["hidden_weight"].T + params["hidden_bias"])
        loss = l2 * sum((params[k] ** 2).sum() for k in ("hidden_weight", "line_weight", "zone_weight"))
        for prefix, known, labels, weight in heads:
            if len(labels):
                logits = h[known] @ params[f"{prefix}_weight"].T + params[f"{prefix}_bias"]
                loss = loss + torch.nn.functional.cross_entropy(logits, labels, weight=weight)
        loss.backward()
        return loss

    optimizer.step(closure)
    arrays = {k: v.detach().numpy().astype(np.float32) for k, v in params.items()}
    return KindClassifier(mean.astype(np.float32), scale.astype(np.float32), **arrays)


_ARRAYS = ("mean", "scale", "hidden_weight", "hidden_bias", "line_weight", "line_bias", "zone_weight", "zone_bias")


def save_kinds(path: Path, classifier: KindClassifier) -> Path:
    tensors = {k: torch.from_numpy(np.ascontiguousarray(getattr(classifier, k))) for k in _ARRAYS}
    meta = dict(
        classifier.metadata,
        format=FORMAT,
        format_version=1,
        features=FEATURES,
        hidden=int(classifier.hidden_bias.shape[0]),
        line_kinds=list(classifier.line_kinds),
        zone_kinds=list(classifier.zone_kinds),
    )
    return tensorfile.write(path, tensors, {"mspt": meta})


def load_kinds(path: Path) -> KindClassifier:
    """A classifier file, refused (ModelFileError) unless its settings and weights are sane."""
    path = Path(path)
    file = tensorfile.open_file(path, "line-kind classifier")
    meta = file.json("mspt")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mspt line-kind classifier")
    tensorfile.check_format_version(path, meta, 1)
    hidden, features = meta.get("hidden"), meta.get("features")
    if not (isinstance(hidden, int) and isinstance(features, int)) or isinstance(hidden, bool):
        raise ModelFileError(f"{path}: hidden and features must be whole numbers")
    if features != FEATURES or not 1 <= hidden <= 4096:
        raise ModelFileError(f"{path}: made for other line features ({features}) or out of range ({hidden})")
    said: dict[str, tuple[str, ...]] = {}
    for key, known in (("line_kinds", LINE_KINDS), ("zone_kinds", ZONE_KINDS)):
        names = meta.get(key)
        if not isinstance(names, list) or not all(isinstance(n, str) and n in known for n in names):
            raise ModelFileError(f"{path}: {key} must list some of {', '.join(known)}")
        said[key] = tuple(names)
    shapes = {
        "mean": (FEATURES,),
        "scale": (FEATURES,),
        "hidden_weight": (hidden, FEATURES),
        "hidden_bias": (hidden,),
        "line_weight": (len(LINE_KINDS), hidden),
        "line_bias": (len(LINE_KINDS),),
        "zone_weight": (len(ZONE_KINDS), hidden),
        "zone_bias": (len(ZONE_KINDS),),
    }
    tensorfile.check_shapes(file, shapes, detail="its metadata")
    arrays = {k: v.float().numpy() for k, v in file.tensors().items()}
    if not all(np.isfinite(a).all() for a in arrays.values()) or not (arrays["scale"] > 0).all():
        raise ModelFileError(f"{path}: weights that are not finite numbers, or a scale that is not positive")
    return KindClassifier(
        mean=arrays["mean"],
        scale=arrays["scale"],
        hidden_weight=arrays["hidden_weight"],
        hidden_bias=arrays["hidden_bias"],
        line_weight=arrays["line_weight"],
        line_bias=arrays["line_bias"],
        zone_weight=arrays["zone_weight"],
        zone_bias=arrays["zone_bias"],
        line_kinds=said["line_kinds"],
        zone_kinds=said["zone_kinds"],
        metadata=meta,
    )


@lru_cache(maxsize=1)
def bundled() -> KindClassifier | None:
    """The classifier shipped with mspt, or None where it is missing or unreadable (then found
    lines keep the default kinds; an unreadable file is warned about once)."""
    unusable = "the bundled line-kind classifier cannot be used, lines keep the default kinds"
    return tensorfile.bundled_or_none(resources.line_kinds(), load_kinds, unusable)


def assign_kinds(regions: list[Region], width: float, height: float, classifier: KindClassifier) -> list[Region]:
    """Give found lines their kinds and their blocks their zones: a block is the zone most of
    its lines are in. Lines of another zone at the start or the end of a block (a page number
    just above the text, a catchword below it) become regions of their own, one for the run at
    each end; a line inside the block keeps its place and its block's zone, so the reading order
    of the text never changes. The regions are returned unordered (``order_regions`` next)."""
    lines = [line for region in regions for line in region.lines]
    line_kinds, zones = classifier.classify([line.bbox() for line in lines], width, height)
    zone_of = {id(line): zone for line, zone in zip(lines, zones, strict=True)}
    for line, kind in zip(lines, line_kinds, strict=True):
        line.line_type = kind
    out = []
    for region in regions:
        if not region.lines:  # nothing to judge it by: it stays as it was
            out.append(region)
            continue
        votes = [zone_of[id(line)] for line in region.lines]
        # Most votes; a tie goes to the main text.
        region.region_type = max(ZONE_KINDS, key=lambda z: (votes.count(z), z == ZONE_KINDS[0]))
        own = [i for i, zone in enumerate(votes) if zone == region.region_type]
        first, last = own[0], own[-1]
        for run in (region.lines[:first], region.lines[last + 1 :]):
            for zone, group in groupby(run, key=lambda line: zone_of[id(line)]):
                apart = list(group)
                out.append(Region(id="", polygon=_box_around(apart), lines=apart, region_type=zone))
        if first > 0 or last < len(region.lines) - 1:
            region.lines = region.lines[first : last + 1]
            region.polygon = _box_around(region.lines)
        out.append(region)
    return out


def _box_around(lines: list[Line]) -> list[tuple[float, float]]:
    boxes = np.array([line.bbox() for line in lines])
    return box_polygon(*(float(v) for v in (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))))

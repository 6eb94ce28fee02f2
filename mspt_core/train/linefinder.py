"""Training the line finder (``mspt_core.layout.linefinder``) on pages with ground-truth lines
(ALTO or PAGE with polygons and baselines), on the one training loop.

Targets are drawn from the ground truth at the network's output scale: the body is each line's
polygon filled, the core the band from the baseline up to ``CORE_SHARE`` of the way to the
polygon's top, column by column. Training samples are random crops of the pages at a few
scales and zooms, with small rotations and mirror images, sometimes two pages side by side
across a gutter or a dark scanner border, and what scans do to the ink and paper (contrast,
bleed-through, uneven light, blur, noise, JPEG, binarization). A recipe may centre a share of
the crops (``line_centred``) on a line drawn with every line of the page equally likely, so that
short lines (folio numbers, catchwords, interlinear words) are seen about as often as long ones,
and name sets whose ground truth leaves some lines out (``partial``), where the loss counts only
near the lines it gives: what it leaves out is not taught as "no line". Validation runs the real
segmentation on whole validation pages and scores 1 - F1 of line matching at box IoU >= 0.5, the
measure the benchmark reports (the mean over collections when pages come grouped); on the
``partial`` sets' pages a found line far from every line the ground truth gives is not counted
(``evaluate.judged_lines``), so a checkpoint is not preferred for missing what it leaves out.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from mspt_core.document import Line, Page
from mspt_core.errors import DataError
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.clean import normalize_illumination
from mspt_core.layout.evaluate import KNOWN_AROUND, Match, Polygon, match_lines
from mspt_core.layout.linefinder import CORE_SHARE, LineFinder, LineFinderConfig, LineNet, prepare, save_line_finder
from mspt_core.layout.segment import segment
from mspt_core.train.loop import Progress, TrainResult, TrainSettings, train

SCALES = (0.8, 1.0, 1.25)  # page sizes seen in training, relative to ``train_side``
BASELINE_SHARE = 0.78  # of a line's height from its top, where ground truth gives no baseline
ZOOM = (0.8, 1.25)  # and a random zoom within each crop on top of that
IGNORED = 255  # a target pixel the loss does not count (away from the lines of a partial page)


def _scaled_polygons(page: Page, factor: float) -> list[tuple[Line, np.ndarray]]:
    """``page``'s lines that have an outline (3 points or more), each with its polygon at
    ``factor`` x the page's pixel coordinates."""
    return [(ln, np.asarray(ln.polygon, np.float64) * factor) for ln in page.lines() if len(ln.polygon) >= 3]


def line_targets(page: Page, shape: tuple[int, int], factor: float) -> np.ndarray:
    """(2, H, W) uint8 targets (core, body) for ``page``'s lines drawn at ``factor`` x the
    page's pixel coordinates on an H x W map."""
    h, w = shape
    core = np.zeros(shape, np.uint8)
    body = np.zeros(shape, np.uint8)
    for line, poly in _scaled_polygons(page, factor):
        cv2.fillPoly(body, [np.round(poly).astype(np.int32)], 1)
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        if x1 <= x0 or y1 <= y0:
            continue
        own = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        cv2.fillPoly(own, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
        cols = np.arange(x0, x1 + 1)
        inside = own.any(axis=0)
        top = np.argmax(own, axis=0) + y0
        if len(line.baseline) >= 2:
            base = np.asarray(sorted(line.baseline), dtype=np.float64) * factor
            base_y = np.interp(cols, base[:, 0], base[:, 1])
            within = inside & (cols >= base[0, 0] - 1) & (cols <= base[-1, 0] + 1)
        else:  # polygons only (some ALTO): the baseline where it usually sits in the line's height
            bottom = own.shape[0] - 1 - np.argmax(own[::-1], axis=0) + y0
            base_y = top + BASELINE_SHARE * (bottom - top)
            within = inside
        upper = base_y - CORE_SHARE * np.maximum(base_y - top, 0)
        rows = np.arange(y0, y1 + 1)[:, None]
        band = (rows >= upper[None, :]) & (rows <= base_y[None, :]) & within[None, :]
        core[y0 : y1 + 1, x0 : x1 + 1] |= band.astype(np.uint8)
    return np.stack([core, body])


def ignore_away_from_lines(targets: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The targets of a page whose ground truth leaves lines out (its lines' ``boxes`` on the
    same grid), with every pixel further than ``KNOWN_AROUND`` line heights from the lines it
    gives set to ``IGNORED``: the gaps between its lines still teach where one ends, but a page
    number or a note it leaves out does not teach that such marks are no line."""
    if not len(boxes):  # no line given: nothing on the page is known
        return np.full_like(targets, IGNORED)
    reach = max(1, int(round(KNOWN_AROUND * float(np.median(boxes[:, 3] - boxes[:, 1])))))
    known = cv2.dilate(targets[1], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    out = targets.copy()
    out[:, known == 0] = IGNORED
    return out


def line_boxes(page: Page, factor: float) -> np.ndarray:
    """(n, 4) x0, y0, x1, y1 of ``page``'s lines at ``factor`` x its pixel coordinates."""
    boxes = [(*poly.min(axis=0), *poly.max(axis=0)) for _, poly in _scaled_polygons(page, factor)]
    return np.array(boxes, np.float64).reshape(-1, 4)


@dataclass
class ScaledPage:
    image: np.ndarray  # illumination-normalized grey at input scale
    targets: np.ndarray  # (2, h/2, w/2) uint8: 1 line, 0 none, IGNORED not counted
    lines: np.ndarray  # (n, 4) boxes of its lines on the targets' grid (``line_boxes``)


def scaled_pages(xml: Path, side: int, scales=SCALES, partial: bool = False) -> list[ScaledPage]:
    """The page at each of ``scales`` x ``side``; ``partial`` where its ground truth leaves some
    lines out (``ignore_away_from_lines``)."""
    page = read_document(xml)
    if page.image_path is None:
        raise DataError(f"{xml}: the file names no page image")
    grey = load_grey(page.image_path)
    out = []
    for scale in scales:
        r = scale * side / max(grey.shape)
        size = (max(1, round(grey.shape[1] * r)), max(1, round(grey.shape[0] * r)))
        image = normalize_illumination(cv2.resize(grey, size, interpolation=cv2.INTER_AREA))
        half = ((image.shape[0] + 1) // 2, (image.shape[1] + 1) // 2)
        targets, boxes = line_targets(page, half, r / 2), line_boxes(page, r / 2)
        out.append(ScaledPage(image, ignore_away_from_lines(targets, boxes) if partial else targets, boxes))
    return out


def crop_centre(sample: ScaledPage, rng: np.random.Generator, line_centred: float = 0.0) -> tuple[float, float]:
    """(y, x) on the page image for a crop's centre: with probability ``line_centred`` a point of
    a line's box, every line alike; else mostly a point of text (so long lines more often), now
    and then anywhere."""
    h, w = sample.image.shape
    if line_centred and rng.random() < line_centred and len(sample.lines):  # no draw at 0: old recipes' crops stay
        x0, y0, x1, y1 = sample.lines[rng.integers(len(sample.lines))]
        return 2 * rng.uniform(y0, y1), 2 * rng.uniform(x0, x1)
    body = sample.targets[1] == 1
    if rng.random() < 0.8 and body.any():
        ys, xs = np.nonzero(body)
        k = rng.integers(len(ys))
        return float(2 * ys[k]), float(2 * xs[k])
    return float(rng.integers(h)), float(rng.integers(w))


def map_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """BCE + soft Dice on both maps of a batch ((N, 2, H, W) logits, uint8 targets), counted only
    where the targets are not ``IGNORED``."""
    counted = (targets != IGNORED).float()
    y = (targets == 1).float()
    bce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
    p = torch.sigmoid(logits) * counted
    inter = (p * y).sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum(dim=(0, 2, 3)) + y.sum(dim=(0, 2, 3)) + 1)
    return (bce * counted).sum() / counted.sum().clamp(min=1) + dice.mean()


def random_crop(
    sample: ScaledPage,
    size: int,
    rng: np.random.Generator,
    zoom: tuple[float, float] = ZOOM,
    line_centred: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A size x size crop around ``crop_centre``, slightly rotated and zoomed, maybe mirrored:
    the grey crop and its (2, size/2, size/2) targets."""
    image, targets = sample.image, sample.targets
    cy, cx = crop_centre(sample, rng, line_centred)
    angle = rng.uniform(-3, 3)
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, rng.uniform(*zoom))
    matrix[:, 2] += np.array([size / 2 - cx, size / 2 - cy])
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=255)
    half = matrix.copy()
    half[:, 2] /= 2  # the same motion on the half-size maps
    maps = np.stack(
        [cv2.warpAffine(t, half, (size // 2, size // 2), flags=cv2.INTER_NEAREST, borderValue=0) for t in targets]
    )
    if rng.random() < 0.5:
        crop, maps = crop[:, ::-1], maps[:, :, ::-1]
    return np.ascontiguousarray(crop), np.ascontiguousarray(maps)


def double_page(
    left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Two crops side by side with a shaded gutter between them, as on a scanned spread: lines
    of the two pages must not be joined across it."""
    size = left[0].shape[1]
    cut = 2 * int(rng.integers(size // 6, 5 * size // 12))  # even, so the half-size maps cut with it
    gutter = 2 * int(rng.integers(2, 13))
    image = np.concatenate([left[0][:, :cut], right[0][:, cut:]], axis=1).astype(np.float32)
    maps = np.concatenate([left[1][:, :, : cut // 2], right[1][:, :, cut // 2 :]], axis=2)
    x0, x1 = max(cut - gutter // 2, 0), min(cut + gutter // 2, size)
    shade = np.abs(np.linspace(-1.0, 1.0, x1 - x0))  # darkest at the fold
    image[:, x0:x1] *= (0.25 + 0.75 * shade)[None, :]
    maps[:, :, x0 // 2 : x1 // 2] = 0
    return np.clip(image, 0, 255).astype(np.uint8), maps


def scanner_border(image: np.ndarray, maps: np.ndarray, rng: np.random.Generator) -> None:
    """Darken a band along one edge, in place: the scanner bed or a cropped neighbour page."""
    size = image.shape[0]
    depth = 2 * int(rng.integers(4, size // 8))
    value = rng.uniform(0, 90)
    side = rng.integers(4)  # left, right, top, bottom
    band = (slice(None), slice(0, depth)) if side % 2 == 0 else (slice(None), slice(size - depth, size))
    if side >= 2:
        band = band[::-1]
    image[band] = value
    half = tuple(slice(s.start // 2, s.stop // 2) if s.stop is not None else s for s in band)
    maps[(slice(None),) + half] = 0


def scan_effects(image: np.ndarray, rng: np.random.Generator, ghost: np.ndarray | None = None) -> np.ndarray:
    """What scans do to a page, on a grey crop: faint or strong ink, darker paper, ink from the
    other side showing through (``ghost``, mirrored), uneven light, blur, noise, JPEG and
    binarization artefacts. The targets do not change."""
    size = image.shape[0]
    crop = image.astype(np.float32)
    ink = 255.0 - crop
    ink *= rng.uniform(0.5, 1.2)  # faint or strong ink
    crop = 255.0 - ink - rng.uniform(0, 40)  # darker paper
    if ghost is not None and rng.random() < 0.25:
        seen = np.asarray(cv2.GaussianBlur(255.0 - ghost[:, ::-1].astype(np.float32), (0, 0), rng.uniform(0.8, 2.0)))
        crop -= rng.uniform(0.1, 0.35) * seen
    if rng.random() < 0.3:
        angle = rng.uniform(0, 2 * np.pi)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
        ramp = xs * np.cos(angle) + ys * np.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        crop *= 1.0 - rng.uniform(0.1, 0.4) * ramp
    if rng.random() < 0.3:
        crop = np.asarray(cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.5)), np.float32)
    crop += rng.normal(0, rng.uniform(0, 10), crop.shape)
    out = np.clip(crop, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:
        out = np.where(out < rng.uniform(110, 190), 0, 255).astype(np.uint8)
    elif rng.random() < 0.2:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(25, 71))])
        decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            out = np.asarray(decoded, np.uint8)
    return out


PageSets = Sequence[Path] | Mapping[str, Sequence[Path]]


def _grouped(xmls: PageSets) -> dict[str, list[Path]]:
    return {k: list(v) for k, v in xmls.items()} if isinstance(xmls, Mapping) else {"": list(xmls)}


class LineFinderJob:
    """The loop's job: batches of random crops, ``map_loss`` on both maps.

    Pages may come grouped by collection (a mapping name -> pages): training then draws a
    collection with probability proportional to the square root of its page count, so a large
    set does not drown a small one, and validation scores the mean F1 over collections. The
    training collections named in ``partial`` have ground truth that leaves lines out
    (``ignore_away_from_lines``); ``line_centred`` is the share of crops centred on a line
    drawn with every line alike (``random_crop``)."""

    def __init__(
        self,
        train_xmls: PageSets,
        val_xmls: PageSets,
        config: LineFinderConfig,
        best_path: Path,
        crop: int = 320,
        batches_per_epoch: int = 200,
        batch_size: int = 8,
        on_pages_loaded: Callable[[int, int], None] | None = None,
        provenance: dict | None = None,
        base: LineFinder | None = None,
        line_centred: float = 0.0,
        partial: Sequence[str] = (),
    ):
        if crop < 32 or crop % 32:
            raise ValueError(f"crop must be a multiple of 32 (the network's stride), got {crop}")
        if not 0 <= line_centred <= 1:
            raise ValueError(f"line_centred is a share of the crops, from 0 to 1, got {line_centred}")
        unknown = set(partial) - set(_grouped(train_xmls))
        if unknown:
            raise ValueError(f"partial names no training collection: {', '.join(sorted(unknown))}")
        if base is not None:  # a further round: the network starts from a finder already trained
            if tuple(base.config.widths) != tuple(config.widths):
                raise ValueError(f"the base line finder has widths {base.config.widths}, not {config.widths}")
            # its way from maps to lines (thresholds chosen for it) goes on with it; sizes are the recipe's
            config = replace(base.config, input_side=config.input_side, train_side=config.train_side)
        self.config = config
        self.model = LineNet(config)
        if base is not None:
            self.model.load_state_dict({k: v.float() for k, v in base.net.state_dict().items()})
        self.crop, self.batches_per_epoch, self.batch_size = crop, batches_per_epoch, batch_size
        self.line_centred = line_centred
        self.partial = sorted(set(partial))
        self.best_path = Path(best_path)
        self.provenance = dict(provenance or {})  # what made it, written into every file saved
        self.val_sets = {k: v for k, v in _grouped(val_xmls).items() if v}
        train_sets = {k: v for k, v in _grouped(train_xmls).items() if v}
        total = sum(len(v) for v in train_sets.values())
        self.groups: list[list[ScaledPage]] = []
        loaded = 0
        for name, xmls in train_sets.items():
            group: list[ScaledPage] = []
            for xml in xmls:
                group += scaled_pages(xml, config.train_side, partial=name in partial)
                loaded += 1
                if on_pages_loaded:
                    on_pages_loaded(loaded, total)
            self.groups.append(group)
        if not self.groups:
            raise ValueError("no training pages")
        weights = np.sqrt([len(g) for g in self.groups])
        self.group_weights = weights / weights.sum()

    def param_groups(self) -> list[dict]:
        return [{"params": list(self.model.parameters()), "lr_scale": 1.0}]

    def trains_in(self, precision: str) -> None:
        self.provenance["precision"] = precision  # "bf16" or "full", as the loop trains

    def resume_record(self) -> dict:
        """What a resumed run must train with as it started (``loop``): its line-centred share
        and partial sets; empty at the defaults. A checkpoint from before the record reads as
        one made at the defaults, so a run begun then with either key is refused: its best so far
        was also scored with the partial sets in full."""
        record: dict = {}
        if self.line_centred:
            record["line_centred"] = self.line_centred
        if self.partial:
            record["partial"] = self.partial
        return record

    def epoch_batches(self, rng: np.random.Generator) -> list[int]:
        return list(range(self.batches_per_epoch))  # crops are drawn from each batch's own rng

    def _page(self, rng: np.random.Generator) -> ScaledPage:
        group = self.groups[rng.choice(len(self.groups), p=self.group_weights)]
        return group[rng.integers(len(group))]

    def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One augmented training crop and its targets."""
        image, maps = random_crop(self._page(rng), self.crop, rng, line_centred=self.line_centred)
        if rng.random() < 0.15:
            image, maps = double_page((image, maps), random_crop(self._page(rng), self.crop, rng), rng)
        if rng.random() < 0.15:
            scanner_border(image, maps, rng)
        ghost = random_crop(self._page(rng), self.crop, rng)[0] if rng.random() < 0.25 else None
        return scan_effects(image, rng, ghost), maps

    def loss(self, batch, rng: np.random.Generator, device: torch.device) -> torch.Tensor:
        images, maps = [], []
        for _ in range(self.batch_size):
            image, target = self.sample(rng)
            images.append(prepare(image))
            maps.append(torch.from_numpy(target))
        x = torch.cat(images).to(device)
        return map_loss(self.model(x).float(), torch.stack(maps).to(device))

    def finder(self) -> LineFinder:
        return LineFinder(self.model, self.config)

    def validate(self, device: torch.device) -> float | None:
        if not self.val_sets:
            return None
        f1s = [
            evaluate_finder(self.finder(), xmls, device, partial=name in self.partial).f1
            for name, xmls in self.val_sets.items()
        ]
        return 1.0 - float(np.mean(f1s))

    def save_best(self, metric: float, step: int) -> None:
        provenance = dict(self.provenance, step=step, val_f1_box=round(1.0 - metric, 4))
        save_line_finder(self.best_path, self.model, self.config, provenance)


def evaluate_finder(
    finder: LineFinder, xmls: Sequence[Path], device: torch.device | str = "cpu", partial: bool = False
) -> Match:
    """Line matching (box IoU >= 0.5) of the finder's segmentation of whole pages, summed; on the CPU,
    as segment() runs it, whatever ``device`` the caller trains on. ``partial``: their ground
    truth leaves lines out (``match_lines``)."""
    return _matches(finder, _truth_pages(xmls), ("box",), partial)["box"]


TruthPage = tuple[list[Polygon], np.ndarray]  # a page's ground-truth line polygons and its grey image


def _truth_pages(xmls: Sequence[Path]) -> list[TruthPage]:
    pages: list[TruthPage] = []
    for xml in xmls:
        truth = read_document(xml)
        if truth.image_path is None:
            raise DataError(f"{xml}: the file names no page image")
        pages.append(([ln.polygon for ln in truth.lines()], load_grey(truth.image_path)))
    return pages


def _matches(
    finder: LineFinder, pages: Sequence[TruthPage], kinds: Sequence[str], partial: bool = False
) -> dict[str, Match]:
    """Line matching at IoU >= 0.5 by each of ``kinds`` ("box", "polygon") of one segmentation of
    each page, summed over the pages (``partial``: see ``match_lines``)."""
    net = finder.net
    was, training = next(net.parameters()).device, net.training
    net.to("cpu").eval()  # inference on the CPU, as segment() runs it
    totals = {kind: Match(0, 0, 0) for kind in kinds}
    try:
        for truth_lines, grey in pages:
            # the finder's own lines: the sideways search is measured apart (benchmarks/sideways.py),
            # and the faint lines it finds are not left out (its keep-best compares as it did)
            found = segment(grey, method="learned", finder=finder, sideways=False, orientation=False, faint=False)
            found_lines: list[Polygon] = [ln.polygon for ln in found.lines()]
            for kind in kinds:
                totals[kind] += match_lines(truth_lines, found_lines, grey.shape, kind=kind, partial=partial)
    finally:
        net.to(was).train(training)
    return totals


@dataclass
class _MapsOnce(LineFinder):
    """A line finder that runs its network once per page image and remembers the maps: trying
    thresholds on the same pages then redoes only the step from maps to lines."""

    remembered: dict = field(default_factory=dict)

    def maps(self, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = (norm.shape, hashlib.sha1(norm.tobytes()).digest())
        if key not in self.remembered:
            self.remembered[key] = super().maps(norm)
        return self.remembered[key]


Thresholds = tuple[float, float]  # (core_threshold, body_threshold) of a LineFinderConfig


def choose_thresholds(
    finder: LineFinder,
    val_xmls: PageSets,
    cores: Sequence[float],
    bodies: Sequence[float],
    min_gain: float = 0.0,
    partial: Sequence[str] = (),
) -> tuple[Thresholds, dict[Thresholds, tuple[float, float]]]:
    """The thresholds (``LineFinderConfig.core_threshold``, ``body_threshold``) whose lines match
    the validation collections best (``pick_thresholds``), among every pair of ``cores`` and
    ``bodies`` (each with the finder's own value added); and every pair's (mean box F1, mean
    polygon F1) over the collections, at IoU >= 0.5, the finder's own pair first. The
    collections named in ``partial`` are scored as their ground truth allows (``match_lines``).

    The core threshold cuts lines apart: higher, and neighbouring lines whose cores touch come
    apart, but faint lines break or vanish. The body threshold draws each line's outline: lower,
    and polygons reach further out to the ink's faint edges and the neighbours' ascenders."""
    if not any(_grouped(val_xmls).values()):
        raise ValueError("no validation pages to choose thresholds on")
    unknown = set(partial) - set(_grouped(val_xmls))
    if unknown:
        raise ValueError(f"partial names no validation collection: {', '.join(sorted(unknown))}")
    _check_gain(min_gain)
    own = (finder.config.core_threshold, finder.config.body_threshold)
    grid = {(float(c), float(b)) for c in {*cores, own[0]} for b in {*bodies, own[1]}}
    for value in {v for pair in grid for v in pair}:
        if not 0 < value < 1:
            raise ValueError(f"a threshold is a probability strictly between 0 and 1, got {value}")
    # read once for every pair
    sets = [(_truth_pages(xmls), name in partial) for name, xmls in _grouped(val_xmls).items() if xmls]
    remembered: dict = {}
    scores = {}
    for core, body in [own, *sorted(grid - {own})]:
        config = replace(finder.config, core_threshold=core, body_threshold=body)
        trial = _MapsOnce(finder.net, config, finder.metadata, remembered)
        per_set = [_matches(trial, pages, ("box", "polygon"), part) for pages, part in sets]
        scores[core, body] = (
            float(np.mean([m["box"].f1 for m in per_set])),
            float(np.mean([m["polygon"].f1 for m in per_set])),
        )
    return pick_thresholds(scores, own, min_gain), scores


def pick_thresholds(
    scores: Mapping[Thresholds, tuple[float, float]], own: Thresholds, min_gain: float = 0.0
) -> Thresholds:
    """The best pair by the mean of its box and polygon F1 (``scores``, which hold ``own`` and
    every pair of the values they try), where each threshold keeps its ``own`` value unless
    moving it to the best pair's gains more than ``min_gain``, and the pair as a whole must gain
    more than ``min_gain`` over ``own``: a large gain from one threshold does not carry a change
    of the other that gains nothing. Among equal scores the finder's own pair wins, then the
    pair first in ``scores``."""
    _check_gain(min_gain)

    def score(pair: Thresholds) -> float:
        return pair_score(scores[pair])

    best = max(scores, key=lambda pair: (score(pair), pair == own))
    core = best[0] if score(best) - score((own[0], best[1])) > min_gain else own[0]
    body = best[1] if score(best) - score((best[0], own[1])) > min_gain else own[1]
    return (core, body) if score((core, body)) - score(own) > min_gain else own


def pair_score(f1s: tuple[float, float]) -> float:
    """What a pair of thresholds is chosen by: the mean of its (box F1, polygon F1)."""
    return sum(f1s) / 2


def _check_gain(min_gain: float) -> None:
    if not (math.isfinite(min_gain) and min_gain >= 0):
        raise ValueError(f"min_gain is a mean F1 of 0 or more, got {min_gain}")


def train_line_finder(
    train_xmls: PageSets,
    val_xmls: PageSets,
    out: Path,
    run_dir: Path,
    settings: TrainSettings,
    config: LineFinderConfig | None = None,
    crop: int = 320,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    provenance: dict | None = None,
    base: LineFinder | None = None,
    line_centred: float = 0.0,
    partial: Sequence[str] = (),
) -> TrainResult:
    """Train a line finder, from scratch or from ``base`` (same widths); the best one on the
    validation pages (the base among them) is written to ``out`` (the last one where there are no
    validation pages), with ``provenance`` (what made it) and the step and val F1 it was kept at. A run resumed from
    its checkpoint takes its weights from there, not from ``base``. ``line_centred`` and ``partial``
    as ``LineFinderJob`` takes them."""
    job = LineFinderJob(
        train_xmls,
        val_xmls,
        config or LineFinderConfig(),
        out,
        crop=crop,
        batch_size=settings.batch_size,
        provenance=provenance,
        base=base,
        line_centred=line_centred,
        partial=partial,
    )
    # From a base, the base is the first candidate: the best file is never worse than it on val.
    result = train(job, settings, run_dir, on_progress, should_stop, start_is_candidate=base is not None)
    if not job.val_sets:
        save_line_finder(out, job.model, job.config, dict(job.provenance, step=result.step))
    return result

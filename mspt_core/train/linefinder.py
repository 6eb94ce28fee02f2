"""Training the line finder (``mspt_core.layout.linefinder``) on pages with ground-truth lines
(ALTO or PAGE with polygons and baselines), on the one training loop.

Targets are drawn from the ground truth at the network's output scale: the body is each line's
polygon filled, the core the band from the baseline up to ``CORE_SHARE`` of the way to the
polygon's top, column by column. Training samples are random crops of the pages at a few
scales, with small rotations, mirror images and changes of contrast, blur and noise. Validation
runs the real segmentation on whole validation pages and scores 1 - F1 of line matching at box
IoU >= 0.5, the measure the benchmark reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from mspt_core.document import Page
from mspt_core.errors import DataError
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.clean import normalize_illumination
from mspt_core.layout.evaluate import Match, match_lines
from mspt_core.layout.linefinder import CORE_SHARE, LineFinder, LineFinderConfig, LineNet, prepare, save_line_finder
from mspt_core.layout.segment import segment
from mspt_core.train.loop import Progress, TrainResult, TrainSettings, train

SCALES = (0.8, 1.0, 1.25)  # page sizes seen in training, relative to ``train_side``


def line_targets(page: Page, shape: tuple[int, int], factor: float) -> np.ndarray:
    """(2, H, W) uint8 targets (core, body) for ``page``'s lines drawn at ``factor`` x the
    page's pixel coordinates on an H x W map."""
    h, w = shape
    core = np.zeros(shape, np.uint8)
    body = np.zeros(shape, np.uint8)
    for line in page.lines():
        if len(line.polygon) < 3:
            continue
        poly = np.asarray(line.polygon, dtype=np.float64) * factor
        cv2.fillPoly(body, [np.round(poly).astype(np.int32)], 1)
        if len(line.baseline) < 2:
            continue
        x0, y0 = np.floor(poly.min(axis=0)).astype(int)
        x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        if x1 <= x0 or y1 <= y0:
            continue
        own = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
        cv2.fillPoly(own, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
        base = np.asarray(sorted(line.baseline), dtype=np.float64) * factor
        cols = np.arange(x0, x1 + 1)
        inside = own.any(axis=0)
        top = np.argmax(own, axis=0) + y0
        base_y = np.interp(cols, base[:, 0], base[:, 1])
        within = inside & (cols >= base[0, 0] - 1) & (cols <= base[-1, 0] + 1)
        upper = base_y - CORE_SHARE * np.maximum(base_y - top, 0)
        rows = np.arange(y0, y1 + 1)[:, None]
        band = (rows >= upper[None, :]) & (rows <= base_y[None, :]) & within[None, :]
        core[y0 : y1 + 1, x0 : x1 + 1] |= band.astype(np.uint8)
    return np.stack([core, body])


@dataclass
class ScaledPage:
    image: np.ndarray  # illumination-normalized grey at input scale
    targets: np.ndarray  # (2, h/2, w/2) uint8


def scaled_pages(xml: Path, side: int, scales=SCALES) -> list[ScaledPage]:
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
        out.append(ScaledPage(image, line_targets(page, half, r / 2)))
    return out


def random_crop(sample: ScaledPage, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A size x size crop (mostly around text) with geometric and photometric changes."""
    image, targets = sample.image, sample.targets
    h, w = image.shape
    body = targets[1]
    if rng.random() < 0.8 and body.any():
        ys, xs = np.nonzero(body)
        k = rng.integers(len(ys))
        cy, cx = 2 * ys[k], 2 * xs[k]
    else:
        cy, cx = rng.integers(h), rng.integers(w)
    angle = rng.uniform(-3, 3)
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, 1.0)
    matrix[:, 2] += (size / 2 - cx, size / 2 - cy)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=255)
    half = matrix.copy()
    half[:, 2] /= 2  # the same motion on the half-size maps
    maps = np.stack(
        [cv2.warpAffine(t, half, (size // 2, size // 2), flags=cv2.INTER_NEAREST, borderValue=0) for t in targets]
    )
    if rng.random() < 0.5:
        crop, maps = crop[:, ::-1], maps[:, :, ::-1]
    crop = crop.astype(np.float32)
    ink = 255.0 - crop
    ink *= rng.uniform(0.5, 1.2)  # faint or strong ink
    crop = 255.0 - ink - rng.uniform(0, 40)  # darker paper
    if rng.random() < 0.3:
        crop = cv2.GaussianBlur(crop, (0, 0), rng.uniform(0.5, 1.5))
    crop += rng.normal(0, rng.uniform(0, 10), crop.shape)
    return np.clip(crop, 0, 255).astype(np.uint8), np.ascontiguousarray(maps)


class LineFinderJob:
    """The loop's job: batches of random crops, loss = BCE + soft Dice on both maps."""

    def __init__(
        self,
        train_xmls: list[Path],
        val_xmls: list[Path],
        config: LineFinderConfig,
        best_path: Path,
        crop: int = 320,
        batches_per_epoch: int = 200,
        batch_size: int = 8,
        on_pages_loaded: Callable[[int, int], None] | None = None,
    ):
        if crop < 32 or crop % 32:
            raise ValueError(f"crop must be a multiple of 32 (the network's stride), got {crop}")
        self.config = config
        self.model = LineNet(config)
        self.crop, self.batches_per_epoch, self.batch_size = crop, batches_per_epoch, batch_size
        self.best_path = Path(best_path)
        self.val_xmls = list(val_xmls)
        self.samples: list[ScaledPage] = []
        for i, xml in enumerate(train_xmls):
            self.samples += scaled_pages(xml, config.train_side)
            if on_pages_loaded:
                on_pages_loaded(i + 1, len(train_xmls))
        if not self.samples:
            raise ValueError("no training pages")

    def param_groups(self) -> list[dict]:
        return [{"params": list(self.model.parameters()), "lr_scale": 1.0}]

    def epoch_batches(self, rng: np.random.Generator) -> list[int]:
        return list(range(self.batches_per_epoch))  # crops are drawn from each batch's own rng

    def loss(self, batch, rng: np.random.Generator, device: torch.device) -> torch.Tensor:
        images, maps = [], []
        for _ in range(self.batch_size):
            image, target = random_crop(self.samples[rng.integers(len(self.samples))], self.crop, rng)
            images.append(prepare(image))
            maps.append(torch.from_numpy(target))
        x = torch.cat(images).to(device)
        y = torch.stack(maps).float().to(device)
        logits = self.model(x).float()
        bce = F.binary_cross_entropy_with_logits(logits, y)
        p = torch.sigmoid(logits)
        inter = (p * y).sum(dim=(0, 2, 3))
        dice = 1 - (2 * inter + 1) / (p.sum(dim=(0, 2, 3)) + y.sum(dim=(0, 2, 3)) + 1)
        return bce + dice.mean()

    def finder(self) -> LineFinder:
        return LineFinder(self.model, self.config)

    def validate(self, device: torch.device) -> float | None:
        if not self.val_xmls:
            return None
        return 1.0 - evaluate_finder(self.finder(), self.val_xmls, device).f1

    def save_best(self, metric: float, step: int) -> None:
        save_line_finder(self.best_path, self.model, self.config, {"step": step, "val_f1_box": round(1.0 - metric, 4)})


def evaluate_finder(finder: LineFinder, xmls: list[Path], device: torch.device | str = "cpu") -> Match:
    """Line matching (box IoU >= 0.5) of the finder's segmentation of whole pages, summed."""
    net = finder.net
    was, training = next(net.parameters()).device, net.training
    net.to("cpu").eval()  # inference on the CPU, as segment() runs it
    total = Match(0, 0, 0)
    try:
        for xml in xmls:
            truth = read_document(xml)
            if truth.image_path is None:
                raise DataError(f"{xml}: the file names no page image")
            grey = load_grey(truth.image_path)
            found = segment(grey, method="learned", finder=finder)
            total += match_lines([ln.polygon for ln in truth.lines()], [ln.polygon for ln in found.lines()], grey.shape)
    finally:
        net.to(was).train(training)
    return total


def train_line_finder(
    train_xmls: list[Path],
    val_xmls: list[Path],
    out: Path,
    run_dir: Path,
    settings: TrainSettings,
    config: LineFinderConfig | None = None,
    crop: int = 320,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a line finder; the best one on the validation pages is written to ``out``
    (the last one where there are no validation pages)."""
    job = LineFinderJob(
        train_xmls, val_xmls, config or LineFinderConfig(), out, crop=crop, batch_size=settings.batch_size
    )
    result = train(job, settings, run_dir, on_progress, should_stop)
    if not val_xmls:
        save_line_finder(out, job.model, job.config, {"step": result.step})
    return result

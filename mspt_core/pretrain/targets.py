"""What pre-training predicts for each token.

Discrete targets (as in HuBERT and the authors' code): every 8-px column is described by a
feature vector — its pooled pixels, a recognizer front end's token (trained or untrained), or,
as in HuBERT's second iteration, a trained encoder's token after its first n transformer
layers — and labelled with its nearest k-means centroid. The centroids are fitted once with mini-batch
k-means (in torch, on the GPU when there is one) over a bounded sample of columns; labels are
then assigned batch by batch while training, so no label file grows with the archive.

Continuous alternative: the masked columns' own pixels, normalized per token (MAE-style)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mspt_core import tensorfile
from mspt_core.data.batching import collate
from mspt_core.errors import DataError, ModelFileError
from mspt_core.model.config import DOWNSAMPLE, RecognizerConfig
from mspt_core.model.encoder import Encoder, padding_mask, token_lengths
from mspt_core.model.frontend import FrontEnd

TARGETS_FILE = "targets.safetensors"


# --- column features ---------------------------------------------------------------------------


def pixel_columns(images: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, W/8, H*8): each token's pixels, flattened."""
    b, _, h, w = images.shape
    return images[:, 0].reshape(b, h, w // DOWNSAMPLE, DOWNSAMPLE).permute(0, 2, 1, 3).reshape(b, w // DOWNSAMPLE, -1)


class PixelFeatures(nn.Module):
    """Pooled pixels of each column: the extractor that needs no model at all."""

    def __init__(self, pool: int = 2):
        super().__init__()
        self.pool = pool

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(images, self.pool)
        b, _, h, w = pooled.shape
        step = DOWNSAMPLE // self.pool
        return pooled[:, 0].reshape(b, h, w // step, step).permute(0, 2, 1, 3).reshape(b, w // step, -1)


class FrontEndFeatures(nn.Module):
    """A recognizer front end's tokens (trained, from a model file, or untrained)."""

    def __init__(self, config: RecognizerConfig):
        super().__init__()
        self.frontend = FrontEnd(config)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        return self.frontend(images, widths)


class EncoderFeatures(nn.Module):
    """A trained encoder's tokens after its first ``config.layers`` transformer layers: features
    that already carry context, so clusters come closer to characters than a column's look."""

    def __init__(self, config: RecognizerConfig):
        super().__init__()
        self.encoder = Encoder(config)

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder.embed(images, widths)
        pad_mask = padding_mask(token_lengths(widths), tokens.shape[1])
        # Without the final norm (it belongs after the last layer); standardization before
        # k-means scales the features.
        return self.encoder.layers_output(tokens, pad_mask)


def make_extractor(source: str, config: RecognizerConfig, seed: int = 0, layer: int = 0) -> tuple[nn.Module, dict]:
    """``source``: "pixels", "untrained" (a randomly initialised front end) or a model name/path
    whose front end (``layer`` 0) or first ``layer`` transformer layers describe the columns.
    Returns the extractor and JSON that rebuilds it."""
    if layer and source in ("pixels", "untrained"):
        raise DataError(f"transformer-layer features need a trained model, not {source!r}")
    if source == "pixels":
        return PixelFeatures().eval(), {"features": "pixels"}
    if source == "untrained":
        torch.manual_seed(seed)
        return FrontEndFeatures(config).eval(), {
            "features": "frontend",
            "config": config.to_json(),
            "source": "untrained",
        }
    from mspt_core.models import load_model, resolve

    path = resolve(source)
    loaded = load_model(path)
    if loaded.config.height != config.height:
        raise DataError(
            f"k-means features from {path}: its line height {loaded.config.height} differs from "
            f"the line store's {config.height}; choose --features pixels or a model of that height"
        )
    if not 0 <= layer <= loaded.config.layers:
        raise DataError(f"{path}: it has {loaded.config.layers} transformer layers, so no features after layer {layer}")
    if layer == 0:
        front = FrontEndFeatures(loaded.config)
        front.frontend.load_state_dict(loaded.model.encoder.frontend.state_dict())
        return front.eval(), {"features": "frontend", "config": loaded.config.to_json(), "source": str(path)}
    truncated = replace(loaded.config, layers=layer)
    extractor = EncoderFeatures(truncated)
    # strict=False: the layers after ``layer`` are left out on purpose.
    missing, _ = extractor.encoder.load_state_dict(loaded.model.encoder.state_dict(), strict=False)
    if missing:
        raise ModelFileError(f"{path}: its encoder lacks {', '.join(missing[:3])}")
    return extractor.eval(), {"features": "encoder", "layer": layer, "config": truncated.to_json(), "source": str(path)}


# --- mini-batch k-means ------------------------------------------------------------------------


def nearest(points: torch.Tensor, centroids: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Index of the nearest centroid for each row of ``points``."""
    c_norm = (centroids * centroids).sum(1)
    out = []
    for start in range(0, points.shape[0], chunk):
        x = points[start : start + chunk]
        out.append((c_norm[None, :] - 2.0 * x @ centroids.T).argmin(1))  # |x|^2 does not change the argmin
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=points.device)


def kmeans_plus_plus(points: torch.Tensor, k: int, generator: torch.Generator, sample: int = 50_000) -> torch.Tensor:
    """k-means++ seeding on a subsample: each new centroid is drawn with probability
    proportional to the squared distance to the nearest one chosen so far, so no two start in
    the same dense spot."""
    pool = points[torch.randperm(points.shape[0], generator=generator)[: max(k, sample)].to(points.device)]
    chosen = [int(torch.randint(pool.shape[0], (1,), generator=generator))]
    closest = (pool - pool[chosen[0]]).pow(2).sum(1)
    for _ in range(k - 1):
        weights = closest.clamp(min=0).cpu().double()
        index = (
            int(torch.multinomial(weights, 1, generator=generator))
            if weights.sum() > 0
            else int(torch.randint(pool.shape[0], (1,), generator=generator))
        )
        chosen.append(index)
        closest = torch.minimum(closest, (pool - pool[index]).pow(2).sum(1))
    return pool[torch.tensor(chosen, device=points.device)].clone()


def minibatch_kmeans(
    points: torch.Tensor, k: int, iterations: int = 200, batch_size: int = 4096, seed: int = 0
) -> torch.Tensor:
    """Centroids (k, D) by mini-batch k-means (Sculley 2010) from a k-means++ start: each batch
    moves the centroids it hits towards the batch means with a step of 1 / (points seen so far
    by that centroid). Centroids no point has reached are re-seeded from the batch early on.
    Same seed, same result."""
    n = points.shape[0]
    if n < k:
        raise DataError(f"k-means needs at least {k} columns, the sample has {n}; use fewer clusters")
    generator = torch.Generator().manual_seed(seed)
    centroids = kmeans_plus_plus(points, k, generator)
    counts = torch.zeros(k, device=points.device)
    for iteration in range(iterations):
        batch = points[torch.randint(n, (min(batch_size, n),), generator=generator).to(points.device)]
        assign = nearest(batch, centroids)
        hits = torch.bincount(assign, minlength=k).to(points.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assign, batch)
        counts += hits
        hit = hits > 0
        step = (hits[hit] / counts[hit])[:, None]
        centroids[hit] += step * (sums[hit] / hits[hit, None] - centroids[hit])
        if iteration < iterations // 2 and iteration % 10 == 9:
            dead = torch.nonzero(counts == 0).flatten()
            if len(dead):
                pick = torch.randint(len(batch), (len(dead),), generator=generator).to(points.device)
                centroids[dead] = batch[pick]
    return centroids


# --- the discrete target -----------------------------------------------------------------------


class ClusterTargets(nn.Module):
    """Column -> cluster id: extractor, feature standardization and centroids."""

    mean: torch.Tensor  # buffers (register_buffer below)
    std: torch.Tensor
    centroids: torch.Tensor

    def __init__(
        self, extractor: nn.Module, spec: dict, mean: torch.Tensor, std: torch.Tensor, centroids: torch.Tensor
    ):
        super().__init__()
        self.extractor = extractor.eval()
        self.spec = spec
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.register_buffer("centroids", centroids)

    @property
    def clusters(self) -> int:
        return self.centroids.shape[0]

    def train(self, mode: bool = True):
        return super().train(False)  # fixed: never updates BatchNorm statistics

    @torch.no_grad()
    def labels(self, images: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
        """(B, T) cluster id of every token (padding tokens get labels too; the loss ignores them)."""
        # Full precision even inside the loop's bf16 autocast: labels must match the fitted clusters.
        with torch.autocast(images.device.type, enabled=False):
            features = self.extractor(images.float(), widths).float()
            b, t, d = features.shape
            standardized = (features.reshape(-1, d) - self.mean) / self.std
            return nearest(standardized, self.centroids).reshape(b, t)

    def save(self, path: Path) -> None:
        tensors = {"mean": self.mean, "std": self.std, "centroids": self.centroids}
        tensors.update({f"extractor.{k}": v for k, v in self.extractor.state_dict().items()})
        tensorfile.write(path, tensors, {"mspt_targets": self.spec})

    @classmethod
    def load(cls, path: Path) -> ClusterTargets:
        file = tensorfile.open_file(path, "k-means target file")
        spec = file.json("mspt_targets")
        if not isinstance(spec, dict) or "features" not in spec:
            raise ModelFileError(f"{path}: not an mspt k-means target file (its settings are {spec!r})")
        missing = sorted({"mean", "std", "centroids"} - set(file.shapes))
        if missing:
            raise ModelFileError(f"{path}: not an mspt k-means target file (no {', '.join(missing)})")
        tensors = file.tensors()
        if spec["features"] == "pixels":
            extractor: nn.Module = PixelFeatures()
        else:
            kind = EncoderFeatures if spec["features"] == "encoder" else FrontEndFeatures
            extractor = kind(RecognizerConfig.from_json(spec["config"]))
            extractor.load_state_dict({k[10:]: v for k, v in tensors.items() if k.startswith("extractor.")})
        return cls(extractor, spec, tensors["mean"], tensors["std"], tensors["centroids"])


def sample_columns(
    lines: Iterable[np.ndarray],
    extractor: nn.Module,
    max_columns: int,
    seed: int,
    per_line: int = 16,
    max_width: int = 1024,
    batch_lines: int = 32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Up to ``max_columns`` column features, at most ``per_line`` from each line, read in
    streaming order: memory is bounded by ``max_columns``, not by the archive."""
    rng = np.random.default_rng([seed, 7])
    extractor = extractor.to(device).eval()
    kept: list[torch.Tensor] = []
    total = 0

    def flush(batch: list[np.ndarray]) -> None:
        nonlocal total
        pixels, widths = collate([img[:, :max_width] for img in batch])
        with torch.no_grad():
            features = extractor(pixels.to(device), widths.to(device)).float()
        for i, length in enumerate(token_lengths(widths).tolist()):
            take = rng.permutation(length)[:per_line]
            kept.append(features[i, torch.from_numpy(take).to(device)])
            total += len(take)

    batch: list[np.ndarray] = []
    for image in lines:
        batch.append(image)
        if len(batch) == batch_lines:
            flush(batch)
            batch = []
        if total >= max_columns:
            break
    if batch and total < max_columns:
        flush(batch)
    if not kept:
        raise DataError("no line images to sample columns from")
    return torch.cat(kept)[:max_columns]


def fit_cluster_targets(
    lines: Iterable[np.ndarray],
    source: str,
    config: RecognizerConfig,
    clusters: int,
    max_columns: int = 50000,
    iterations: int = 200,
    seed: int = 0,
    device: torch.device | str = "cpu",
    layer: int = 0,
) -> ClusterTargets:
    extractor, spec = make_extractor(source, config, seed, layer)
    features = sample_columns(lines, extractor, max_columns, seed, device=device)
    mean, std = features.mean(0), features.std(0).clamp(min=1e-4)
    centroids = minibatch_kmeans((features - mean) / std, clusters, iterations, seed=seed)
    spec = dict(spec, clusters=clusters, sampled_columns=int(features.shape[0]), iterations=iterations, seed=seed)
    return ClusterTargets(extractor.cpu(), spec, mean.cpu(), std.cpu(), centroids.cpu())


# --- the continuous target ---------------------------------------------------------------------


def pixel_targets(images: torch.Tensor) -> torch.Tensor:
    """(B, T, H*8) pixels of each token, normalized to zero mean and unit variance per token."""
    columns = pixel_columns(images.float())
    mean = columns.mean(-1, keepdim=True)
    std = columns.std(-1, keepdim=True)
    return (columns - mean) / (std + 1e-2)


def token_losses(
    outputs: torch.Tensor, images: torch.Tensor, widths: torch.Tensor, targets: ClusterTargets | None
) -> torch.Tensor:
    """Per-token loss (B, T): cross-entropy against cluster ids, or MSE against pixels."""
    if targets is not None:
        labels = targets.labels(images, widths)
        return F.cross_entropy(outputs.transpose(1, 2), labels, reduction="none")
    return (outputs - pixel_targets(images)).pow(2).mean(-1)


def combine(
    per_token: torch.Tensor, mask: torch.Tensor, pad_mask: torch.Tensor, unmasked_weight: float
) -> torch.Tensor:
    """Mean loss over masked tokens + ``unmasked_weight`` x mean loss over visible real tokens.
    Padding counts in neither; with weight 0 visible tokens get no gradient at all."""
    real = ~pad_mask
    masked = (mask & real).to(per_token.dtype)
    visible = (~mask & real).to(per_token.dtype)
    loss = (per_token * masked).sum() / masked.sum().clamp(min=1)
    if unmasked_weight:
        loss = loss + unmasked_weight * (per_token * visible).sum() / visible.sum().clamp(min=1)
    return loss

"""Masked pre-training as a job for the one training loop, and ``pretrain_encoder``: the call
the CLI (``mspt pretrain``) and the app's wizard make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from mspt_core.charset import Charset
from mspt_core.data.batching import collate
from mspt_core.data.linestore import LineStore
from mspt_core.errors import DataError
from mspt_core.model import config_for, token_lengths
from mspt_core.model.config import DOWNSAMPLE
from mspt_core.models import build_metadata, save_model
from mspt_core.pretrain.masking import MaskSchedule, sample_mask
from mspt_core.pretrain.model import EncoderOnly, MaskedEncoder
from mspt_core.pretrain.settings import PretrainSettings
from mspt_core.pretrain.targets import TARGETS_FILE, ClusterTargets, combine, fit_cluster_targets, token_losses
from mspt_core.train import distributed
from mspt_core.train.loop import Progress, TrainResult, TrainSettings, train

ENCODER = "encoder"  # model folder inside the run directory


def random_crop(image: np.ndarray, max_width: int, rng: np.random.Generator) -> np.ndarray:
    if image.shape[1] <= max_width:
        return image
    start = int(rng.integers(image.shape[1] - max_width + 1))
    return image[:, start : start + max_width]


class PretrainJob:
    def __init__(
        self,
        model: MaskedEncoder,
        store: LineStore,
        targets: ClusterTargets | None,
        method: PretrainSettings,
        settings: TrainSettings,
    ):
        self.model = model
        self.store = store
        self.targets = targets
        self.method = method
        self.settings = settings
        self.schedule = MaskSchedule(method.schedule, method.p_start, method.p_end, settings.steps, method.stages)
        self.p = self.schedule.probability(0)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.last: dict = {}  # statistics of the latest batch, for tests and curious callers
        self.precision = "full"  # as the loop trains ("bf16" or "full"), for the encoder's provenance

    def param_groups(self) -> list[dict]:
        return [{"params": list(self.model.parameters()), "lr_scale": 1.0}]

    def trains_in(self, precision: str) -> None:
        self.precision = precision

    def on_step_start(self, step: int) -> None:
        self.p = self.schedule.probability(step)

    def epoch_batches(self, rng: np.random.Generator):
        return self.store.plan(
            self.settings.batch_size, int(rng.integers(2**62)), self.rank, self.world, self.method.shards_per_window
        )

    def loss(self, batch: list[np.ndarray], rng: np.random.Generator, device: torch.device) -> torch.Tensor:
        rng = np.random.default_rng([int(rng.integers(2**62)), self.rank])  # ranks mask differently
        pixels, widths = collate([random_crop(img, self.method.max_width, rng) for img in batch])
        pixels, widths = pixels.to(device), widths.to(device)
        mask = sample_mask(token_lengths(widths), pixels.shape[-1] // DOWNSAMPLE, self.p, rng).to(device)
        if self.targets is not None:
            self.targets.to(device)
        outputs, pad_mask = self.model(pixels, widths, mask)
        per_token = token_losses(outputs, pixels, widths, self.targets)
        self.last = {"p": self.p, "masked": int((mask & ~pad_mask).sum()), "tokens": int((~pad_mask).sum())}
        return combine(per_token, mask, pad_mask, self.method.unmasked_weight)

    def validate(self, device: torch.device) -> float | None:
        return None  # nothing labelled to measure; the fine-tuning run validates

    def save_best(self, metric: float, step: int) -> None:
        pass


@dataclass
class PretrainOutcome:
    result: TrainResult
    encoder_path: Path | None  # None when cancelled (the checkpoint resumes it)


def targets_mismatch(spec: dict, method: PretrainSettings) -> str | None:
    """How fitted targets differ from what ``method`` asks for, or None. Model sources are
    compared by name, so a run folder still resumes where the feature model has moved."""

    def describe(source: str, layer: int, clusters: int) -> str:
        name = Path(source).name.removesuffix(".safetensors")
        where = "pooled pixels" if source == "pixels" else f"{name}'s " + (f"layer {layer}" if layer else "front end")
        return f"{clusters} clusters of {where}"

    fitted_source = "pixels" if spec["features"] == "pixels" else spec.get("source", "")
    have = describe(fitted_source, spec.get("layer", 0), spec["clusters"])
    want = describe(method.features, method.feature_layer, method.clusters)
    return None if have == want else f"fitted as {have}, not {want}"


def prepare_targets(
    store: LineStore,
    method: PretrainSettings,
    run_dir: Path,
    seed: int,
    device: torch.device,
    on_status: Callable[[str], None],
    refit: bool = False,
) -> ClusterTargets | None:
    """Fit (rank 0, once per run) or reload the k-means targets; None for pixel targets. A run
    folder's targets must be the ones asked for: resuming with other settings is refused."""
    if method.target == "pixels":
        return None
    path = run_dir / TARGETS_FILE
    if refit and path.exists() and distributed.is_main():
        path.unlink()
    distributed.barrier()  # no rank may read the old file while rank 0 replaces it
    if not path.exists() and distributed.is_main():
        layer = f", after transformer layer {method.feature_layer}" if method.feature_layer else ""
        on_status(
            f"fitting {method.clusters} clusters on up to {method.kmeans_columns} columns "
            f"({method.features} features{layer})"
        )
        order = np.random.default_rng([seed, 3]).permutation(store.num_shards).tolist()
        config = config_for(method.size, height=store.height)
        targets = fit_cluster_targets(
            store.iter_lines(order),
            method.features,
            config,
            method.clusters,
            method.kmeans_columns,
            method.kmeans_iterations,
            seed,
            device,
            method.feature_layer,
        )
        targets.save(path)  # atomic: a crash never leaves half a targets file to resume from
    distributed.barrier()
    targets = ClusterTargets.load(path)
    mismatch = targets_mismatch(targets.spec, method)
    if mismatch:
        raise DataError(
            f"{run_dir}: its k-means targets were {mismatch}; pre-train into a new --out folder, "
            "or start over with --no-resume"
        )
    return targets


def save_encoder(path: Path, model: MaskedEncoder, provenance: dict) -> Path:
    holder = EncoderOnly(model.encoder)
    empty = Charset([])
    return save_model(path, holder, empty, build_metadata(holder, empty, Path(path).name, provenance, kind="encoder"))


def pretrain_encoder(
    store: LineStore | Path,
    run_dir: Path,
    method: PretrainSettings,
    settings: TrainSettings,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
    on_status: Callable[[str], None] | None = None,
    data_description: str = "",
) -> PretrainOutcome:
    """Pre-train an encoder on the unlabeled lines of ``store``; writes checkpoints to
    ``run_dir`` and, when finished, the encoder model file ``run_dir/encoder`` (kind "encoder").
    ``data_description`` says what the lines are, for a person reading the model's provenance
    (the store's folder otherwise)."""
    store = store if isinstance(store, LineStore) else LineStore(store)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    status = on_status or (lambda message: None)
    if len(store) == 0:
        raise DataError(f"{store.root}: the line store is empty")
    from mspt_core.devices import pick_device

    device = distributed.local_device(pick_device(settings.device))
    targets = prepare_targets(store, method, run_dir, settings.seed, device, status, refit=not resume)
    torch.manual_seed(settings.seed)  # same seed, same initial weights
    config = config_for(method.size, height=store.height)
    outputs = targets.clusters if targets is not None else config.height * DOWNSAMPLE
    model = MaskedEncoder(config, outputs, method.fill)
    job = PretrainJob(model, store, targets, method, settings)
    status(
        f"pre-training a {method.size} encoder ({sum(p.numel() for p in model.encoder.parameters()) / 1e6:.1f}M "
        f"parameters) on {len(store)} lines, {distributed.world_size()} process(es)"
    )
    result = train(job, settings, run_dir, on_progress, should_stop, resume)
    if result.status == "cancelled":
        return PretrainOutcome(result, None)
    path = run_dir / ENCODER
    if distributed.is_main():
        provenance = {
            "pretraining": asdict(method),
            "targets": targets.spec if targets is not None else None,
            "lines": len(store),
            "data": data_description or f"line store {store.root}",
            "store": str(store.root),
            "steps": result.step,
            "final_loss": _last_loss(result),
            "precision": job.precision,
            "settings": {
                "steps": settings.steps,
                "batch_size": settings.batch_size,
                "lr": settings.lr,
                "seed": settings.seed,
                "processes": distributed.world_size(),
            },
        }
        save_encoder(path, model, provenance)
    distributed.barrier()
    return PretrainOutcome(result, path)


def _last_loss(result: TrainResult) -> float | None:
    losses = [h["loss"] for h in result.history if "loss" in h]
    return losses[-1] if losses else None

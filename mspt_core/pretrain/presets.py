"""Named starting points, so a person only has to choose the data. Every value can still be
overridden one by one (CLI options, or ``dataclasses.replace``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

# Plain data only (no torch), so `mspt --help` can list the presets quickly.
SCHEDULES = ("linear", "cosine", "step", "constant")
FILLS = ("noise", "embedding")
TARGETS = ("kmeans", "pixels")


@dataclass(frozen=True)
class PretrainSettings:
    """The method's knobs; the loop's (steps, lr, batch size, ...) stay in TrainSettings."""

    size: str = "small"
    fill: str = "noise"  # "noise": a fixed noise tile in the masked pixel columns; "embedding": learned
    schedule: str = "linear"  # progressive p from p_start to p_end; "constant" keeps p_end
    p_start: float = 0.1
    p_end: float = 0.5
    stages: int = 4  # stairs of the "step" schedule
    unmasked_weight: float = 0.5  # w: loss = CE(masked) + w * CE(visible); 0 = masked-only
    target: str = "kmeans"  # "kmeans" pseudo-labels or "pixels" reconstruction
    clusters: int = 256
    # k-means features: "pixels", "untrained" or a model name/path. "pixels" here needs no model
    # file at all; the presets below choose the default model, which makes better targets.
    features: str = "pixels"
    feature_layer: int = 0  # with a model: 0 = its front end, n = after its first n transformer layers
    kmeans_columns: int = 50_000  # columns sampled to fit the centroids
    kmeans_iterations: int = 200
    max_width: int = 1024  # longer lines are cropped at a random place (pixels at model height)
    shards_per_window: int = 4  # shards whose lines are shuffled together

    def __post_init__(self):
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {', '.join(FILLS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}")
        if self.unmasked_weight < 0 or self.clusters < 2 or self.max_width < 8 or self.feature_layer < 0:
            raise ValueError("unmasked_weight must be >= 0, clusters >= 2, max_width >= 8 and feature_layer >= 0")
        if self.feature_layer and self.features in ("pixels", "untrained"):
            raise ValueError(f"feature_layer needs a trained model as features, not {self.features!r}")


@dataclass(frozen=True)
class Preset:
    description: str
    method: PretrainSettings
    loop: dict  # TrainSettings fields


# Every preset clusters the bundled default model's front-end features: in our ablation they
# made far better targets than pooled pixels (benchmarks/RESULTS.md).
PRESETS: dict[str, Preset] = {
    "cpu-small": Preset(
        "a laptop CPU overnight: 'small' encoder (~5M parameters), 256 clusters",
        PretrainSettings(size="small", clusters=256, features="default", kmeans_columns=50_000, max_width=768),
        dict(steps=3000, batch_size=16, lr=5e-4, warmup=200, checkpoint_every=250),
    ),
    "gpu-base": Preset(
        "one GPU for a day: the authors' 'base' encoder (6 layers, d 512), 1024 clusters, bf16",
        PretrainSettings(size="base", clusters=1024, features="default", kmeans_columns=500_000, max_width=1536),
        dict(steps=100_000, batch_size=64, lr=3e-4, warmup=2000, checkpoint_every=2000),
    ),
    "paper": Preset(
        "the published scale: 'base' encoder, 4096 clusters, millions of lines, several GPUs (torchrun)",
        PretrainSettings(
            size="base",
            clusters=4096,
            features="default",
            kmeans_columns=2_000_000,
            kmeans_iterations=500,
            max_width=2048,
        ),
        dict(steps=300_000, batch_size=128, lr=3e-4, warmup=5000, checkpoint_every=5000),
    ),
}


def preset(name: str, **method_overrides) -> tuple[PretrainSettings, TrainSettings]:
    from mspt_core.train.loop import TrainSettings

    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    chosen = PRESETS[name]
    return replace(chosen.method, **method_overrides), TrainSettings(**chosen.loop)

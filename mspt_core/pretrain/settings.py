"""The pre-training method's settings. The named starting points built from them (presets)
live with the other training presets in ``mspt_core.presets``."""

from __future__ import annotations

from dataclasses import dataclass

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
    # w: loss = CE(masked) + w * CE(visible); 0 = masked-only. 1 won on val in the ablation
    # (benchmarks/RESULTS.md, "Masked pre-training ablation").
    unmasked_weight: float = 1.0
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

"""The training loop's settings: plain data (no torch), so presets and help texts can read them
without loading the loop."""

from __future__ import annotations

import math
from dataclasses import dataclass

AS_CUT = (1.0, 1.0)  # training lines' widths, as factors of the width cut: not stretched
AS_READ = (1.0, 1.0)  # as factors of the width a base reads its lines at: as wide as it reads them


@dataclass
class TrainSettings:
    """The loop's settings. Its defaults are those of training a recognizer from scratch; every
    other kind of training starts from a preset in ``mspt_core.presets``."""

    steps: int = 3000  # optimizer steps
    batch_size: int = 16
    lr: float = 5e-4
    warmup: int = 200
    schedule: str = "cosine"  # "cosine" or "constant" after warm-up
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    accumulate: int = 1  # batches per optimizer step
    val_every: int = 200
    patience: int = 0  # stop after this many validations without improvement; 0 = never
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast where the device supports it
    # Validation and the kept weights read an exponential moving average of the weights with this
    # decay (``train.ema``; about 1 / (1 - decay) steps weigh); 0: the weights as trained.
    ema_decay: float = 0.0

    def __post_init__(self):
        counts = ("steps", "batch_size", "warmup", "accumulate", "val_every", "patience", "checkpoint_every", "seed")
        for name in counts:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number, not {value!r}")
        for name in ("lr", "weight_decay", "grad_clip", "ema_decay"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ValueError(f"{name} must be a number, not {value!r}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if min(self.steps, self.batch_size, self.accumulate, self.val_every, self.checkpoint_every) < 1:
            raise ValueError("steps, batch_size, accumulate, val_every and checkpoint_every must be positive")
        if self.warmup < 0 or self.patience < 0:
            raise ValueError("warmup and patience must not be negative")
        if not (math.isfinite(self.lr) and self.lr > 0):  # nan would train to nan without a word
            raise ValueError(f"lr must be a number above 0, got {self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be at least 0 and below 1, got {self.ema_decay}")

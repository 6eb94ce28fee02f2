"""Which encoder tokens are hidden, and how.

A token is one full-height 8-px column of the line. Each real token is masked with probability
``p``; padding tokens never are. ``p`` follows a schedule over the pre-training steps:
progressive masking raises it from ``p_start`` to ``p_end`` (linear, cosine or in equal
steps); "constant" keeps ``p_end`` throughout."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from mspt_core.model.config import DOWNSAMPLE
from mspt_core.pretrain.settings import SCHEDULES


@dataclass(frozen=True)
class MaskSchedule:
    kind: str = "linear"
    p_start: float = 0.1
    p_end: float = 0.5
    total_steps: int = 1000
    stages: int = 4  # for "step": p rises in this many equal stairs

    def __post_init__(self):
        if self.kind not in SCHEDULES:
            raise ValueError(f"mask schedule must be one of {', '.join(SCHEDULES)}, got {self.kind!r}")
        if not (0.0 <= self.p_start <= 1.0 and 0.0 <= self.p_end <= 1.0):
            raise ValueError("masking probabilities must lie in [0, 1]")
        if self.total_steps < 1 or self.stages < 1:
            raise ValueError("total_steps and stages must be positive")

    def probability(self, step: int) -> float:
        """p at optimizer step ``step`` (0 = the first step, total_steps - 1 = the last)."""
        if self.kind == "constant":
            return self.p_end
        progress = min(1.0, max(0.0, step / max(1, self.total_steps - 1)))
        if self.kind == "cosine":
            progress = 0.5 * (1.0 - math.cos(math.pi * progress))
        elif self.kind == "step":
            progress = min(self.stages - 1, math.floor(progress * self.stages)) / max(1, self.stages - 1)
        return self.p_start + (self.p_end - self.p_start) * progress


def sample_mask(lengths: torch.Tensor, max_length: int, p: float, rng: np.random.Generator) -> torch.Tensor:
    """(B, T) bool, True = masked. Only the first ``lengths[b]`` tokens of a line can be masked.
    With p > 0 each line gets at least one masked token, so the masked loss is never empty."""
    lengths_np = lengths.cpu().numpy()
    real = np.arange(max_length)[None, :] < lengths_np[:, None]
    mask = (rng.random((len(lengths_np), max_length)) < p) & real
    if p > 0:
        for b in np.flatnonzero(~mask.any(1)):
            mask[b, rng.integers(lengths_np[b])] = True
    return torch.from_numpy(mask)


def noise_tile(height: int, seed: int = 0) -> torch.Tensor:
    """The fixed pattern written into masked columns: (height, 8) values in [0, 1]."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(height, DOWNSAMPLE, generator=generator)


def fill_with_noise(images: torch.Tensor, mask: torch.Tensor, tile: torch.Tensor) -> torch.Tensor:
    """Copy of ``images`` (B, 1, H, W) with each masked token's 8 pixel columns replaced by ``tile``."""
    width = images.shape[-1]
    columns = mask.to(images.device).repeat_interleave(DOWNSAMPLE, dim=1)[:, :width]  # (B, W)
    pattern = tile.to(images.dtype).to(images.device).repeat(1, -(-width // DOWNSAMPLE))[:, :width]
    return torch.where(columns[:, None, None, :], pattern[None, None], images)


def fill_with_embedding(tokens: torch.Tensor, mask: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
    """Copy of front-end ``tokens`` (B, T, d) with masked ones replaced by the learned ``embedding``."""
    return torch.where(mask.to(tokens.device)[..., None], embedding.to(tokens.dtype), tokens)

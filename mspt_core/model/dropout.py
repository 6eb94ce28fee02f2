"""Dropout whose random mask costs less on a CPU.

PyTorch draws a CPU dropout mask one Bernoulli sample per element, about 6 ns each on our EPYC:
a fifth of a training step of the handwriting model under bf16 autocast. Here each 64-bit number
drawn from torch's generator decides four elements (16 bits each, dropped below p x 65536): a
bf16 step 0.32 -> 0.29 s (benchmarks/training_precision.py). The random state stays torch's:
seeding and a resumed run's saved generator state give the same masks again. On other devices,
in eval mode and at p near 0 or 1 it is ``F.dropout``. The attention weights' own dropout, inside
PyTorch's attention, keeps PyTorch's mask."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 1 << 16  # a 16-bit number is below ``round(p * LEVELS)`` with probability p, to 1 in 131,072
_INT64 = torch.iinfo(torch.int64)


def keep_mask(shape: torch.Size | tuple[int, ...], dropped_levels: int) -> torch.Tensor:
    """A bool mask of ``shape``: each element kept with probability 1 - dropped_levels / LEVELS."""
    count = math.prod(shape)
    words = torch.randint(_INT64.min, _INT64.max, ((count + 3) // 4,), dtype=torch.int64)
    parts = words.view(torch.int16)[:count]  # four uniform 16-bit numbers a word, -32768..32767
    return (parts >= dropped_levels - LEVELS // 2).view(shape)


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with ``keep_mask``'s mask on a CPU (the same ``p``, the same scaling; never
    in place there: nothing in mspt asks for it)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dropped = round(self.p * LEVELS)
        if not self.training or x.device.type != "cpu" or not 0 < dropped < LEVELS:
            return F.dropout(x, self.p, self.training, self.inplace)
        return x * (keep_mask(x.shape, dropped) * (LEVELS / (LEVELS - dropped))).to(x.dtype)


def use_fast_dropout(module: nn.Module) -> nn.Module:
    """Every ``nn.Dropout`` inside ``module`` (those of PyTorch's transformer layers too) made a
    ``FastDropout`` with the same ``p``; no weights change. Returns ``module``."""
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, FastDropout(child.p, child.inplace))
    return module

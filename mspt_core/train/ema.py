"""An exponential moving average of a model's weights over the optimizer's steps (Polyak
averaging). Small CPU batches make each step's weights noisy around the minimum they circle; their
average sits nearer it: from the twelfth-round handwriting model, the weights halfway between it
and those of step 3,000 of the thirteenth round read the pooled val lines at 17.93 % CER, the
step-3,000 weights at 18.34 % and the start at 17.95 % (RESULTS.md, "Weights averaged over the
steps").

The average is bias-corrected as Adam's moments are (Kingma & Ba 2015): it starts from zero and
is divided by ``1 - decay ** updates``, so from the first step it is a weighted mean of the
weights the run has taken, with no weight on where it started and no warm-up to choose.
Floating-point buffers (BatchNorm's running statistics) are averaged with the parameters; integer
ones are the model's own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

PREFIX = "ema."  # of the average's tensors in a training checkpoint


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the average's decay must lie between 0 and 1, not {decay}")
        self.decay = decay
        self.updates = 0
        self._sums = {
            key: torch.zeros_like(value) for key, value in model.state_dict().items() if value.is_floating_point()
        }

    def running_sums(self) -> list[torch.Tensor]:
        """The tensors the average is kept in (to be averaged over ranks under torchrun: the
        parameters' are the same on every rank, BatchNorm's statistics are not)."""
        return list(self._sums.values())

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Take the model's weights after an optimizer step into the average."""
        state = model.state_dict()
        for key, total in self._sums.items():
            total.lerp_(state[key].detach(), 1.0 - self.decay)
        self.updates += 1

    def averaged(self) -> dict[str, torch.Tensor]:
        """The average, bias-corrected; empty before the first update."""
        if not self.updates:
            return {}
        correction = 1.0 - self.decay**self.updates
        return {key: total / correction for key, total in self._sums.items()}

    @contextmanager
    def swapped_in(self, model: nn.Module) -> Iterator[None]:
        """The model holds the averaged weights inside the block, its own again after it (the
        model as trained before the first update, when there is nothing to average yet)."""
        averaged = self.averaged()
        if not averaged:
            yield
            return
        own = {key: value.detach().clone() for key, value in model.state_dict().items() if key in averaged}
        model.load_state_dict(averaged, strict=False)
        try:
            yield
        finally:
            model.load_state_dict(own, strict=False)

    def keep_in(self, model: nn.Module) -> None:
        """Leave the averaged weights in the model for good (the run is over)."""
        averaged = self.averaged()
        if averaged:
            model.load_state_dict(averaged, strict=False)

    # --- checkpoints ---------------------------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        return {PREFIX + key: total.detach().cpu().contiguous() for key, total in self._sums.items()}

    def restore(self, tensors: dict[str, torch.Tensor], updates: int, decay: float | None) -> bool:
        """Take the running sums a checkpoint saved with ``decay``; False (nothing changed) where
        it saved none for this model (one written before the run averaged its weights) or saved
        them with another decay (they would be corrected by the wrong amount)."""
        saved = {key[len(PREFIX) :]: value for key, value in tensors.items() if key.startswith(PREFIX)}
        if decay != self.decay or set(saved) != set(self._sums):
            return False
        if any(saved[k].shape != v.shape for k, v in self._sums.items()):
            return False
        for key, total in self._sums.items():
            total.copy_(saved[key])
        self.updates = updates
        return True

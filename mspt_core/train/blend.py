"""A fine-tuned recognizer moved part of the way back to its base, weight by weight
(weight-space ensembling, Wortsman et al. 2022, "Robust fine-tuning of zero-shot models"): a
model fine-tuned on a few pages forgets some of what the base read well, and a blend keeps most
of the new hand while reading other hands more like the base. Measured on val documents with
``benchmarks/few_page_finetune.py`` (RESULTS.md, "Five-page fine-tuning blended back…")."""

from __future__ import annotations

import torch

from mspt_core.model import Recognizer


def blend_with_base(tuned: Recognizer, base: Recognizer, tuned_share: float, base_classes: int) -> None:
    """Set ``tuned``'s weights to ``base * (1 - tuned_share) + tuned * tuned_share``, in place.
    ``base`` must have ``tuned``'s shape (its charset extended the same way); the output rows of
    characters past ``base_classes`` (those the fine-tuning added) stay as tuned. Integer buffers
    (BatchNorm's step counts) stay as tuned."""
    if not 0.0 <= tuned_share <= 1.0:
        raise ValueError(f"tuned_share must lie in [0, 1], not {tuned_share}")
    base_state = base.state_dict()
    per_class = tuned.per_class_tensors()  # rows the fine-tuning added have no base to blend with
    blended = {}
    for key, value in tuned.state_dict().items():
        if not value.is_floating_point():
            blended[key] = value
            continue
        if base_state[key].shape != value.shape:
            raise ValueError(f"{key}: base {tuple(base_state[key].shape)} vs tuned {tuple(value.shape)}")
        mixed = torch.lerp(base_state[key].to(value.device, value.dtype), value, tuned_share)
        if key in per_class and value.shape[0] > base_classes:
            mixed[base_classes:] = value[base_classes:]
        blended[key] = mixed
    tuned.load_state_dict(blended)

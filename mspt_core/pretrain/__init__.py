"""Masked self-supervised pre-training of the recognizer's encoder on unlabeled line images
(Kišš & Hradiš, arXiv 2503.22513): progressive masking, k-means pseudo-label or pixel targets,
and a loss that also counts visible tokens. ``pretrain_encoder`` is the entry point; fine-tuning
from its encoder is ``mspt_core.train.finetune.finetune_recognizer``.

Names are imported on first use, so importing the light ``settings`` module does not load torch.
The presets built from ``PretrainSettings`` live in ``mspt_core.presets``."""

from importlib import import_module

_EXPORTS = {
    "pretrain_encoder": "job",
    "PretrainOutcome": "job",
    "ENCODER": "job",
    "MaskSchedule": "masking",
    "PretrainSettings": "settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"mspt_core.pretrain.{_EXPORTS[name]}"), name)

"""Fine-tuning from a pre-trained encoder: the encoder (front end + transformer) of any model
file — a pre-trained encoder, or a recognizer trained on other data (transfer learning) — goes
into a new recognizer with a fresh CTC head (or decoder) whose alphabet comes from the
labelled data. The encoder can learn at a fraction of the head's rate and can stay frozen for
the first steps, so the random head does not wreck it before it has learned anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from mspt_core.charset import Charset
from mspt_core.data.lines import LineSet
from mspt_core.errors import DataError
from mspt_core.model import Recognizer
from mspt_core.models import load_model
from mspt_core.presets import ENCODER, training_preset
from mspt_core.train.loop import Progress, TrainSettings
from mspt_core.train.supervised import (
    RecognitionJob,
    TrainOutcome,
    check_encoder_lr_scale,
    data_provenance,
    loop_provenance,
    run_recognition_job,
)


class FinetuneJob(RecognitionJob):
    def __init__(self, *args, encoder_lr_scale: float, freeze_steps: int, **kwargs):
        kwargs["encoder_lr_scale"] = encoder_lr_scale
        super().__init__(*args, **kwargs)
        self.freeze_steps = freeze_steps

    def param_groups(self) -> list[dict]:
        # Two groups whatever the scale, encoder first: the frozen encoder's parameters must be in
        # the optimizer from the start, and runs already made hold this order in their checkpoints.
        encoder = list(self.model.encoder.parameters())
        own = {id(p) for p in encoder}
        heads = [p for p in self.model.parameters() if id(p) not in own]
        return [{"params": encoder, "lr_scale": self.encoder_lr_scale}, {"params": heads, "lr_scale": 1.0}]

    def on_step_start(self, step: int) -> None:
        # A frozen parameter gets no gradient, and AdamW leaves parameters without one alone.
        trainable = step >= self.freeze_steps
        for p in self.model.encoder.parameters():
            p.requires_grad_(trainable)
        # BatchNorm's running statistics are not parameters: frozen means they stay, too.
        for module in self.model.encoder.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.train(trainable)


def recognizer_from_encoder(encoder_file: Path, charset: Charset, head: str = "ctc") -> tuple[Recognizer, dict]:
    """A new recognizer for ``charset`` holding the encoder of ``encoder_file``; also returns the
    file's metadata."""
    source = load_model(encoder_file)
    model = Recognizer(replace(source.config, head=head), len(charset))
    model.encoder.load_state_dict(source.model.encoder.state_dict())
    return model, source.metadata


def finetune_recognizer(
    train_set: LineSet,
    val_set: LineSet | None,
    run_dir: Path,
    settings: TrainSettings,
    encoder_file: Path,
    head: str = "ctc",
    encoder_lr_scale: float | None = None,
    freeze_steps: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = True,
    data_description: str = "",
    use_augmentation: bool = True,
) -> TrainOutcome:
    """``encoder_lr_scale`` and ``freeze_steps`` default to the new-head preset's
    (``mspt_core.presets``)."""
    if not train_set.samples:
        raise DataError("no training lines")
    preset = training_preset(ENCODER)
    encoder_lr_scale = preset.encoder_lr_scale if encoder_lr_scale is None else encoder_lr_scale
    freeze_steps = preset.freeze_steps if freeze_steps is None else freeze_steps
    check_encoder_lr_scale(encoder_lr_scale)
    if freeze_steps < 0:
        raise ValueError("freeze_steps must not be negative")
    run_dir = Path(run_dir)
    torch.manual_seed(settings.seed)  # same seed, same fresh head
    charset = Charset.from_texts(train_set.texts)
    model, source_meta = recognizer_from_encoder(encoder_file, charset, head)
    provenance = {
        **data_provenance(train_set, val_set, data_description),
        "encoder": str(encoder_file),
        "encoder_kind": source_meta.get("kind"),
        "encoder_provenance": source_meta.get("provenance", {}),
        "settings": loop_provenance(settings, head=head, encoder_lr_scale=encoder_lr_scale, freeze_steps=freeze_steps),
    }
    job = FinetuneJob(
        model,
        charset,
        train_set,
        val_set,
        settings,
        run_dir,
        provenance,
        use_augmentation,
        encoder_lr_scale=encoder_lr_scale,
        freeze_steps=freeze_steps,
    )
    outcome = run_recognition_job(job, on_progress, should_stop, resume, [])
    for p in model.parameters():
        p.requires_grad_(True)  # unfrozen for whoever uses the model next
    return outcome

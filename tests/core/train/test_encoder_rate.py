"""Fine-tuning a recognizer with its encoder learning slower than its reading head
(``train_recognizer(encoder_lr_scale=...)``), on real lines with the bundled default as the base."""

from __future__ import annotations

import pytest
import torch


def _run(folder, lines, scale):
    from mspt_core.models import resolve
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    settings = TrainSettings(
        steps=12, batch_size=4, lr=1e-3, warmup=0, val_every=4, checkpoint_every=4, seed=3, device="cpu"
    )
    # No validation: the run hands back its last weights, so every run has taken all 12 steps.
    return train_recognizer(
        lines, None, folder, settings, base_model=resolve("default"), use_augmentation=False, encoder_lr_scale=scale
    )


def _learned(path) -> dict[str, torch.Tensor]:
    from mspt_core.models import load_model

    # BatchNorm's running statistics follow the batches whatever the rate: only what learns
    return {k: v.detach() for k, v in load_model(path).model.named_parameters()}


def test_at_scale_zero_only_the_reading_head_learns_and_the_scale_is_recorded(tmp_path, old_print_lines):
    from mspt_core.models import read_metadata, resolve

    outcome = _run(tmp_path / "head", old_print_lines, 0.0)
    assert outcome.result.step == 12
    base, tuned = _learned(resolve("default")), _learned(outcome.model_path)
    encoder = [k for k in tuned if k.startswith("encoder.")]
    head = [k for k in tuned if not k.startswith("encoder.")]
    assert encoder and head
    assert all(torch.equal(tuned[k], base[k]) for k in encoder)
    assert any(not torch.equal(tuned[k], base[k]) for k in head)
    settings = read_metadata(outcome.model_path)["provenance"]["settings"]
    assert settings["encoder_lr_scale"] == 0.0


def test_a_slower_encoder_moves_less_than_a_full_rate_one(tmp_path, old_print_lines):
    from mspt_core.models import resolve

    base = _learned(resolve("default"))
    moved = {}
    for scale in (0.1, 1.0):
        tuned = _learned(_run(tmp_path / str(scale), old_print_lines, scale).model_path)
        moved[scale] = sum(float((tuned[k] - base[k]).abs().sum()) for k in tuned if k.startswith("encoder."))
    assert 0 < moved[0.1] < moved[1.0] / 3


def test_a_negative_or_nan_scale_is_refused(tmp_path, old_print_lines):
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="encoder_lr_scale"):
            _run(tmp_path, old_print_lines, bad)


def test_one_parameter_group_at_the_full_rate_as_runs_made_before_the_scale_hold(tmp_path):
    from mspt_core.charset import Charset
    from mspt_core.data.lines import LineSet
    from mspt_core.model import Recognizer, config_for
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import RecognitionJob

    model = Recognizer(config_for("tiny"), 5)
    trainable = {id(p) for p in model.parameters()}
    encoder = {id(p) for p in model.encoder.parameters()}
    lines = LineSet()

    def groups(scale):
        job = RecognitionJob(
            model, Charset(["a", "b"]), lines, None, TrainSettings(), tmp_path, {}, encoder_lr_scale=scale
        )
        return job.param_groups()

    (whole,) = groups(1.0)
    assert {id(p) for p in whole["params"]} == trainable and whole["lr_scale"] == 1.0
    head, slow = groups(0.25)
    assert {id(p) for p in slow["params"]} == encoder and slow["lr_scale"] == 0.25
    assert {id(p) for p in head["params"]} == trainable - encoder and head["lr_scale"] == 1.0


def test_resuming_a_run_at_another_encoder_rate_says_so(tmp_path, old_print_lines):
    from mspt_core.errors import ModelFileError

    _run(tmp_path, old_print_lines, 0.5)
    with pytest.raises(ModelFileError, match="another share of the learning rate"):
        _run(tmp_path, old_print_lines, 1.0)

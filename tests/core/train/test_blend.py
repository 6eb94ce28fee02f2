"""Blending a fine-tuned recognizer with its base (mspt_core.train.blend)."""

from __future__ import annotations

import argparse

import pytest
import torch

from mspt_core.model import Recognizer, config_for
from mspt_core.train.blend import blend_with_base


def _pair(added: int = 0, head: str = "ctc") -> tuple[Recognizer, Recognizer]:
    torch.manual_seed(0)
    base = Recognizer(config_for("tiny", head=head), 20)
    tuned = Recognizer(config_for("tiny", head=head), 20)
    base.extend_charset(added)
    tuned.extend_charset(added)
    return base, tuned


def test_shares_zero_and_one_give_base_and_tuned():
    base, tuned = _pair()
    tuned_before = {k: v.clone() for k, v in tuned.state_dict().items()}
    blend_with_base(tuned, base, 1.0, base_classes=20)
    assert all(torch.equal(v, tuned_before[k]) for k, v in tuned.state_dict().items())
    blend_with_base(tuned, base, 0.0, base_classes=20)
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in tuned.state_dict().items())


@pytest.mark.parametrize("head", ["ctc", "decoder"])
def test_half_share_is_the_midpoint_and_added_characters_stay_tuned(head):
    base, tuned = _pair(added=3, head=head)
    before = tuned.head().proj.weight.detach().clone()
    attention_before = tuned.encoder.transformer.layers[0].self_attn.out_proj.weight.detach().clone()
    conv = next(k for k, v in tuned.state_dict().items() if v.is_floating_point() and v.dim() == 4)
    expected_conv = (base.state_dict()[conv] + tuned.state_dict()[conv]) / 2
    blend_with_base(tuned, base, 0.5, base_classes=20)
    assert torch.allclose(tuned.state_dict()[conv], expected_conv)
    rows = tuned.head().proj.weight.detach()
    assert torch.allclose(rows[:20], (base.head().proj.weight[:20] + before[:20]) / 2)
    assert torch.equal(rows[20:], before[20:])  # the base has no row for a character it never had
    # A weight matrix with more rows than the base has characters is blended whole.
    attention = tuned.encoder.transformer.layers[0].self_attn.out_proj.weight.detach()
    base_attention = base.encoder.transformer.layers[0].self_attn.out_proj.weight
    assert attention.shape[0] > 20 and torch.allclose(attention, (base_attention + attention_before) / 2)


def test_bad_share_or_shape_is_refused():
    base, tuned = _pair()
    with pytest.raises(ValueError, match="tuned_share"):
        blend_with_base(tuned, base, 1.5, base_classes=20)
    other = Recognizer(config_for("tiny"), 25)
    with pytest.raises(ValueError, match="base"):
        blend_with_base(other, base, 0.5, base_classes=20)


# --- a fine-tuning run with a tuned share, real lines, the bundled default model as the base ---


def _settings():
    from mspt_core.train.loop import TrainSettings

    return TrainSettings(
        steps=12, batch_size=4, lr=3e-4, warmup=0, val_every=4, checkpoint_every=4, seed=3, device="cpu"
    )


def _weights(path) -> dict[str, torch.Tensor]:
    from mspt_core.models import load_model

    return load_model(path).model.state_dict()


def test_a_finetune_with_a_tuned_share_hands_back_the_blend_of_its_best_and_the_base(tmp_path, old_print_lines):
    from mspt_core.models import read_metadata, resolve
    from mspt_core.train.supervised import BEST, BLEND, BLENDED, train_recognizer

    lines, base = old_print_lines, resolve("default")

    def run(folder, share):
        # Validated on the lines it learns from: what is under test is what the run hands back.
        return train_recognizer(
            lines, lines, tmp_path / folder, _settings(), base_model=base, use_augmentation=False, tuned_share=share
        )

    plain, blended = run("plain", 1.0), run("blend", 0.5)
    assert not plain.kept_base and plain.blend is None and plain.model_path == tmp_path / "plain" / BEST
    assert blended.result.best_step == plain.result.best_step  # the same training; only the hand-back differs
    assert blended.model_path == tmp_path / "blend" / BLEND and blended.blend and blended.blend.kept
    conv = "encoder.frontend.stem.0.0.weight"
    base_w, plain_w, blend_w = _weights(base), _weights(plain.model_path), _weights(blended.model_path)
    assert torch.allclose(blend_w[conv], (base_w[conv] + plain_w[conv]) / 2, atol=1e-6)
    assert torch.equal(_weights(tmp_path / "blend" / BEST)[conv], plain_w[conv])  # the kept model stays
    meta, original = read_metadata(blended.model_path), read_metadata(base)
    assert meta[BLENDED] == 0.5 and blended.blend.val_cer < blended.result.start_metric
    assert meta["provenance"]["val_cer"] == blended.blend.val_cer == blended.tuned_cer
    assert meta["provenance"]["val_cer_unblended"] == pytest.approx(plain.result.best_metric)
    for key in ("language_model", "end_margin"):  # it reads as its base does
        assert meta.get(key) == original.get(key)
    # A finished run asked again blends nothing twice; at another share it blends the kept model again.
    again = run("blend", 0.5)
    assert again.blend == blended.blend and torch.equal(_weights(again.model_path)[conv], blend_w[conv])
    unblended = run("blend", 1.0)
    assert unblended.blend is None and unblended.model_path == tmp_path / "blend" / BEST
    nearer = run("blend", 0.75)
    expected = base_w[conv] * 0.25 + plain_w[conv] * 0.75
    assert read_metadata(nearer.model_path)[BLENDED] == 0.75
    assert torch.allclose(_weights(nearer.model_path)[conv], expected, atol=1e-6)


def test_a_blend_that_reads_no_better_than_the_base_is_not_handed_back(tmp_path, old_print_lines, capsys):
    from mspt_core.cli.common import report_training
    from mspt_core.models import resolve
    from mspt_core.train.supervised import BEST, BLEND, train_recognizer

    lines, base = old_print_lines, resolve("default")
    # Share 0 is the base itself (no character was added): a tie with the base, which is no gain.
    outcome = train_recognizer(
        lines, lines, tmp_path, _settings(), base_model=base, use_augmentation=False, tuned_share=0.0
    )
    assert not outcome.kept_base and outcome.blend is not None and not outcome.blend.kept
    assert outcome.blend.val_cer == pytest.approx(outcome.result.start_metric)
    assert outcome.model_path == tmp_path / BEST and not (tmp_path / BLEND).exists()
    assert outcome.tuned_cer == outcome.result.best_metric  # the unblended best, as without a share
    report_training(outcome, argparse.Namespace(install_as=None))
    assert "read no better than the base" in capsys.readouterr().out


def test_selecting_blended_validates_and_keeps_the_blend_of_the_average_and_leaves_the_training_alone(
    tmp_path, old_print_lines
):
    from dataclasses import replace

    from mspt_core import tensorfile
    from mspt_core.errors import ModelFileError
    from mspt_core.models import LoadedModel, load_model, read_metadata, resolve
    from mspt_core.recognize import READING_SETTINGS, LineRecognizer
    from mspt_core.train.checkpoint import CHECKPOINT
    from mspt_core.train.supervised import BEST, BLEND, BLENDED, lines_cer, train_recognizer

    lines, base = old_print_lines, resolve("default")
    # Validated at step 0 (the base) and at the end; the weights averaged, as the bundled rounds do.
    settings = replace(_settings(), val_every=12, ema_decay=0.8)

    def run(folder, select, share=0.5):
        return train_recognizer(
            lines,
            lines,
            tmp_path / folder,
            settings,
            base_model=base,
            use_augmentation=False,
            tuned_share=share if select else 1.0,
            select_blended=select,
        )

    plain, selected = run("plain", False), run("selected", True)

    def checkpointed(folder):  # the weights as trained at the last step, and their average
        saved = tensorfile.open_file(tmp_path / folder / CHECKPOINT, "checkpoint")
        tensors, state = saved.tensors(), saved.json("state")
        correction = 1 - settings.ema_decay ** state["ema_updates"]  # the average is bias-corrected
        trained = {key[len("model.") :]: value for key, value in tensors.items() if key.startswith("model.")}
        average = {key[len("ema.") :]: value / correction for key, value in tensors.items() if key.startswith("ema.")}
        return trained, average

    (plain_steps, _), (selected_steps, average) = checkpointed("plain"), checkpointed("selected")
    assert all(torch.equal(plain_steps[key], selected_steps[key]) for key in plain_steps)  # validation changed nothing
    assert selected.result.history[0] == plain.result.history[0]  # step 0 reads the base either way
    assert selected.result.best_step == 12 and selected.blend is None
    assert selected.model_path == tmp_path / "selected" / BEST and not (tmp_path / "selected" / BLEND).exists()
    conv = "encoder.frontend.stem.0.0.weight"
    assert not torch.allclose(average[conv], selected_steps[conv], atol=1e-6)
    expected = (_weights(base)[conv] + average[conv]) / 2
    assert torch.allclose(_weights(selected.model_path)[conv], expected, atol=1e-6)
    assert selected.result.best_metric != plain.result.best_metric  # it validated the blend, not the average
    kept = load_model(selected.model_path)  # read as validation reads: its reading settings, no language model
    as_validated = LoadedModel(
        kept.model, kept.charset, {k: kept.metadata[k] for k in READING_SETTINGS if k in kept.metadata}
    )
    assert lines_cer(LineRecognizer(as_validated, engine="torch"), lines) == pytest.approx(selected.result.best_metric)
    meta = read_metadata(selected.model_path)
    assert meta[BLENDED] == 0.5 and meta["provenance"]["settings"]["select_blended"] is True
    # Resumed validating otherwise, its keep-best would compare unlike figures: refused.
    with pytest.raises(ModelFileError, match="validated otherwise"):
        run("selected", False)
    with pytest.raises(ModelFileError, match="validated otherwise"):
        run("selected", True, share=0.25)
    with pytest.raises(ValueError, match="base model"):
        train_recognizer(lines, lines, tmp_path / "none", settings, tuned_share=0.5, select_blended=True)
    with pytest.raises(ValueError, match="between 0 and 1"):
        run("one", True, share=1.0)

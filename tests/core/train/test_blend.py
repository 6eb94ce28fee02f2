"""Blending a fine-tuned recognizer with its base (mspt_core.train.blend)."""

from __future__ import annotations

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

OLD_PRINT = "data/bpt6k1514025q/f12.xml"  # gallicorpora-16's train split; the default misreads ~10 %


@pytest.fixture(scope="module")
def old_print_lines(old_print):
    from mspt_core.data.lines import LineSet, lines_from_page_xml

    return LineSet(lines_from_page_xml(old_print / OLD_PRINT, 40).samples[:8])


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
    from mspt_core.train.supervised import BLENDED, train_recognizer

    lines, base = old_print_lines, resolve("default")
    # Validated on the lines it learns from: what is under test is what the run hands back.
    plain = train_recognizer(lines, lines, tmp_path / "plain", _settings(), base_model=base, use_augmentation=False)
    blended = train_recognizer(
        lines, lines, tmp_path / "blend", _settings(), base_model=base, use_augmentation=False, tuned_share=0.5
    )
    assert not plain.kept_base and plain.blend_cer is None and BLENDED not in read_metadata(plain.model_path)
    assert blended.result.best_step == plain.result.best_step  # the same training; only the hand-back differs
    conv = "encoder.frontend.stem.0.0.weight"
    base_w, plain_w, blend_w = _weights(base), _weights(plain.model_path), _weights(blended.model_path)
    assert conv in blend_w and torch.allclose(blend_w[conv], (base_w[conv] + plain_w[conv]) / 2, atol=1e-6)
    meta = read_metadata(blended.model_path)
    step0 = blended.result.history[0]["val"]
    assert meta[BLENDED] == 0.5 and blended.blend_cer is not None and blended.blend_cer <= step0
    assert meta["provenance"]["val_cer"] == blended.blend_cer == blended.tuned_cer
    assert meta["provenance"]["val_cer_unblended"] == pytest.approx(plain.result.best_metric)
    assert "language_model" in meta or "language_model" not in read_metadata(base)  # reads as its base does
    # A finished run asked again blends nothing twice.
    again = train_recognizer(
        lines, lines, tmp_path / "blend", _settings(), base_model=base, use_augmentation=False, tuned_share=0.5
    )
    assert again.blend_cer == blended.blend_cer and torch.equal(_weights(again.model_path)[conv], blend_w[conv])


def test_a_blend_that_reads_worse_than_the_base_is_not_kept(tmp_path, old_print_lines, monkeypatch):
    from mspt_core.models import read_metadata, resolve
    from mspt_core.train import supervised

    def wreck(tuned, base, share, base_classes):  # a blend gone wrong: every weight zero
        tuned.load_state_dict({k: torch.zeros_like(v) for k, v in tuned.state_dict().items()})

    monkeypatch.setattr(supervised, "blend_with_base", wreck)
    lines, base = old_print_lines, resolve("default")
    outcome = supervised.train_recognizer(
        lines, lines, tmp_path, _settings(), base_model=base, use_augmentation=False, tuned_share=0.5
    )
    assert not outcome.kept_base and outcome.blend_cer is None
    assert supervised.BLENDED not in read_metadata(outcome.model_path)
    assert outcome.tuned_cer == outcome.result.best_metric  # the unblended best, as without a share

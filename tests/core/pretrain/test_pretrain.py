"""Pre-training end to end on a tiny encoder: the schedule as the loop runs it, the encoder
model file, fine-tuning from it, and exact resume."""

import json

import numpy as np
import pytest
import torch

from mspt_core.data.lines import LineSample, LineSet
from mspt_core.model import config_for
from mspt_core.models import load_model
from mspt_core.pretrain import PretrainSettings, pretrain_encoder
from mspt_core.pretrain.job import PretrainJob
from mspt_core.pretrain.model import MaskedEncoder
from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.finetune import finetune_recognizer
from mspt_core.train.loop import TrainSettings, train
from tests.conftest import precision_on_this_cpu
from tests.core.pretrain.conftest import fake_line

METHOD = PretrainSettings(size="tiny", clusters=8, kmeans_columns=600, kmeans_iterations=20, max_width=160)


def _settings(**kw):
    base = dict(steps=8, batch_size=4, lr=1e-3, warmup=2, checkpoint_every=4, seed=3, device="cpu")
    return TrainSettings(**{**base, **kw})


def _losses(history):
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def test_the_loop_applies_the_schedule_from_p_start_to_p_end(store, tmp_path):
    method = PretrainSettings(size="tiny", target="pixels", p_start=0.1, p_end=0.7, max_width=160)
    settings = _settings(steps=6)
    torch.manual_seed(0)
    model = MaskedEncoder(config_for("tiny"), 40 * 8, method.fill)
    job = PretrainJob(model, store, None, method, settings)
    seen = []
    train(job, settings, tmp_path, on_progress=lambda p: seen.append(dict(job.last)) if p.event == "step" else None)
    assert seen[0]["p"] == pytest.approx(0.1) and seen[-1]["p"] == pytest.approx(0.7)
    assert seen[-1]["masked"] / seen[-1]["tokens"] > seen[0]["masked"] / seen[0]["tokens"]


@pytest.mark.parametrize(
    "method",
    [METHOD, PretrainSettings(size="tiny", target="pixels", fill="embedding", max_width=160)],
    ids=["kmeans-noise", "pixels-embedding"],
)
def test_pretrained_encoder_loads_and_fine_tunes(store, tmp_path, method):
    outcome = pretrain_encoder(store, tmp_path / "pre", method, _settings(steps=4))
    assert outcome.result.status == "finished"
    meta = json.loads((outcome.encoder_path / "model.json").read_text())
    assert meta["kind"] == "encoder" and meta["provenance"]["pretraining"]["target"] == method.target
    assert meta["provenance"]["precision"] == precision_on_this_cpu()  # as the loop trained it
    loaded = load_model(outcome.encoder_path)

    rng = np.random.default_rng(0)
    lines = LineSet([LineSample(fake_line(rng), text, "fake") for text in ["abc", "ba", "cab", "ac"] * 2])
    tuned = finetune_recognizer(
        lines, None, tmp_path / "ft", _settings(steps=3), outcome.encoder_path, encoder_lr_scale=0.0
    )
    assert tuned.result.status == "finished"
    result = load_model(tuned.model_path)
    assert result.charset.chars == ["a", "b", "c"]
    # lr scale 0: the encoder's weights are exactly the pre-trained ones.
    for name, weight in loaded.model.encoder.state_dict().items():
        if weight.is_floating_point() and "running" not in name:
            assert torch.equal(weight, result.model.encoder.state_dict()[name]), name


def test_warm_up_freezing_keeps_the_encoder_then_lets_it_learn(store, tmp_path):
    outcome = pretrain_encoder(store, tmp_path / "pre", METHOD, _settings(steps=2))
    before = load_model(outcome.encoder_path).model.encoder.transformer.layers[0].linear1.weight.clone()
    rng = np.random.default_rng(1)
    lines = LineSet([LineSample(fake_line(rng), text, "fake") for text in ["ab", "ba", "abba", "b"] * 2])
    frozen = finetune_recognizer(
        lines, None, tmp_path / "a", _settings(steps=3, warmup=1), outcome.encoder_path, freeze_steps=3
    )
    after_frozen = load_model(frozen.model_path).model.encoder
    assert torch.equal(before, after_frozen.transformer.layers[0].linear1.weight)
    # Frozen includes the front end's BatchNorm statistics, which are not parameters.
    pretrained_state = load_model(outcome.encoder_path).model.encoder.state_dict()
    statistics = [name for name in pretrained_state if "running_" in name]
    assert statistics
    for name in statistics:
        assert torch.equal(pretrained_state[name], after_frozen.state_dict()[name]), name
    thawed = finetune_recognizer(
        lines, None, tmp_path / "b", _settings(steps=3, warmup=1), outcome.encoder_path, freeze_steps=1
    )
    assert not torch.equal(before, load_model(thawed.model_path).model.encoder.transformer.layers[0].linear1.weight)


def test_a_run_folder_refuses_other_targets_and_starts_over_when_told(store, tmp_path):
    from dataclasses import replace

    from mspt_core.errors import DataError

    first = pretrain_encoder(store, tmp_path, METHOD, _settings(steps=2))
    assert json.loads((first.encoder_path / "model.json").read_text())["provenance"]["targets"]["clusters"] == 8
    other = replace(METHOD, clusters=6)
    with pytest.raises(DataError, match="8 clusters of pooled pixels, not 6"):
        pretrain_encoder(store, tmp_path, other, _settings(steps=4))
    again = pretrain_encoder(store, tmp_path, other, _settings(steps=2), resume=False)
    assert json.loads((again.encoder_path / "model.json").read_text())["provenance"]["targets"]["clusters"] == 6


class Crash(Exception):
    pass


def test_resume_gives_the_same_losses_as_no_interruption(store, tmp_path):
    straight = pretrain_encoder(store, tmp_path / "a", METHOD, _settings())
    expected = _losses(straight.result.history)

    def crash_at_six(progress):
        if progress.step == 6:
            raise Crash()  # the last checkpoint is the one at step 4

    with pytest.raises(Crash):
        pretrain_encoder(store, tmp_path / "b", METHOD, _settings(), on_progress=crash_at_six)
    assert (tmp_path / "b" / CHECKPOINT).exists()
    resumed = pretrain_encoder(store, tmp_path / "b", METHOD, _settings())
    got = _losses(resumed.result.history)
    assert sorted(got) == list(range(1, 9))
    for step in range(5, 9):
        assert got[step] == pytest.approx(expected[step], rel=1e-5, abs=1e-6), step


def test_cancel_leaves_a_checkpoint_and_no_encoder(store, tmp_path):
    steps = []
    outcome = pretrain_encoder(
        store,
        tmp_path,
        METHOD,
        _settings(),
        on_progress=lambda p: steps.append(p.step),
        should_stop=lambda: len(steps) >= 2,
    )
    assert outcome.result.status == "cancelled" and outcome.encoder_path is None
    assert (tmp_path / CHECKPOINT).exists()

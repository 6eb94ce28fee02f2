"""The training loop: exact resume after a crash, cancellation, early stopping."""

import pytest
import torch

from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.loop import TrainSettings
from mspt_core.train.supervised import train_recognizer


class Crash(Exception):
    pass


def _settings(**kw):
    base = dict(steps=8, batch_size=4, lr=1e-3, warmup=2, val_every=100, checkpoint_every=4, seed=7, device="cpu")
    return TrainSettings(**{**base, **kw})


def _losses(history):
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def test_resume_after_a_crash_continues_with_the_same_losses(tmp_path, lines):
    straight = train_recognizer(lines, None, tmp_path / "a", _settings(), size="tiny")
    expected = _losses(straight.result.history)

    def crash_at_six(progress):
        if progress.step == 6:
            raise Crash()  # like a kill: the last checkpoint is the one written at step 4

    with pytest.raises(Crash):
        train_recognizer(lines, None, tmp_path / "b", _settings(), size="tiny", on_progress=crash_at_six)
    assert (tmp_path / "b" / CHECKPOINT).exists()
    resumed = train_recognizer(lines, None, tmp_path / "b", _settings(), size="tiny")
    got = _losses(resumed.result.history)
    assert sorted(got) == list(range(1, 9))
    for step in range(5, 9):  # steps re-run after the resume from step 4
        assert got[step] == pytest.approx(expected[step], rel=1e-5, abs=1e-6), step


def test_cancel_stops_at_a_checkpoint_and_resume_finishes(tmp_path, lines):
    seen = []
    outcome = train_recognizer(
        lines,
        None,
        tmp_path,
        _settings(),
        size="tiny",
        on_progress=lambda p: seen.append(p.step),
        should_stop=lambda: len(seen) >= 3,
    )
    assert outcome.result.status == "cancelled"
    assert outcome.result.step == 3
    again = train_recognizer(lines, None, tmp_path, _settings(), size="tiny")
    assert again.result.status == "finished" and again.result.step == 8
    # Without validation data the last weights are the model, written once training finishes.
    from mspt_core.models import read_metadata

    assert read_metadata(again.model_path)["provenance"]["steps"] == 8


class ScriptedJob:
    """A one-weight model whose validation metrics follow a script, to test the loop's logic."""

    def __init__(self, metrics):
        self.model = torch.nn.Linear(1, 1)
        self.metrics = list(metrics)
        self.saved = []

    def param_groups(self):
        return [{"params": list(self.model.parameters())}]

    def epoch_batches(self, rng):
        return [0, 1, 2]

    def loss(self, batch, rng, device):
        return self.model(torch.ones(1, 1, device=device)).pow(2).sum()

    def validate(self, device):
        return self.metrics.pop(0)

    def save_best(self, metric, step):
        self.saved.append((metric, step))


def test_early_stopping_keeps_the_best(tmp_path):
    from mspt_core.train.loop import train

    job = ScriptedJob([0.5, 0.4, 0.45, 0.41, 0.3])
    result = train(job, _settings(steps=50, val_every=2, patience=2), tmp_path)
    assert result.status == "early_stop"
    assert result.step == 8  # validations at 2, 4 (best), 6 and 8 (two without gain)
    assert (result.best_metric, result.best_step) == (0.4, 4)
    assert job.saved == [(0.5, 2), (0.4, 4)]


@pytest.mark.parametrize(
    "bad",
    [
        dict(val_every=0),
        dict(checkpoint_every=0),
        dict(warmup=-1),
        dict(patience=-1),
        dict(lr=float("nan")),
        dict(lr=float("inf")),
        dict(lr=0.0),
    ],
)
def test_settings_that_would_fail_mid_training_are_refused_at_once(bad):
    with pytest.raises(ValueError):
        TrainSettings(**bad)

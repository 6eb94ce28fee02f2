"""The weight average (``settings.ema_decay``): what validation and the kept model read, and that it
survives a crash and resume as the steps do."""

import pytest
import torch

from mspt_core import tensorfile
from mspt_core.data.lines import LineSet
from mspt_core.models import load_model
from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.ema import WeightAverage
from mspt_core.train.loop import TrainSettings, train
from mspt_core.train.supervised import train_recognizer

from .test_loop import Crash, _losses, _settings


def _expected_average(weights: list[float], decay: float) -> float:
    n = len(weights)
    total = sum((1 - decay) * decay ** (n - 1 - i) * w for i, w in enumerate(weights))
    return total / (1 - decay**n)


def test_the_average_is_the_bias_corrected_mean_of_the_weights_taken():
    model = torch.nn.Linear(1, 1)
    average = WeightAverage(model, 0.9)
    assert average.averaged() == {}  # nothing taken yet: the model reads as it is
    with average.swapped_in(model):
        pass
    taken = [1.0, 3.0, -2.0, 5.0]
    for value in taken:
        with torch.no_grad():
            model.weight.fill_(value)
        average.update(model)
    expected = _expected_average(taken, 0.9)
    assert average.averaged()["weight"].item() == pytest.approx(expected)
    assert expected != pytest.approx(5.0) and expected != pytest.approx(sum(taken) / 4)
    with average.swapped_in(model):
        assert model.weight.item() == pytest.approx(expected)
    assert model.weight.item() == 5.0  # its own weights back after the block
    with pytest.raises(ValueError):
        WeightAverage(model, 1.0)


class WatchedJob:
    """A one-weight model that records the weight each validation reads."""

    def __init__(self):
        self.model = torch.nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.model.weight.fill_(2.0)
        self.validated, self.saved = [], []

    def param_groups(self):
        return [{"params": list(self.model.parameters())}]

    def epoch_batches(self, rng):
        return [0, 1, 2]

    def loss(self, batch, rng, device):
        return (self.model(torch.ones(1, 1)) - 1.0).pow(2).sum()

    def validate(self, device):
        weight = self.model.weight.item()
        self.validated.append(weight)
        return abs(weight - 1.0)

    def save_best(self, metric, step):
        self.saved.append((step, self.model.weight.item()))


def test_validation_keep_best_and_the_end_read_the_average(tmp_path):
    job, steps_weights = WatchedJob(), []

    def after_step(progress):
        if progress.event == "step":
            steps_weights.append(job.model.weight.item())

    settings = _settings(steps=6, val_every=3, lr=0.1, warmup=0, schedule="constant", ema_decay=0.5)
    train(job, settings, tmp_path, on_progress=after_step, start_is_candidate=True)
    at_3, at_6 = _expected_average(steps_weights[:3], 0.5), _expected_average(steps_weights, 0.5)
    assert job.validated == pytest.approx([2.0, at_3, at_6])  # step 0 reads the start itself
    assert at_6 != pytest.approx(steps_weights[-1])
    assert job.saved[-1] == (6, pytest.approx(at_6))
    assert job.model.weight.item() == pytest.approx(at_6)  # what the run keeps


def _trained_weights(run_dir):
    tensors = tensorfile.open_file(run_dir / CHECKPOINT, "checkpoint").tensors()
    return {k: v for k, v in tensors.items() if k.startswith("model.")}


def test_averaging_leaves_the_steps_as_they_were(tmp_path, lines):
    train, val = LineSet(lines.samples[:12]), LineSet(lines.samples[12:])
    runs = {}
    for name, decay in (("plain", 0.0), ("avg", 0.9)):  # validating every 2 steps swaps the average in and out
        runs[name] = train_recognizer(train, val, tmp_path / name, _settings(val_every=2, ema_decay=decay), size="tiny")
    assert _losses(runs["avg"].result.history) == pytest.approx(_losses(runs["plain"].result.history), rel=1e-6)
    trained_plain, trained_avg = _trained_weights(tmp_path / "plain"), _trained_weights(tmp_path / "avg")
    for key, value in trained_plain.items():  # the weights the steps reached, the same
        assert torch.allclose(value, trained_avg[key], rtol=1e-5, atol=1e-6), key
    kept_plain = load_model(runs["plain"].model_path).model.state_dict()
    kept_avg = load_model(runs["avg"].model_path).model.state_dict()  # but validation kept other weights
    assert any(not torch.allclose(kept_plain[k], kept_avg[k]) for k in kept_plain if kept_plain[k].is_floating_point())
    provenance = load_model(runs["avg"].model_path).metadata["provenance"]["settings"]
    assert provenance["ema_decay"] == 0.9


def test_a_resumed_run_keeps_the_average_one_that_never_stopped_keeps(tmp_path, lines):
    settings = _settings(ema_decay=0.9)
    straight = train_recognizer(lines, None, tmp_path / "a", settings, size="tiny")

    def crash_at_six(progress):
        if progress.step == 6:
            raise Crash()  # the last checkpoint is step 4's

    with pytest.raises(Crash):
        train_recognizer(lines, None, tmp_path / "b", settings, size="tiny", on_progress=crash_at_six)
    resumed = train_recognizer(lines, None, tmp_path / "b", settings, size="tiny")
    a = load_model(straight.model_path).model.state_dict()
    b = load_model(resumed.model_path).model.state_dict()
    for key, value in a.items():
        assert torch.allclose(value.float(), b[key].float(), rtol=1e-4, atol=1e-5), key


def _stopped_at_four(run_dir, lines, settings):
    seen = []
    train_recognizer(
        lines, None, run_dir, settings, size="tiny", on_progress=seen.append, should_stop=lambda: len(seen) >= 4
    )


def _average_record(run_dir):
    state = tensorfile.open_file(run_dir / CHECKPOINT, "checkpoint").json("state")
    return state.get("ema_from"), state.get("ema_updates")


def test_a_run_resumed_with_the_average_on_averages_from_where_it_resumes(tmp_path, lines):
    _stopped_at_four(tmp_path, lines, _settings())
    train_recognizer(lines, None, tmp_path, _settings(ema_decay=0.9), size="tiny")
    assert _average_record(tmp_path) == (4, 4)  # steps 5 to 8


def test_a_run_resumed_with_another_decay_averages_again_from_there(tmp_path, lines):
    _stopped_at_four(tmp_path, lines, _settings(ema_decay=0.9))
    assert _average_record(tmp_path) == (None, 4)
    train_recognizer(lines, None, tmp_path, _settings(ema_decay=0.5), size="tiny")
    assert _average_record(tmp_path) == (4, 4)  # the sums kept at 0.9 are not corrected as if at 0.5


def test_a_decay_of_one_or_more_is_refused():
    for bad in (1.0, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError):
            TrainSettings(ema_decay=bad)

"""Training on a CPU in bf16 where the CPU computes it natively: faster steps, the same learning."""

import pytest
import torch

from mspt_core import devices
from mspt_core.models import read_metadata
from mspt_core.train import runs
from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.loop import Progress, TrainSettings
from mspt_core.train.runspec import EventKind
from mspt_core.train.supervised import train_recognizer
from tests.core.train.test_loop import Crash, _losses, _settings

CPU = torch.device("cpu")


def _force_native_bf16(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)


def test_bf16_only_on_a_cpu_that_computes_it_and_never_when_turned_off(monkeypatch):
    monkeypatch.delenv(devices.CPU_BF16_VARIABLE, raising=False)
    _force_native_bf16(monkeypatch, True)
    assert devices.autocast_dtype(CPU) is torch.bfloat16
    monkeypatch.setenv(devices.CPU_BF16_VARIABLE, "0")
    assert devices.autocast_dtype(CPU) is None
    monkeypatch.delenv(devices.CPU_BF16_VARIABLE)
    _force_native_bf16(monkeypatch, False)  # emulated bf16 would be slower than full precision
    assert devices.autocast_dtype(CPU) is None


def _fine_tune(lines, run_dir, amp: bool):
    from mspt_core.models import resolve

    settings = TrainSettings(steps=12, batch_size=4, lr=1e-3, warmup=0, val_every=6, seed=3, device="cpu", amp=amp)
    return train_recognizer(lines, lines, run_dir, settings, base_model=resolve("default"), use_augmentation=False)


def test_bf16_fine_tuning_learns_as_full_precision_does_and_keeps_full_precision_weights(
    monkeypatch, tmp_path, old_print_lines
):
    from safetensors import safe_open

    # Forced on, so the test runs where bf16 is only emulated too (slower there).
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: True)
    half = _fine_tune(old_print_lines, tmp_path / "bf16", amp=True)
    full = _fine_tune(old_print_lines, tmp_path / "fp32", amp=False)
    for outcome in (half, full):
        # the 16th-century lines it learns from read better than the base read them (step 0)
        assert outcome.result.best_metric < outcome.result.start_metric
    assert _losses(half.result.history) != _losses(full.result.history)  # bf16 did round
    # bf16 rounds each product, so the two runs part a little, but not in where they get to
    assert half.result.best_metric == pytest.approx(full.result.best_metric, abs=0.02)
    with safe_open(str(half.model_path / "model.safetensors"), "pt") as weights:
        kinds = {weights.get_tensor(key).dtype for key in weights.keys()}
    assert torch.bfloat16 not in kinds


@pytest.mark.parametrize(("started_native", "resumed_native"), [(False, True), (True, False)])
def test_a_run_resumes_in_the_precision_it_started_in(monkeypatch, tmp_path, lines, started_native, resumed_native):
    """Started in one precision, resumed where the other would be chosen: the same steps as a
    run never interrupted."""

    def crash_at_six(progress):
        if progress.step == 6:
            raise Crash()  # the last checkpoint is the one written at step 4

    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: started_native)
    straight = train_recognizer(lines, None, tmp_path / "straight", _settings(), size="tiny")
    with pytest.raises(Crash):
        train_recognizer(lines, None, tmp_path / "run", _settings(), size="tiny", on_progress=crash_at_six)
    assert (tmp_path / "run" / CHECKPOINT).exists()
    monkeypatch.setattr(devices, "cpu_has_native_bf16", lambda: resumed_native)
    told = []
    resumed = train_recognizer(lines, None, tmp_path / "run", _settings(), size="tiny", on_progress=told.append)
    expected, got = _losses(straight.result.history), _losses(resumed.result.history)
    for step in range(5, 9):
        assert got[step] == pytest.approx(expected[step], rel=1e-5, abs=1e-6), step
    # What the run's window shows, and what the model file says it was trained in: as it started.
    assert {progress.device for progress in told} == {"cpu (bf16)" if started_native else "cpu"}
    for outcome in (straight, resumed):
        assert read_metadata(outcome.model_path)["provenance"]["precision"] == ("bf16" if started_native else "full")


def test_the_run_window_is_told_once_what_training_runs_in(tmp_path):
    reporter = runs.Reporter(tmp_path)
    for step in (1, 2):
        reporter.progress(Progress("step", step, 10, loss=1.0, lr=1e-3, device="cpu (bf16)"))
    reporter.close()
    events = runs.read_events(tmp_path)[0]
    assert [e.device for e in events if e.device] == ["cpu (bf16)"]
    assert [e.kind for e in events] == [EventKind.STATUS, EventKind.STEP]  # no message: the last one stays shown

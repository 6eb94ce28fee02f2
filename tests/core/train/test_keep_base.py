"""Fine-tuning never hands back a model worse than its base (issue 16): the base is keep-best's
step-0 candidate, validated before the first step; a run that never beats it keeps the base
(a copy that reads exactly as the base does), one that does keeps its own best, and a resumed
run neither validates step 0 again nor loses its record. Training from scratch has no step 0."""

from __future__ import annotations

import pytest

from mspt_core.data.lines import LineSet, lines_from_page_xml
from mspt_core.models import list_models, read_metadata, resolve
from mspt_core.recognize import LineRecognizer
from mspt_core.train.loop import TrainSettings, train
from mspt_core.train.supervised import KEPT_BASE, train_recognizer
from tests.core.train.test_loop import Crash, ScriptedJob

PRINT = "data/Dracula/05dracula.pdf_page_51.xml"  # fondue's train split; the default reads it well
OLD_PRINT = "data/bpt6k1514025q/f12.xml"  # gallicorpora-16's train split; the default misreads ~10 %


def _settings(**kw) -> TrainSettings:
    base = dict(steps=4, batch_size=4, lr=1e-3, warmup=0, val_every=2, checkpoint_every=2, seed=3, device="cpu")
    return TrainSettings(**{**base, **kw})


def _vals(history) -> list[tuple[int, float]]:
    return [(h["step"], h["val"]) for h in history if "val" in h]


# --- the loop's logic, on scripted validation figures ----------------------------------------


def test_the_start_is_validated_as_step_0_and_kept_when_nothing_beats_it(tmp_path):
    job = ScriptedJob([0.3, 0.5, 0.3])  # a tie does not beat the start
    result = train(job, _settings(), tmp_path, start_is_candidate=True)
    assert _vals(result.history) == [(0, 0.3), (2, 0.5), (4, 0.3)]
    assert result.kept_start and (result.best_metric, result.best_step) == (0.3, 0)
    assert job.saved == [(0.3, 0)]


def test_a_later_validation_that_beats_the_start_is_kept(tmp_path):
    job = ScriptedJob([0.3, 0.35, 0.2])
    result = train(job, _settings(), tmp_path, start_is_candidate=True)
    assert not result.kept_start and (result.best_metric, result.best_step) == (0.2, 4)
    assert job.saved == [(0.3, 0), (0.2, 4)]


def test_without_a_start_candidate_the_first_validation_is_after_the_first_steps(tmp_path):
    job = ScriptedJob([0.5, 0.4])
    result = train(job, _settings(), tmp_path)
    assert [step for step, _ in _vals(result.history)] == [2, 4] and result.best_step == 4


def test_a_resumed_run_keeps_its_step_0_record_and_does_not_validate_it_again(tmp_path):
    def crash_at_three(progress):
        if progress.step == 3:
            raise Crash()  # the last checkpoint is the one of step 2

    with pytest.raises(Crash):
        train(ScriptedJob([0.3, 0.5]), _settings(), tmp_path, on_progress=crash_at_three, start_is_candidate=True)
    again = ScriptedJob([0.6])  # only step 4 is left to validate: a second step 0 would take this figure
    result = train(again, _settings(), tmp_path, start_is_candidate=True)
    assert _vals(result.history) == [(0, 0.3), (2, 0.5), (4, 0.6)]
    assert not again.metrics and again.saved == [] and result.kept_start


# --- real lines, the bundled default model as the base -----------------------------------------


@pytest.fixture(scope="module")
def print_lines(fondue) -> LineSet:
    return LineSet(lines_from_page_xml(fondue / PRINT, 40).samples[:8])


@pytest.fixture(scope="module")
def old_print_lines(old_print) -> LineSet:
    return LineSet(lines_from_page_xml(old_print / OLD_PRINT, 40).samples[:8])


def _read(model, lines: LineSet) -> list[tuple[str, list[float]]]:
    reader = LineRecognizer.from_model(str(model), device="cpu", engine="torch")
    return [(r.text, list(r.char_confidences)) for r in reader.read(lines.images)]


def test_a_finetune_that_makes_the_base_worse_hands_back_the_base(tmp_path, print_lines):
    lines = print_lines
    base = resolve("default")
    # An absurd learning rate wrecks the model within a step.
    outcome = train_recognizer(lines, lines, tmp_path, _settings(lr=0.5), base_model=base, use_augmentation=False)
    vals = _vals(outcome.result.history)
    assert [step for step, _ in vals] == [0, 2, 4]
    assert all(later > vals[0][1] for _, later in vals[1:])
    assert outcome.kept_base and outcome.result.best_step == 0 and outcome.result.best_metric == vals[0][1]
    assert outcome.tuned_cer == min(later for _, later in vals[1:])
    assert _read(outcome.model_path, lines) == _read(base, lines)
    kept, original = read_metadata(outcome.model_path), read_metadata(base)
    assert kept["charset"] == original["charset"] and kept.get("inference") == original.get("inference")
    assert kept["provenance"]["kept_over_fine_tuning"]["val_cer"] == vals[0][1]
    assert kept["provenance"]["val_cer"] == original["provenance"]["val_cer"]  # the base's own figure stays its


def test_a_finetune_that_improves_keeps_its_own_best_and_resumes_exactly(tmp_path, old_print_lines):
    lines = old_print_lines
    base = resolve("default")
    settings = _settings(steps=12, lr=3e-4, val_every=4, checkpoint_every=4)
    # Validated on the lines it learns from: what is under test is which model is kept.
    outcome = train_recognizer(lines, lines, tmp_path / "a", settings, base_model=base, use_augmentation=False)
    vals = _vals(outcome.result.history)
    assert vals[0][0] == 0 and outcome.result.best_metric < vals[0][1]
    assert not outcome.kept_base and outcome.result.best_step > 0
    meta = read_metadata(outcome.model_path)
    assert meta["provenance"]["steps"] == outcome.result.best_step and "kept_over_fine_tuning" not in meta["provenance"]
    assert _read(outcome.model_path, lines) != _read(base, lines)

    def crash_at_six(progress):
        if progress.step == 6:
            raise Crash()

    with pytest.raises(Crash):
        train_recognizer(
            lines, lines, tmp_path / "b", settings, base_model=base, use_augmentation=False, on_progress=crash_at_six
        )
    seen = []
    resumed = train_recognizer(
        lines, lines, tmp_path / "b", settings, base_model=base, use_augmentation=False, on_progress=seen.append
    )
    assert [p.step for p in seen if p.event == "validation"] == [8, 12]  # step 0 is not read again
    got = _vals(resumed.result.history)
    assert [step for step, _ in got] == [step for step, _ in vals]
    assert [cer for _, cer in got] == pytest.approx([cer for _, cer in vals], abs=1e-9)
    assert resumed.result.best_step == outcome.result.best_step


def test_training_from_scratch_has_no_step_0(tmp_path, print_lines):
    lines = print_lines
    outcome = train_recognizer(lines, lines, tmp_path, _settings(steps=2), size="tiny", use_augmentation=False)
    assert [step for step, _ in _vals(outcome.result.history)] == [2] and not outcome.kept_base


def test_the_cli_says_it_keeps_the_base_and_installs_nothing(tmp_path, monkeypatch, capsys, fondue):
    from mspt_core.cli import main

    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    page = fondue / PRINT
    code = main(
        [
            "train",
            str(page),
            "--val",
            str(page),
            "--base",
            "default",
            "--out",
            str(tmp_path / "run"),
            "--steps",
            "2",
            "--lr",
            "0.5",
            "--warmup",
            "0",
            "--val-every",
            "2",
            "--no-augment",
            "--install-as",
            "mine",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert KEPT_BASE in out and "nothing installed as 'mine'" in out and "at step 0" in out
    assert "mine" not in {entry.name for entry in list_models()}


def test_a_run_that_keeps_the_base_says_so_and_installs_nothing(tmp_path, monkeypatch, fondue):
    from mspt_core.train import runs
    from mspt_core.train.runspec import EventKind, RunSpec

    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    page = str(fondue / PRINT)
    loop = dict(steps=2, batch_size=4, lr=0.5, warmup=0, val_every=2, checkpoint_every=2)
    spec = RunSpec(kind="finetune", name="mine", base="default", train=[page], val=[page], device="cpu", loop=loop)
    run_dir = runs.create_run(tmp_path / "run", spec)
    assert runs.execute(run_dir) == "finished"

    result = runs.read_result(run_dir)
    assert result["kept_base"] and result["model"] is None and result["best_step"] == 0
    assert result["base_cer"] < result["new_cer"]
    events = runs.read_events(run_dir)[0]
    bases = [e for e in events if e.kind is EventKind.BASE]
    assert len(bases) == 1 and bases[0].cer == result["base_cer"]
    assert [e.step for e in events if e.kind is EventKind.VALIDATION] == [2]  # step 0 is the base's line
    assert KEPT_BASE in events[-1].message and "'default'" in events[-1].message
    assert "mine" not in {entry.name for entry in list_models()}

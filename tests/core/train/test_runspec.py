"""The contract between whoever starts a training run and its process: a run.json is checked
once, where it is read, and a bad one ends the run with a message that names the setting; the
events file is read into typed events, skipping what this version cannot read."""

from __future__ import annotations

import json

import pytest

from mspt_core.presets import ENCODER, FINETUNE, TRAINING_PRESETS
from mspt_core.train import runs
from mspt_core.train.runspec import EventKind, RunEvent, RunSpec, RunSpecError


def test_a_spec_survives_its_file_unchanged(tmp_path):
    spec = RunSpec(kind="finetune", name="letters", base="default", train=["a.xml"], loop={"steps": 7}, threads=1)
    run_dir = runs.create_run(tmp_path / "run", spec)
    again = runs.read_spec(run_dir)
    assert again == spec and again.created is not None


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"kind": "finetune", "name": "x", "base": "default", "loop": {"stepz": 5}}, "'loop'"),
        ({"kind": "finetune", "name": "x", "base": "default", "train": "pages/"}, "'train'"),
        ({"kind": "finetune", "name": "x"}, "'base'"),
        ({"kind": "finetune", "name": "x", "base": "default", "val_fraction": 1.5}, "'val_fraction'"),
        ({"kind": "finetune", "name": "x", "base": "default", "threads": 0}, "'threads'"),
        ({"kind": "finetune", "name": "x", "base": "default", "encoder_lr_scale": "fast"}, "'encoder_lr_scale'"),
        ({"kind": "finetune", "name": "x", "base": "default", "tuned_share": 1.5}, "'tuned_share'"),
        ({"kind": "pretrain", "name": "x", "preset": "huge"}, "'preset'"),
        ({"kind": "pretrain", "name": "x", "method": {"clusterz": 8}}, "'method'"),
        ({"kind": "pretrain", "name": "x", "colour": "red"}, "'colour'"),
        ({"kind": "train", "name": "x"}, "'pretrain', 'finetune' or 'adapt'"),
        ({"kind": "adapt", "name": "x"}, "'base'"),
        ({"kind": "adapt", "name": "x", "base": "handwriting", "share": 0}, "'share'"),
        ({"kind": "adapt", "name": "x", "base": "handwriting", "share": 1.5}, "'share'"),
        ({"name": "x"}, "'kind'"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_setting(raw, named):
    with pytest.raises(RunSpecError, match=named):
        RunSpec.from_json(raw)


def test_a_run_whose_spec_is_bad_ends_failed_with_the_reason_not_a_traceback(tmp_path):
    run_dir = runs.create_run(tmp_path / "run", RunSpec(kind="finetune", name="x", base="default"))
    spec = json.loads((run_dir / runs.SPEC).read_text())
    spec["loop"] = {"steps": "many"}  # written by hand, or by an older or newer mspt
    (run_dir / runs.SPEC).write_text(json.dumps(spec))
    assert runs.execute(run_dir) == "failed"
    events, _ = runs.read_events(run_dir)
    assert events[-1].kind is EventKind.END and events[-1].status == "failed"
    assert "steps" in events[-1].message


def test_events_of_an_unknown_kind_or_torn_are_skipped_and_the_rest_typed(tmp_path):
    run_dir = runs.create_run(tmp_path / "run", RunSpec(kind="finetune", name="x", base="default"))
    lines = [
        {"event": "started", "pid": 12, "device": "cpu", "message": "started"},
        {"event": "telemetry", "gpu_watts": 300},  # a kind from a newer mspt
        {"event": "step", "step": 3, "total": 10, "loss": 1.5, "future_field": 1},
        {"event": "validation", "step": 3, "cer": 0.25, "best": 0.25},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"event": "end", "sta'  # torn by a kill
    (run_dir / runs.EVENTS).write_text(text)
    events, offset = runs.read_events(run_dir)
    assert [e.kind for e in events] == [EventKind.STARTED, EventKind.STEP, EventKind.VALIDATION]
    assert events[1].step == 3 and events[1].loss == 1.5 and events[2].cer == 0.25
    assert offset < len(text.encode())  # the torn line waits for its end
    summary = runs.summarize(run_dir)
    assert summary.step == 3 and summary.validations == [(3, 0.25)]


def test_an_event_written_is_the_event_read():
    event = RunEvent(EventKind.END, time=5.0, status="finished", message="done", result={"model": "m"})
    assert RunEvent.from_json(json.loads(json.dumps(event.to_json()))) == event
    assert event.to_json()["event"] == "end"  # the file format older runs were written in


def test_the_fine_tuning_preset_follows_the_base_and_the_spec_overrides_it():
    spec = RunSpec(kind="finetune", name="x", base="default", loop={"steps": 42})
    few_pages = spec.finetune_preset("recognizer")
    assert few_pages.settings().steps == 42
    assert few_pages.settings().lr == TRAINING_PRESETS[FINETUNE].settings().lr
    assert few_pages.tuned_share == TRAINING_PRESETS[FINETUNE].tuned_share
    unblended = RunSpec(kind="finetune", name="x", base="default", tuned_share=1.0).finetune_preset("recognizer")
    assert unblended.tuned_share == 1.0
    encoder = spec.finetune_preset("encoder")
    assert encoder.encoder_lr_scale == TRAINING_PRESETS[ENCODER].encoder_lr_scale
    frozen = RunSpec(kind="finetune", name="x", base="enc", freeze_steps=9, augment=False).finetune_preset("encoder")
    assert frozen.freeze_steps == 9 and frozen.augment is False


def test_the_runs_list_reads_a_run_again_only_when_its_files_changed(tmp_path, monkeypatch):
    run_dir = runs.create_run(tmp_path / "runs" / "r1", RunSpec(kind="finetune", name="x", base="default"))
    (run_dir / runs.EVENTS).write_text(json.dumps({"event": "started"}) + "\n")
    reads = []
    real = runs.read_events
    monkeypatch.setattr(runs, "read_events", lambda *a, **k: reads.append(1) or real(*a, **k))
    cache: dict = {}
    first = runs.list_runs(tmp_path / "runs", cache)
    again = runs.list_runs(tmp_path / "runs", cache)
    assert len(reads) == 1  # a long run's events are not parsed every refresh
    # No process holds the run: seen as interrupted every time, from the cache too.
    assert first[0].state == again[0].state == "interrupted"
    with open(run_dir / runs.EVENTS, "a") as events:
        events.write(json.dumps({"event": "end", "status": "cancelled"}) + "\n")
    assert runs.list_runs(tmp_path / "runs", cache)[0].state == "cancelled" and len(reads) == 2

"""Training runs in their own process: they report through their folder, pause and go on,
stop at a checkpoint, survive being killed, and put the trained model into the registry."""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch

from mspt_core.charset import Charset
from mspt_core.model import Recognizer, config_for
from mspt_core.models import build_metadata, list_models, read_metadata, save_model
from mspt_core.train import runs
from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.runspec import EventKind, RunSpec
from tests.conftest import split_xmls


@pytest.fixture(autouse=True)
def user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))  # inherited by the run's process


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    torch.manual_seed(0)
    charset = Charset(list("abcdefghijklmnopqrstuvwxyz "))
    model = Recognizer(config_for("tiny"), len(charset)).eval()
    return save_model(tmp_path_factory.mktemp("base") / "tiny", model, charset, build_metadata(model, charset, "tiny"))


def finetune_spec(fondue, base, steps, **loop) -> RunSpec:
    pages = split_xmls(fondue, "train")
    return RunSpec(
        kind="finetune",
        name="mine",
        base=str(base),
        train=[str(pages[0])],
        val=[str(pages[1])],
        device="cpu",
        threads=1,
        loop=dict(steps=steps, batch_size=4, lr=1e-3, warmup=2, val_every=steps, checkpoint_every=5, **loop),
    )


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def steps_of(run_dir) -> list[int]:
    return [e.step for e in runs.read_events(run_dir)[0] if e.kind is EventKind.STEP]


def improving_spec(old_print) -> RunSpec:
    """The bundled default fine-tuned on lines it misreads and validated on the same lines: a
    run that beats its base (only a model better than its base is installed)."""
    page = str(old_print / "data/bpt6k1514025q/f12.xml")
    loop = dict(steps=12, batch_size=8, lr=1e-3, warmup=2, val_every=12, checkpoint_every=12)
    return RunSpec(
        kind="finetune", name="mine", base="default", train=[page], val=[page], device="cpu", loop=loop, augment=False
    )


def test_a_finetune_run_reports_both_validation_cers_and_installs_its_model(tmp_path, old_print):
    run_dir = runs.create_run(tmp_path / "run", improving_spec(old_print))
    assert runs.execute(run_dir) == "finished"

    result = runs.read_result(run_dir)
    assert result["model"] == "mine" and result["kind"] == "recognizer" and not result.get("kept_base")
    assert 0 <= result["new_cer"] < result["base_cer"]  # both measured on the same val lines
    installed = {entry.name: entry for entry in list_models()}
    assert read_metadata(installed["mine"].path)["provenance"]["steps"] == 12
    summary = runs.summarize(run_dir)
    assert summary.state == "finished" and summary.step == 12 and summary.validations[-1][0] == 12
    # A second run asking for the same name does not replace the first model.
    again = runs.create_run(tmp_path / "again", improving_spec(old_print))
    assert runs.execute(again) == "finished" and runs.read_result(again)["model"] == "mine-2"


def test_a_run_pauses_stops_at_a_checkpoint_and_resumes(tmp_path, fondue, tiny_base):
    run_dir = runs.create_run(tmp_path / "run", finetune_spec(fondue, tiny_base, steps=400))
    process = runs.start_run(run_dir)
    try:
        wait_for(lambda: len(steps_of(run_dir)) >= 2, 60, "training steps")
        runs.set_control(run_dir, "pause")
        wait_for(lambda: runs.summarize(run_dir).state == "paused", 20, "the pause")
        held = steps_of(run_dir)[-1]
        time.sleep(1.5)
        assert steps_of(run_dir)[-1] == held and process.poll() is None and runs.is_alive(run_dir)
        runs.set_control(run_dir, "run")
        wait_for(lambda: steps_of(run_dir)[-1] > held, 20, "steps after resuming")
        with pytest.raises(runs.RunBusy):
            runs.start_run(run_dir)  # never two processes on one run
        runs.set_control(run_dir, "stop")
        assert process.wait(30) == 3
    finally:
        if process.poll() is None:
            process.kill()
    summary = runs.summarize(run_dir)
    assert summary.state == "cancelled" and summary.resumable
    assert (run_dir / runs.WORK / "train" / CHECKPOINT).exists()
    assert "mine" not in {entry.name for entry in list_models()}  # nothing half-trained installed


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_a_killed_run_is_seen_as_interrupted_and_resumes_from_its_checkpoint(tmp_path, fondue, tiny_base):
    run_dir = runs.create_run(tmp_path / "run", finetune_spec(fondue, tiny_base, steps=30))
    process = runs.start_run(run_dir)
    try:
        wait_for(lambda: (run_dir / runs.WORK / "train" / CHECKPOINT).exists(), 60, "the first checkpoint")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    before = steps_of(run_dir)
    assert before[-1] < 30
    assert not runs.is_alive(run_dir)  # at once: the heartbeat names a process that is gone
    assert runs.summarize(run_dir).state == "interrupted"

    assert runs.start_run(run_dir).wait(120) == 0
    summary = runs.summarize(run_dir)
    assert summary.state == "finished" and summary.step == 30
    first_after_restart = steps_of(run_dir)[len(before)]
    # It went on from a checkpoint (one every 5 steps) after the first, not from step 0.
    assert first_after_restart > 5 and (first_after_restart - 1) % 5 == 0
    result = runs.read_result(run_dir)  # installed only if it beat its base
    assert result["model"] == ("mine" if result["new_cer"] < result["base_cer"] else None)


def test_a_validation_set_too_small_to_judge_by_is_warned_about(tmp_path, fondue, tiny_base):
    import cv2

    from mspt_core.data.lines import lines_from_page_xml

    few = tmp_path / "few-val-lines"
    few.mkdir()
    for i, sample in enumerate(lines_from_page_xml(split_xmls(fondue, "val")[0], 40).samples[:3]):
        cv2.imwrite(str(few / f"l{i}.png"), sample.image)
        (few / f"l{i}.gt.txt").write_text(sample.text, encoding="utf-8")
    spec = finetune_spec(fondue, tiny_base, steps=2)
    spec.val = [str(few)]
    run_dir = runs.create_run(tmp_path / "run", spec)
    assert runs.execute(run_dir) == "finished"
    warnings = [e.message for e in runs.read_events(run_dir)[0] if e.kind is EventKind.WARNING]
    assert len(warnings) == 1 and "only 3 validation lines" in warnings[0] and "at least 30" in warnings[0]
    # A set large enough says nothing.
    spec = finetune_spec(fondue, tiny_base, steps=2)
    spec.val = [str(p) for p in split_xmls(fondue, "val")[:2]]
    enough = runs.create_run(tmp_path / "enough", spec)
    assert runs.execute(enough) == "finished"
    assert runs.read_result(enough)["val_lines"] >= 30
    assert not [e for e in runs.read_events(enough)[0] if e.kind is EventKind.WARNING]


def test_an_adapt_run_learns_from_the_surest_half_of_its_readings_of_a_real_handwritten_page(tmp_path, cremma):
    # The lines' outlines come from the page; their texts are never read (the base reads them).
    page = cremma / "data/lettres-veuillot/f392.xml"  # val split: 42 lines of one hand
    loop = dict(steps=2, batch_size=2, checkpoint_every=2)
    spec = RunSpec(kind="adapt", name="veuillot", base="handwriting", train=[str(page)], device="cpu", loop=loop)
    spec.description = "letters of Louis Veuillot"
    run_dir = runs.create_run(tmp_path / "run", spec)
    assert runs.execute(run_dir) == "finished"

    result = runs.read_result(run_dir)
    assert result["adapted"] and result["model"] == "veuillot" and result["kind"] == "recognizer"
    assert result["lines"] == 42 and result["learned_lines"] == 21 and result["steps"] == 2
    provenance = read_metadata({e.name: e for e in list_models()}["veuillot"].path)["provenance"]
    assert provenance["data"] == "its own surest readings (21 of 42 lines) of letters of Louis Veuillot"
    events = runs.read_events(run_dir)[0]
    assert [e.phase for e in events if e.kind is EventKind.PHASE] == ["lines", "reading", "training"]
    assert any(e.message == "learning from the surest 21 of 42 lines (0 skipped)" for e in events)
    assert not any(e.kind is EventKind.VALIDATION for e in events)  # nothing corrected to check against

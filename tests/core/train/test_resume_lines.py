"""A run resumed from its checkpoint learns from the lines it started with: a run folder given
other lines (another page, a changed transcription) is refused rather than finishing a model
from two datasets, on real lines of 16th-century print."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mspt_core import tensorfile
from mspt_core.data.lines import LineSet
from mspt_core.errors import ModelFileError
from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.loop import TrainSettings
from mspt_core.train.supervised import train_recognizer

SETTINGS = TrainSettings(steps=4, batch_size=4, lr=1e-3, warmup=1, val_every=100, checkpoint_every=2, device="cpu")


class Crash(Exception):
    pass


def _crash_at_three(progress):
    if progress.step == 3:
        raise Crash()  # like a kill: the last checkpoint is step 2's


def _run(folder, lines: LineSet, on_progress=None):
    return train_recognizer(lines, None, folder, SETTINGS, size="tiny", on_progress=on_progress)


def test_a_run_resumed_on_other_lines_is_refused_and_on_the_same_lines_it_finishes(tmp_path, old_print_lines):
    run = tmp_path / "run"
    with pytest.raises(Crash):
        _run(run, old_print_lines, _crash_at_three)
    more = LineSet(old_print_lines.samples + old_print_lines.samples[:1])  # the same alphabet, one line more
    with pytest.raises(ModelFileError, match=r"learned from other lines \(8 lines, 0 val lines then, 9 lines, 0 val"):
        _run(run, more)
    first, second, *rest = old_print_lines.samples
    recut = LineSet([first, replace(second, image=first.image), *rest])  # the same count and texts, other pixels
    with pytest.raises(ModelFileError, match=r"other lines \(8 lines, 0 val lines both times, but other pixels or"):
        _run(run, recut)
    same = LineSet([replace(sample, source="renamed") for sample in old_print_lines.samples])
    finished = _run(run, same)  # where the lines came from does not matter, only what they are
    assert finished.result.status == "finished" and finished.result.step == 4


def test_a_checkpoint_from_before_the_record_still_resumes(tmp_path, old_print_lines):
    run = tmp_path / "run"
    with pytest.raises(Crash):
        _run(run, old_print_lines, _crash_at_three)
    file = tensorfile.open_file(run / CHECKPOINT, "checkpoint")
    state = file.json("state")
    assert isinstance(state, dict) and state.pop("data")["lines"] == 8
    tensorfile.write(run / CHECKPOINT, file.tensors(), {"state": state, "param_groups": file.json("param_groups")})
    finished = _run(run, old_print_lines)
    assert finished.result.status == "finished" and finished.result.step == 4


def test_the_fingerprint_follows_pixels_and_text(old_print_lines):
    first = old_print_lines.samples[0]
    darker = first.image.copy()
    darker[0, 0] = 255 - darker[0, 0]
    assert LineSet(old_print_lines.samples).fingerprint() == old_print_lines.fingerprint()
    assert LineSet([replace(first, image=darker)]).fingerprint() != LineSet([first]).fingerprint()
    assert LineSet([replace(first, text=first.text + " ")]).fingerprint() != LineSet([first]).fingerprint()
    assert LineSet([first, first]).fingerprint() != LineSet([first]).fingerprint()

"""Training on lines stretched across (``train_recognizer(train_widths=...)``): the network
learns from lines as wide as it will read them (a model file's ``width_scale``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def _job(lines, widths, tmp_path):
    from mspt_core.charset import Charset
    from mspt_core.model import Recognizer, config_for
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import RecognitionJob

    charset = Charset.from_texts(lines.texts)
    model = Recognizer(config_for("tiny"), len(charset))
    return RecognitionJob(
        model, charset, lines, None, TrainSettings(), tmp_path, {}, use_augmentation=False, train_widths=widths
    )


def _widths_seen(job, seed: int) -> list[int]:
    """The widths of the images one training batch hands the network."""
    seen: list[int] = []

    def loss(pixels, widths, targets, lengths):
        seen.extend(int(w) for w in widths)
        return torch.zeros(())

    job.model.loss = loss
    job.loss(list(range(len(job.train_set))), np.random.default_rng(seed), torch.device("cpu"))
    return seen


def test_lines_reach_the_network_stretched_within_the_range(tmp_path, old_print_lines):
    cut = [img.shape[1] for img in old_print_lines.images]
    assert _widths_seen(_job(old_print_lines, (1.0, 1.0), tmp_path), 0) == cut
    fixed = _widths_seen(_job(old_print_lines, (1.3, 1.3), tmp_path), 0)
    assert fixed == [max(1, round(w * 1.3)) for w in cut]
    drawn = _widths_seen(_job(old_print_lines, (1.0, 1.3), tmp_path), 0)
    ratios = [d / w for d, w in zip(drawn, cut, strict=True)]
    assert all(1.0 - 1e-2 <= r <= 1.3 + 1e-2 for r in ratios)
    assert max(ratios) - min(ratios) > 0.05  # each line draws its own factor
    # the step's random generator decides the draws
    assert _widths_seen(_job(old_print_lines, (1.0, 1.3), tmp_path), 0) == drawn
    assert _widths_seen(_job(old_print_lines, (1.0, 1.3), tmp_path), 1) != drawn


class Crash(Exception):
    pass


def test_a_run_stopped_and_resumed_stretches_its_lines_as_a_straight_run(tmp_path, old_print_lines):
    from mspt_core.train.checkpoint import CHECKPOINT
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    settings = TrainSettings(
        steps=8, batch_size=4, lr=1e-3, warmup=2, val_every=100, checkpoint_every=4, seed=7, device="cpu"
    )

    def run(folder, on_progress=None):
        return train_recognizer(
            old_print_lines, None, folder, settings, size="tiny", train_widths=(1.0, 1.3), on_progress=on_progress
        )

    def losses(outcome):
        return {h["step"]: h["loss"] for h in outcome.result.history if "loss" in h}

    straight = losses(run(tmp_path / "straight"))

    def crash_at_six(progress):
        if progress.step == 6:
            raise Crash()  # like a kill: the last checkpoint is step 4's

    with pytest.raises(Crash):
        run(tmp_path / "resumed", crash_at_six)
    assert (tmp_path / "resumed" / CHECKPOINT).exists()
    resumed = losses(run(tmp_path / "resumed"))
    for step in range(5, 9):
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5, abs=1e-6), step
    as_cut = train_recognizer(old_print_lines, None, tmp_path / "as-cut", settings, size="tiny")
    assert losses(as_cut)[8] != pytest.approx(straight[8], rel=1e-5, abs=1e-6)  # the stretch did change the run


def test_a_run_resumed_with_other_widths_is_refused_and_the_same_widths_resume(tmp_path, old_print_lines):
    # A paused fine-tune resumed after an upgrade that changed the preset's widths would train
    # its remaining steps otherwise than it started; it is refused, as another encoder rate is.
    from mspt_core import tensorfile
    from mspt_core.errors import ModelFileError
    from mspt_core.train.checkpoint import CHECKPOINT
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    settings = TrainSettings(steps=4, batch_size=4, lr=1e-3, warmup=1, val_every=100, checkpoint_every=2, device="cpu")

    def crash_at_three(progress):
        if progress.step == 3:
            raise Crash()

    def run(folder, widths=(1.0, 1.0), on_progress=None):
        return train_recognizer(
            old_print_lines, None, folder, settings, size="tiny", train_widths=widths, on_progress=on_progress
        )

    widened = tmp_path / "widened"
    with pytest.raises(Crash):
        run(widened, (1.0, 1.3), crash_at_three)
    with pytest.raises(
        ModelFileError, match=r"made its batches otherwise \(train_widths \[1.0, 1.3\] then, the defaults now"
    ):
        run(widened)
    assert run(widened, (1.0, 1.3)).result.step == 4

    # a checkpoint written before the record existed: its run trained on lines as cut
    older = tmp_path / "older"
    with pytest.raises(Crash):
        run(older, on_progress=crash_at_three)
    file = tensorfile.open_file(older / CHECKPOINT, "checkpoint")
    state = file.json("state")
    assert isinstance(state, dict) and state.pop("job") == {}
    tensorfile.write(older / CHECKPOINT, file.tensors(), {"state": state, "param_groups": file.json("param_groups")})
    with pytest.raises(ModelFileError, match="made its batches otherwise"):
        run(older, (1.15, 1.15))
    finished = run(older)
    assert finished.result.status == "finished" and finished.result.step == 4


def test_the_range_is_recorded_in_the_model_file_and_bad_ranges_are_refused(tmp_path, old_print_lines):
    from mspt_core.models import read_metadata, resolve
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    settings = TrainSettings(steps=2, batch_size=4, lr=1e-4, warmup=0, val_every=2, checkpoint_every=2, device="cpu")
    outcome = train_recognizer(
        old_print_lines, None, tmp_path / "wide", settings, base_model=resolve("default"), train_widths=(1.0, 1.3)
    )
    assert read_metadata(outcome.model_path)["provenance"]["settings"]["train_widths"] == [1.0, 1.3]
    for bad in ((1.3, 1.0), (0.0, 1.0), (1.0, float("nan")), (1.0, 5.0), (1.2,), "wide"):
        with pytest.raises(ValueError, match="train_widths"):
            train_recognizer(old_print_lines, None, tmp_path / "bad", settings, train_widths=bad)


def test_fine_tuning_learns_from_lines_as_wide_as_its_base_reads_them(tmp_path, fondue, monkeypatch):
    """``mspt train --base``: the handwriting model, which reads lines 1.15 times as wide as cut,
    fine-tunes on lines that wide; the print model, which reads them as cut, on lines as cut."""
    from mspt_core.cli import main
    from mspt_core.models import read_metadata, resolve
    from mspt_core.presets import FINETUNE, training_preset
    from mspt_core.recognize import width_scale
    from mspt_core.train import supervised

    scale = width_scale(read_metadata(resolve("handwriting")))
    assert scale > 1  # the bundled handwriting model reads wider than cut
    preset = training_preset(FINETUNE).widths_as_read
    assert supervised.widths_as_read(preset, resolve("handwriting")) == (scale, scale)
    assert supervised.widths_as_read((0.9, 1.1), resolve("default")) == (0.9, 1.1)
    assert supervised.widths_as_read((1.0, 1.3), resolve("handwriting")) == (scale, round(1.3 * scale, 4))
    assert supervised.widths_as_read((0.9, 1.1), None) == (0.9, 1.1)
    used = {}
    train = supervised.train_recognizer

    def noting(*args, **kwargs):
        used[kwargs["base_model"].name] = kwargs["train_widths"]
        return train(*args, **kwargs)

    monkeypatch.setattr(supervised, "train_recognizer", noting)
    page = fondue / "data/Dracula/05dracula.pdf_page_51.xml"
    for base in ("handwriting", "default"):
        args = ["train", str(page), "--out", str(tmp_path / base), "--base", base, "--steps", "1", "--device", "cpu"]
        assert main(args) == 0
    assert used == {"handwriting": (scale, scale), "default": (1.0, 1.0)}


def test_the_apps_fine_tuning_learns_from_lines_as_wide_as_its_base_reads_them(tmp_path, old_print, monkeypatch):
    """The fine-tune wizard's run (``train.runs``) from the handwriting model."""
    from mspt_core.models import read_metadata, resolve
    from mspt_core.recognize import width_scale
    from mspt_core.train import runs, supervised
    from mspt_core.train.runspec import RunSpec

    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    scale = width_scale(read_metadata(resolve("handwriting")))
    used = []
    train = supervised.train_recognizer

    def noting(*args, **kwargs):
        used.append(kwargs["train_widths"])
        return train(*args, **kwargs)

    monkeypatch.setattr(supervised, "train_recognizer", noting)
    page = str(old_print / "data/bpt6k1514025q/f12.xml")
    loop = dict(steps=1, batch_size=4, warmup=0, val_every=1, checkpoint_every=1)
    spec = RunSpec(kind="finetune", name="mine", base="handwriting", train=[page], val=[page], device="cpu", loop=loop)
    assert runs.execute(runs.create_run(tmp_path / "run", spec)) == "finished"
    assert used == [(scale, scale)]

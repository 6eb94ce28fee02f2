"""One home for training defaults: the CLI takes its values from ``mspt_core.presets`` (the kind
of training decides which preset), says them in its help, and an option given overrides one
value without touching the others."""

from __future__ import annotations

import pytest

from mspt_core.cli import main
from mspt_core.presets import ENCODER, FINETUNE, SCRATCH, SELF_TRAINING, TRAINING_PRESETS, training_preset
from mspt_core.train.settings import TrainSettings
from tests.conftest import split_xmls


def test_training_from_scratch_is_the_loops_own_defaults():
    assert training_preset(SCRATCH).settings() == TrainSettings()
    with pytest.raises(ValueError, match="unknown training preset"):
        training_preset("turbo")


def test_help_says_the_defaults_of_each_kind_of_training(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert training_preset(SCRATCH).summary() in text and training_preset(FINETUNE).summary() in text
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    assert training_preset(ENCODER).summary() in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["adapt", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert training_preset(SELF_TRAINING).summary() in text and "the last weights kept" in text


@pytest.fixture
def captured(monkeypatch):
    """Runs the CLI up to the training call and keeps what it would train with."""
    seen = {}

    def fake(train_set, val_set, out, settings, **kwargs):
        seen.update(settings=settings, **kwargs)
        raise SystemExit(0)

    monkeypatch.setattr("mspt_core.train.supervised.train_recognizer", fake)
    return seen


@pytest.mark.parametrize(("base", "preset"), [(None, SCRATCH), ("default", FINETUNE)])
def test_the_kind_of_training_picks_its_preset_and_an_option_overrides_one_value(
    fondue, tmp_path, captured, base, preset
):
    page = str(split_xmls(fondue, "val")[0])
    args = ["train", page, "--out", str(tmp_path / "run"), "--size", "tiny", "--lr", "0.002"]
    with pytest.raises(SystemExit):
        main(args + (["--base", base] if base else []))
    expected = TRAINING_PRESETS[preset].settings(lr=0.002)
    settings = captured["settings"]
    assert settings.lr == 0.002 and settings.steps == expected.steps and settings.warmup == expected.warmup
    assert settings.val_every == expected.val_every and settings.patience == expected.patience
    assert captured["use_augmentation"] == TRAINING_PRESETS[preset].augment
    assert captured["tuned_share"] == TRAINING_PRESETS[preset].tuned_share
    if base:  # the blend back toward the base, turned off
        with pytest.raises(SystemExit):
            main(args + ["--base", base, "--tuned-share", "1"])
        assert captured["tuned_share"] == 1.0


def test_a_run_made_shorter_than_its_preset_keeps_a_warm_up_it_can_finish():
    preset = training_preset(FINETUNE)
    assert preset.settings().warmup == preset.loop["warmup"]
    short = preset.settings(steps=30)
    assert short.steps == 30 and short.warmup == 6  # a fifth of the steps, not the preset's 50
    assert preset.settings(steps=30, warmup=20).warmup == 20  # given: kept


def test_a_validation_interval_given_alone_checkpoints_at_every_validation():
    settings = training_preset(FINETUNE).settings(val_every=40)
    assert settings.val_every == settings.checkpoint_every == 40
    assert training_preset(FINETUNE).settings(val_every=40, checkpoint_every=10).checkpoint_every == 10

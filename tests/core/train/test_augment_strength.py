"""How far training augmentation moves the shape of the writing (``augment_strength``): a round
of the handwriting model may see hands slanted, wobbled and curled further than the default."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def hand_lines(cremma):
    """Six real lines of a 19th-century hand (val split), cut at the models' height."""
    from mspt_core.data.lines import lines_from_page_xml

    xml = cremma / "data/administratif-procès-louise-michel/img167.xml"
    return [sample.image for sample in lines_from_page_xml(xml, 40).samples[:6]]


def test_twice_the_strength_slants_a_real_hand_twice_as_far(hand_lines):
    from mspt_core.data.augment import _affine
    from mspt_core.recognize import slant

    for line in hand_lines:
        upright = slant(line, 0.9)  # this hand leans hard: 0.8-0.9 columns a row
        # Seed 1 draws a shear of +0.27, which stands the writing up (the other way saturates).
        once = slant(_affine(line, np.random.default_rng(1), 1.0), 0.9) - upright
        twice = slant(_affine(line, np.random.default_rng(1), 2.0), 0.9) - upright
        assert once < 0  # the shear moved the slant at all
        assert twice <= once - 0.2  # and about twice as far (0.1 a step of the measure)


def _rule() -> np.ndarray:
    """A 40 x 400 page of paper with a dark horizontal rule 4 px thick across its middle."""
    image = np.full((40, 400), 235, dtype=np.uint8)
    image[18:22] = 20
    return image


def _rule_rows(image: np.ndarray) -> np.ndarray:
    """The rule's row in every column: the centroid of its ink."""
    ink = (255.0 - image.astype(np.float64)) ** 2  # the paper's faint grey weighs next to nothing
    return (ink * np.arange(image.shape[0])[:, None]).sum(axis=0) / ink.sum(axis=0)


@pytest.mark.parametrize(("name", "seed"), [("_curl", 3), ("_elastic", 0)])
def test_twice_the_strength_curls_and_wobbles_a_line_twice_as_far(name, seed):
    from mspt_core.data import augment as module

    transform = getattr(module, name)
    moved = [_rule_rows(transform(_rule(), np.random.default_rng(seed), strength)) - 19.5 for strength in (1.0, 2.0)]
    once, twice = (float(np.abs(rows).max()) for rows in moved)
    assert once > 0.3  # the line moved at all
    assert 1.7 < twice / once < 2.3


def test_the_rotation_stays_as_small_at_any_strength():
    # A line turned further would leave its crop at the ends; a horizontal rule shows the turn
    # alone (a shear moves it sideways only).
    from mspt_core.data.augment import _affine

    slopes = [
        np.polyfit(np.arange(100, 300), _rule_rows(_affine(_rule(), np.random.default_rng(2), s))[100:300], 1)[0]
        for s in (1.0, 3.0)
    ]
    assert abs(slopes[0]) > 0.005  # turned at all
    assert slopes[1] == pytest.approx(slopes[0], abs=0.002)


def test_strength_changes_a_line_only_where_a_shape_transform_is_drawn(hand_lines, monkeypatch):
    from mspt_core.data import augment as module

    ran: list = []

    def recorded(transform):
        def run(image, rng, *strength):
            ran.append(transform)
            return transform(image, rng, *strength)

        return run

    wrapped = {transform: recorded(transform) for transform, _ in module.TRANSFORMS}
    shaped = module.SHAPE_TRANSFORMS
    monkeypatch.setattr(module, "TRANSFORMS", [(wrapped[t], p) for t, p in module.TRANSFORMS])
    monkeypatch.setattr(module, "SHAPE_TRANSFORMS", tuple(wrapped[t] for t in shaped))
    changed = []
    for seed in range(30):
        ran.clear()
        once = module.augment(hand_lines[0], np.random.default_rng(seed))
        drew_a_shape = any(t in shaped for t in ran)
        twice = module.augment(hand_lines[0], np.random.default_rng(seed), 2.0)
        assert (once != twice).any() == drew_a_shape, seed  # the ink, light and scanner as before
        changed.append(drew_a_shape)
    assert any(changed) and not all(changed)


@pytest.mark.parametrize("strength", [0, -1, 3.5, "2", True, float("nan")])
def test_a_strength_out_of_range_is_refused(strength):
    from mspt_core.data.augment import checked_strength

    with pytest.raises(ValueError, match="strength"):
        checked_strength(strength)


@pytest.mark.parametrize("strength", [0.5, 1, 3])
def test_a_strength_in_range_is_taken_as_a_float(strength):
    from mspt_core.data.augment import checked_strength

    taken = checked_strength(strength)
    assert taken == strength and isinstance(taken, float)


def _pixels_trained_on(lines, strength, tmp_path, seed=0):
    """What one training batch of ``lines`` hands the network, at ``strength``."""
    from mspt_core.charset import Charset
    from mspt_core.model import Recognizer, config_for
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import RecognitionJob

    charset = Charset.from_texts(lines.texts)
    job = RecognitionJob(
        Recognizer(config_for("tiny"), len(charset)),
        charset,
        lines,
        None,
        TrainSettings(),
        tmp_path,
        {},
        augment_strength=strength,
    )
    seen = []

    def loss(pixels, widths, targets, lengths):
        seen.append(pixels.clone())
        return torch.zeros(())

    job.model.loss = loss
    job.loss(list(range(len(lines))), np.random.default_rng(seed), torch.device("cpu"))
    return seen[0]


def test_training_augments_its_lines_at_the_runs_strength(tmp_path, old_print_lines):
    from mspt_core.data.augment import augment
    from mspt_core.data.batching import collate

    rng = np.random.default_rng(0)
    as_before, _ = collate([augment(image, rng) for image in old_print_lines.images])
    assert torch.equal(_pixels_trained_on(old_print_lines, 1.0, tmp_path), as_before)
    assert not torch.equal(_pixels_trained_on(old_print_lines, 2.0, tmp_path), as_before)


class Crash(Exception):
    pass


def test_the_strength_is_recorded_and_a_run_resumed_with_another_is_refused(tmp_path, old_print_lines):
    from mspt_core.errors import ModelFileError
    from mspt_core.models import read_metadata
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    settings = TrainSettings(steps=4, batch_size=4, lr=1e-3, warmup=1, val_every=100, checkpoint_every=2, device="cpu")

    def crash_at_three(progress):
        if progress.step == 3:
            raise Crash()

    def run(folder, strength=1.0, on_progress=None):
        return train_recognizer(
            old_print_lines, None, folder, settings, size="tiny", augment_strength=strength, on_progress=on_progress
        )

    folder = tmp_path / "strong"
    with pytest.raises(Crash):
        run(folder, 2.0, crash_at_three)
    with pytest.raises(ModelFileError, match=r"made its batches otherwise \(augment_strength 2.0 then"):
        run(folder)
    finished = run(folder, 2.0)
    assert finished.result.step == 4
    assert read_metadata(finished.model_path)["provenance"]["settings"]["augment_strength"] == 2.0
    plain = run(tmp_path / "plain")
    assert "augment_strength" not in read_metadata(plain.model_path)["provenance"]["settings"]
    with pytest.raises(ValueError, match="strength"):
        run(tmp_path / "never", 0.0)
    assert not (tmp_path / "never").exists()
    with pytest.raises(ValueError, match="needs augmentation"):  # it would change nothing
        train_recognizer(
            old_print_lines,
            None,
            tmp_path / "flat",
            settings,
            size="tiny",
            use_augmentation=False,
            augment_strength=2.0,
        )
    assert not (tmp_path / "flat").exists()


def test_mspt_train_takes_the_strength_and_records_it(tmp_path):
    from mspt_core.cli import main
    from mspt_core.models import read_metadata
    from tests.conftest import REPO

    lines = REPO / "resources" / "samples" / "lines"
    tiny = ["--size", "tiny", "--steps", "2", "--batch-size", "2", "--val-every", "2", "--device", "cpu"]
    assert main(["train", str(lines), "--out", str(tmp_path / "run"), *tiny, "--augment-strength", "2"]) == 0
    settings = read_metadata(tmp_path / "run" / "best")["provenance"]["settings"]
    assert settings["augment_strength"] == 2.0

"""How far training augmentation moves the shape of the writing (``augment_strength``): a round
of the handwriting model may see hands slanted, wobbled and curled further than the default."""

from __future__ import annotations

import numpy as np
import pytest


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


def test_strength_changes_a_line_only_where_a_shape_transform_is_drawn(hand_lines, monkeypatch):
    from mspt_core.data import augment as module

    ran: list = []

    def recorded(transform):
        def run(image, rng, *strength):
            ran.append(transform)
            return transform(image, rng, *strength)

        return run

    wrapped = {transform: recorded(transform) for transform, _ in module.TRANSFORMS}
    shaped = module.SHAPED
    monkeypatch.setattr(module, "TRANSFORMS", [(wrapped[t], p) for t, p in module.TRANSFORMS])
    monkeypatch.setattr(module, "SHAPED", tuple(wrapped[t] for t in shaped))
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

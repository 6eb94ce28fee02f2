"""Masking: the schedule of p, padding never masked, and the two ways of filling masked tokens."""

from itertools import pairwise

import numpy as np
import pytest
import torch

from mspt_core.pretrain.masking import MaskSchedule, fill_with_embedding, fill_with_noise, noise_tile, sample_mask


@pytest.mark.parametrize("kind", ["linear", "cosine", "step"])
def test_progressive_schedule_runs_from_p_start_to_p_end(kind):
    schedule = MaskSchedule(kind, p_start=0.1, p_end=0.6, total_steps=101, stages=5)
    values = [schedule.probability(s) for s in range(101)]
    assert values[0] == pytest.approx(0.1)
    assert values[-1] == pytest.approx(0.6)
    assert all(b >= a - 1e-12 for a, b in pairwise(values))  # never decreases


def test_schedule_shapes():
    linear = MaskSchedule("linear", 0.0, 1.0, 11)
    cosine = MaskSchedule("cosine", 0.0, 1.0, 11)
    step = MaskSchedule("step", 0.0, 1.0, 11, stages=2)
    assert linear.probability(5) == pytest.approx(0.5)
    assert cosine.probability(2) < linear.probability(2)  # cosine starts slowly
    assert {step.probability(s) for s in range(11)} == {0.0, 1.0}
    assert (
        MaskSchedule("constant", 0.1, 0.4, 11).probability(0)
        == MaskSchedule("constant", 0.1, 0.4, 11).probability(10)
        == 0.4
    )


def test_schedule_rejects_nonsense():
    with pytest.raises(ValueError):
        MaskSchedule("exponential")
    with pytest.raises(ValueError):
        MaskSchedule("linear", p_end=1.5)


def test_padding_is_never_masked_and_the_rate_follows_p():
    lengths = torch.tensor([3, 50, 200])
    rng = np.random.default_rng(0)
    masks = [sample_mask(lengths, 200, 0.3, rng) for _ in range(200)]
    stacked = torch.stack(masks)
    for b, n in enumerate(lengths.tolist()):
        assert not stacked[:, b, n:].any()
    rate = stacked[:, 2, :].float().mean().item()
    assert 0.27 < rate < 0.33
    assert all(m[b, :n].any() for m in masks for b, n in enumerate(lengths.tolist()))  # >= 1 per line


def test_zero_p_masks_nothing_and_same_rng_same_mask():
    lengths = torch.tensor([10, 20])
    assert not sample_mask(lengths, 20, 0.0, np.random.default_rng(1)).any()
    a = sample_mask(lengths, 20, 0.5, np.random.default_rng(5))
    b = sample_mask(lengths, 20, 0.5, np.random.default_rng(5))
    assert torch.equal(a, b)


def test_noise_fill_replaces_exactly_the_masked_columns():
    images = torch.rand(2, 1, 16, 40)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 1] = mask[1, 4] = True
    tile = noise_tile(16)
    out = fill_with_noise(images, mask, tile)
    assert torch.equal(out[0, 0, :, 8:16], tile)
    assert torch.equal(out[1, 0, :, 32:40], tile)
    changed = (out != images).any(2)[:, 0]  # (B, W) columns that changed
    expected = mask.repeat_interleave(8, 1)
    assert torch.equal(changed, expected)
    assert torch.equal(noise_tile(16), tile)  # fixed, not redrawn


def test_embedding_fill_replaces_masked_tokens_only():
    tokens = torch.randn(2, 4, 6)
    embedding = torch.full((6,), 7.0)
    mask = torch.tensor([[True, False, False, True], [False, False, False, False]])
    out = fill_with_embedding(tokens, mask, embedding)
    assert (out[0, 0] == 7).all() and (out[0, 3] == 7).all()
    assert torch.equal(out[0, 1:3], tokens[0, 1:3]) and torch.equal(out[1], tokens[1])

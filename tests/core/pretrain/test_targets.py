"""Targets and loss: k-means is stable for a seed, labels are assigned batch by batch, and the
loss counts visible tokens exactly when w > 0."""

import numpy as np
import pytest
import torch

from mspt_core.model import config_for
from mspt_core.pretrain.targets import (
    ClusterTargets,
    combine,
    fit_cluster_targets,
    minibatch_kmeans,
    nearest,
    pixel_targets,
)
from tests.core.pretrain.conftest import fake_line


def _blobs(seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    truth = torch.randint(4, (2000,), generator=g)
    return centres[truth] + 0.5 * torch.randn(2000, 2, generator=g), truth


def test_kmeans_is_stable_for_a_fixed_seed_and_finds_separated_clusters():
    points, truth = _blobs()
    a = minibatch_kmeans(points, 4, iterations=50, batch_size=256, seed=3)
    b = minibatch_kmeans(points, 4, iterations=50, batch_size=256, seed=3)
    assert torch.equal(a, b)
    labels = nearest(points, a)
    assert torch.equal(labels, nearest(points, b))
    # Each true blob maps to one cluster and no two blobs share one.
    mapping = {int(t): set(labels[truth == t].tolist()) for t in range(4)}
    assert all(len(v) == 1 for v in mapping.values())
    assert len({next(iter(v)) for v in mapping.values()}) == 4


def test_kmeans_needs_enough_points():
    from mspt_core.errors import DataError

    with pytest.raises(DataError):
        minibatch_kmeans(torch.randn(3, 2), 8)


@pytest.mark.parametrize("features", ["pixels", "untrained"])
def test_cluster_targets_are_reproducible_and_survive_a_save(tmp_path, features):
    rng = np.random.default_rng(0)
    lines = [fake_line(rng) for _ in range(40)]
    config = config_for("tiny")
    first = fit_cluster_targets(iter(lines), features, config, 8, max_columns=400, iterations=20, seed=1)
    second = fit_cluster_targets(iter(lines), features, config, 8, max_columns=400, iterations=20, seed=1)
    assert torch.equal(first.centroids, second.centroids)
    first.save(tmp_path / "t.safetensors")
    loaded = ClusterTargets.load(tmp_path / "t.safetensors")
    from mspt_core.data.batching import collate

    pixels, widths = collate(lines[:6])
    labels = first.labels(pixels, widths)
    assert labels.shape == (6, pixels.shape[-1] // 8)
    assert torch.equal(labels, loaded.labels(pixels, widths))
    assert labels.max() < 8 and len(labels.unique()) > 1


def test_masked_only_loss_ignores_visible_tokens_and_w_brings_them_in():
    per_token = torch.rand(2, 5, requires_grad=True)
    mask = torch.tensor([[True, False, False, True, False], [False, True, False, False, False]])
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    combine(per_token, mask, pad, 0.0).backward()
    grad = per_token.grad
    assert (grad[mask] > 0).all()
    assert (grad[~mask] == 0).all()

    per_token.grad = None
    combine(per_token, mask, pad, 0.5).backward()
    visible = ~mask & ~pad
    assert (per_token.grad[visible] > 0).all()
    assert (per_token.grad[pad] == 0).all()  # padding never counts


def test_loss_value_is_masked_mean_plus_weighted_visible_mean():
    per_token = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.tensor([[True, True, False, False]])
    pad = torch.tensor([[False, False, False, True]])
    assert combine(per_token, mask, pad, 0.0).item() == pytest.approx(1.5)
    assert combine(per_token, mask, pad, 2.0).item() == pytest.approx(1.5 + 2.0 * 3.0)


def test_pixel_targets_are_normalized_per_token():
    images = torch.rand(1, 1, 16, 24)
    targets = pixel_targets(images)
    assert targets.shape == (1, 3, 16 * 8)
    assert targets.mean(-1).abs().max() < 1e-4


def test_features_can_come_from_a_model_file(tmp_path):
    from mspt_core.pretrain.job import save_encoder
    from mspt_core.pretrain.model import MaskedEncoder
    from mspt_core.pretrain.targets import make_extractor

    torch.manual_seed(0)
    model = MaskedEncoder(config_for("tiny"), 8)
    save_encoder(tmp_path / "enc", model, {})
    extractor, spec = make_extractor(str(tmp_path / "enc"), config_for("tiny"))
    assert spec["source"] == str(tmp_path / "enc")
    for name, weight in model.encoder.frontend.state_dict().items():
        assert torch.equal(extractor.frontend.state_dict()[name], weight), name


def test_features_after_transformer_layers_come_from_the_model_and_survive_a_save(tmp_path):
    from mspt_core.data.batching import collate
    from mspt_core.errors import DataError
    from mspt_core.model.encoder import padding_mask, sinusoidal_positions, token_lengths
    from mspt_core.pretrain.job import save_encoder
    from mspt_core.pretrain.model import MaskedEncoder
    from mspt_core.pretrain.targets import make_extractor

    torch.manual_seed(0)
    config = config_for("tiny")
    model = MaskedEncoder(config, 8).eval()
    save_encoder(tmp_path / "enc", model, {})
    lines = [fake_line(np.random.default_rng(i)) for i in range(40)]
    pixels, widths = collate(lines[:4])

    extractor, spec = make_extractor(str(tmp_path / "enc"), config, layer=2)
    assert spec["features"] == "encoder" and spec["layer"] == 2
    assert len(extractor.encoder.transformer.layers) == 2
    # The same numbers as the full encoder's first two layers.
    with torch.no_grad():
        tokens = model.encoder.embed(pixels, widths)
        pad = padding_mask(token_lengths(widths), tokens.shape[1])
        x = tokens + sinusoidal_positions(tokens.shape[1], tokens.shape[2])
        for layer in model.encoder.transformer.layers[:2]:
            x = layer(x, src_key_padding_mask=pad)
        assert torch.allclose(extractor(pixels, widths), x, atol=1e-5)
    # Deeper features give other clusters than the front end's, and reload to the same labels.
    deep = fit_cluster_targets(
        iter(lines), str(tmp_path / "enc"), config, 8, max_columns=400, iterations=20, seed=1, layer=2
    )
    shallow = fit_cluster_targets(iter(lines), str(tmp_path / "enc"), config, 8, max_columns=400, iterations=20, seed=1)
    assert not torch.equal(deep.labels(pixels, widths), shallow.labels(pixels, widths))
    deep.save(tmp_path / "t.safetensors")
    assert torch.equal(
        ClusterTargets.load(tmp_path / "t.safetensors").labels(pixels, widths), deep.labels(pixels, widths)
    )

    with pytest.raises(DataError, match="3 transformer layers"):
        make_extractor(str(tmp_path / "enc"), config, layer=4)
    with pytest.raises(DataError, match="trained model"):
        make_extractor("pixels", config, layer=1)
    from mspt_core.pretrain.settings import PretrainSettings

    with pytest.raises(ValueError, match="trained model"):  # refused before any work starts
        PretrainSettings(features="untrained", feature_layer=1)


@pytest.mark.parametrize("name", ["cpu-small", "gpu-base", "paper"])
def test_every_preset_finds_its_feature_model_out_of_the_box(name):
    from mspt_core.presets import pretrain_preset
    from mspt_core.pretrain.targets import make_extractor

    method, _ = pretrain_preset(name)
    config = config_for(method.size)
    extractor, spec = make_extractor(method.features, config, layer=method.feature_layer)
    images, widths = torch.rand(1, 1, config.height, 64), torch.tensor([64])
    assert extractor(images, widths).shape[:2] == (1, 8)
    assert spec["features"] != "pixels"  # pixel targets lost clearly in the ablation


def test_a_feature_model_of_another_height_is_refused_with_advice():
    from mspt_core.errors import DataError
    from mspt_core.pretrain.targets import make_extractor

    with pytest.raises(DataError, match="--features pixels"):
        make_extractor("default", config_for("tiny", height=64))

"""The recognizer's shapes, masking and charset extension, for both front ends."""

import numpy as np
import pytest
import torch

from mspt_core.charset import Charset
from mspt_core.data.batching import collate
from mspt_core.model import Recognizer, config_for


def _line(width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (40, width), dtype=np.uint8)


@pytest.mark.parametrize("size", ["tiny", "fast"])
@pytest.mark.parametrize("head", ["ctc", "decoder"])
def test_one_token_per_eight_pixel_column(head, size):
    model = Recognizer(config_for(size, head=head), 30).eval()
    images, widths = collate([_line(203, 0), _line(64, 1)])
    encoded, pad_mask = model.encoder(images, widths)
    assert encoded.shape == (2, 26, model.config.d_model)  # ceil(203 / 8) tokens, batch padded to it
    assert pad_mask.sum(1).tolist() == [0, 26 - 8]  # the 64-px line has 8 real tokens


@pytest.mark.parametrize("size", ["tiny", "fast"])
@pytest.mark.parametrize("head", ["ctc", "decoder"])
def test_a_line_reads_the_same_alone_and_padded_in_a_batch(head, size):
    torch.manual_seed(0)
    model = Recognizer(config_for(size, head=head), 30).eval()
    # As after training: BatchNorm shifts zeros, so padding would leak into real columns if the
    # front end did not zero it after every layer.
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.5, 0.5)
    short, long = _line(77, 2), _line(300, 3)
    with torch.no_grad():
        alone, _ = model.ctc_log_probs(*collate([short]))
        batched, mask = model.ctc_log_probs(*collate([short, long]))
    real = int((~mask[0]).sum())
    assert real == alone.shape[1]
    assert torch.allclose(alone[0], batched[0, :real], atol=1e-5)
    if head == "decoder":
        enc1, m1 = model.encoder(*collate([short]))
        enc2, m2 = model.encoder(*collate([short, long]))
        assert model.decoder.greedy(enc1, m1)[0][0] == model.decoder.greedy(enc2, m2)[0][0]


def test_ctc_reads_two_frames_per_token_where_the_config_says_so():
    model = Recognizer(config_for("fast"), 30).eval()
    assert model.config.frame_stride == 4
    images, widths = collate([_line(203, 0), _line(64, 1)])
    with torch.no_grad():
        log_probs, frame_mask = model.ctc_log_probs(images, widths)
    assert log_probs.shape[:2] == (2, 52)  # 26 tokens x 2 frames
    assert (~frame_mask).sum(1).tolist() == [52, 16]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 52), atol=1e-4)


def test_named_sizes_have_the_promised_scale():
    params = {size: Recognizer(config_for(size), 100).parameter_count() for size in ("tiny", "fast", "small", "base")}
    assert 0.5e6 < params["tiny"] < 1.5e6
    assert params["small"] <= 8e6
    assert params["fast"] < params["small"]
    base = config_for("base")
    assert (base.layers, base.d_model, base.heads, base.ff) == (6, 512, 4, 2048)
    assert params["tiny"] < params["small"] < params["base"]


def test_height_must_allow_one_token_per_eight_pixels():
    with pytest.raises(ValueError, match="multiple of 8"):
        config_for("tiny", height=42)


@pytest.mark.parametrize("head", ["ctc", "decoder"])
def test_extending_the_charset_keeps_old_outputs(head):
    torch.manual_seed(1)
    charset = Charset.from_texts(["abc def"])
    model = Recognizer(config_for("tiny", head=head), len(charset)).eval()
    images, widths = collate([_line(120, 4)])
    with torch.no_grad():
        before = model.ctc.proj(model.encoder(images, widths)[0])
        dec_before = (
            model.decoder.logits(torch.tensor([[0, 1, 2]]), *model.encoder(images, widths))
            if head == "decoder"
            else None
        )
    bigger, added = charset.extended(["café ſ"])
    assert added == sorted(["é", "ſ"])
    assert [bigger.encode(c) for c in "abc def"] == [charset.encode(c) for c in "abc def"]
    model.extend_charset(len(added))
    with torch.no_grad():
        after = model.ctc.proj(model.encoder(images, widths)[0])
    assert after.shape[-1] == len(bigger)
    assert torch.equal(after[..., : len(charset)], before)
    # New characters start unlikely, so the old model's readings do not change.
    assert torch.equal(after.argmax(-1), before.argmax(-1))
    if head == "decoder":
        with torch.no_grad():
            dec_after = model.decoder.logits(torch.tensor([[0, 1, 2]]), *model.encoder(images, widths))
        assert torch.equal(dec_after[..., : len(charset)], dec_before)


def test_charset_is_nfc():
    charset = Charset.from_texts(["e\u0301"])  # e + combining acute
    assert charset.chars == ["é"]
    assert charset.decode(charset.encode("\u00e9")) == "é"


def test_a_deepened_model_reads_real_handwriting_exactly_as_before_and_its_new_layers_learn(cremma):
    from mspt_core import decode
    from mspt_core.data.lines import lines_from_page_xml
    from mspt_core.models import bundled_models_dir, load_model
    from tests.conftest import split_xmls

    loaded = load_model(bundled_models_dir() / "handwriting")
    lines = lines_from_page_xml(split_xmls(cremma, "val")[0], loaded.config.height)
    images, widths = collate(lines.images[:6])
    before = loaded.model.eval()
    deeper = before.deepened(before.config.layers + 2).eval()
    assert deeper.config.layers == before.config.layers + 2
    with torch.inference_mode():
        old, _ = before.ctc_log_probs(images, widths)
        new, _ = deeper.ctc_log_probs(images, widths)
    assert torch.equal(old, new)
    texts = [loaded.charset.decode(decode.greedy(row.numpy()).ids) for row in new]
    assert sum(map(len, texts)) > 100  # real handwriting read, not an empty line

    # The added layers start at zero output but are not stuck there: one step moves them.
    targets = torch.tensor([loaded.charset.encode(lines.texts[0])])
    deeper.train().loss(images[:1], widths[:1], targets, torch.tensor([targets.shape[1]])).backward()
    added = deeper.encoder.transformer.layers[-1]
    assert added.linear2.weight.grad.abs().sum() > 0
    assert added.self_attn.out_proj.weight.grad.abs().sum() > 0

    with pytest.raises(ValueError, match="cannot deepen"):
        before.deepened(before.config.layers - 1)
    one_more = before.config.layers + 1  # a copy keeps the mode and the weights' dtype it was made in
    assert before.train().deepened(one_more).training and not before.eval().deepened(one_more).training
    assert next(before.half().deepened(one_more).parameters()).dtype == torch.float16


def test_a_widened_model_reads_real_handwriting_as_before_and_its_new_channels_learn(cremma):
    from mspt_core import decode
    from mspt_core.data.lines import lines_from_page_xml
    from mspt_core.models import bundled_models_dir, load_model
    from tests.conftest import split_xmls

    loaded = load_model(bundled_models_dir() / "handwriting")
    lines = lines_from_page_xml(split_xmls(cremma, "val")[0], loaded.config.height)
    images, widths = collate(lines.images[:6])
    before = loaded.model.float().eval()
    channels = tuple(2 * c for c in before.config.frontend_channels)
    wider = before.widened(channels).eval()
    assert wider.config.frontend_channels == channels
    assert wider.parameter_count() > before.parameter_count()
    with torch.inference_mode():
        old, _ = before.ctc_log_probs(images, widths)
        new, _ = wider.ctc_log_probs(images, widths)
        # In training mode too (the same dropout drawn): BatchNorm's batch statistics of the old
        # channels are unchanged.
        trained = []
        for model in (before, wider):
            torch.manual_seed(0)
            trained.append(model.train().ctc_log_probs(images, widths)[0])
    # Equal up to float rounding (a longer sum may be split differently), and read the same.
    torch.testing.assert_close(trained[0], trained[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(new, old, rtol=0, atol=1e-5)
    texts = [loaded.charset.decode(decode.greedy(row.numpy()).ids) for row in new]
    assert texts == [loaded.charset.decode(decode.greedy(row.numpy()).ids) for row in old]
    assert sum(map(len, texts)) > 100  # real handwriting read, not an empty line

    # The added channels feed the projection with zero weights, but a step moves those, and from
    # the next step on the added channels before them learn too.
    targets = torch.tensor([loaded.charset.encode(lines.texts[0])])
    optimizer = torch.optim.SGD(wider.parameters(), lr=0.01)
    stem = wider.encoder.frontend.stem[0][0].weight
    old_inputs = before.config.frontend_channels[-1] * before.config.height // 8
    for step in range(2):
        optimizer.zero_grad()
        wider.loss(images[:1], widths[:1], targets, torch.tensor([targets.shape[1]])).backward()
        if step == 0:
            assert wider.encoder.frontend.project.weight.grad[:, old_inputs:].abs().sum() > 0
        optimizer.step()
    assert stem.grad[before.config.frontend_channels[0] :].abs().sum() > 0

    with pytest.raises(ValueError, match="cannot widen"):
        before.widened((8, 32, 64, 128))
    with pytest.raises(ValueError, match="shortcuts"):  # c2 == c3 would give the first block a shortcut
        before.widened((16, 64, 64, 128))
    assert next(before.half().widened(channels).parameters()).dtype == torch.float16


@pytest.mark.parametrize("size", ["tiny", "fast"])  # the vgg front end and the separable one
def test_both_front_ends_widen_without_changing_what_they_compute(size):
    torch.manual_seed(0)
    model = Recognizer(config_for(size), 30)
    images, widths = collate([_line(203, 0), _line(64, 1)])
    model.train().ctc_log_probs(images, widths)  # BatchNorm's running statistics away from their start
    channels = tuple(c + 8 for c in model.config.frontend_channels)
    wider = model.widened(channels)
    assert wider.training and wider.config.frontend_channels == channels
    for mode in ("eval", "train"):
        torch.manual_seed(1)
        old = getattr(model, mode)().ctc_log_probs(images, widths)[0]
        torch.manual_seed(1)
        new = getattr(wider, mode)().ctc_log_probs(images, widths)[0]
        torch.testing.assert_close(new, old, rtol=0, atol=1e-5)


def test_a_taller_model_still_reads_real_handwriting_cut_at_its_new_height(cremma):
    """Only the projection depends on the height; resampling its rows keeps what the model knows,
    so the copy reads lines cut taller about as its base reads them, where a projection learned
    afresh would read nothing."""
    from mspt_core import decode
    from mspt_core.data.lines import lines_from_page_xml
    from mspt_core.metrics import cer
    from mspt_core.models import bundled_models_dir, load_model
    from tests.conftest import split_xmls

    loaded = load_model(bundled_models_dir() / "handwriting")
    base = loaded.model.float().eval()
    height = base.config.height
    taller = base.taller(height + 16).eval()
    assert taller.config.height == height + 16 and taller.parameter_count() > base.parameter_count()
    fresh = Recognizer(taller.config, taller.num_classes)
    fresh.load_state_dict({**taller.state_dict(), **{k: v for k, v in fresh.state_dict().items() if "project" in k}})
    fresh.eval()

    def read(model, height):
        lines = lines_from_page_xml(split_xmls(cremma, "val")[0], height)
        images, widths = collate(lines.images[:12])
        with torch.inference_mode():
            rows, _ = model.ctc_log_probs(images, widths)
        texts = [loaded.charset.decode(decode.greedy(row.numpy()).ids) for row in rows]
        return cer(lines.texts[:12], texts)

    before, after = read(base, height), read(taller, height + 16)
    assert before < 0.5 and after < 2 * before  # not yet trained at that height, but reading
    assert read(fresh, height + 16) > 0.8
    with torch.inference_mode():  # at its own height the copy is the model
        images, widths = collate([np.random.default_rng(0).integers(0, 256, (height, 120), dtype=np.uint8)])
        same = base.taller(height).ctc_log_probs(images, widths)[0]
        torch.testing.assert_close(same, base.ctc_log_probs(images, widths)[0])
    with pytest.raises(ValueError, match="multiple of 8"):
        base.taller(height + 2)
    with pytest.raises(ValueError, match="cannot make"):
        base.taller(height - 8)
    assert base.train().taller(64).training and next(base.half().taller(64).parameters()).dtype == torch.float16

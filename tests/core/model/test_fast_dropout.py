"""The recognizer's dropout with a cheaper CPU mask drops and scales as ``nn.Dropout`` does."""

import pytest
import torch
from torch import nn

from mspt_core.model import Recognizer, config_for
from mspt_core.model.dropout import LEVELS, FastDropout, keep_mask, use_fast_dropout


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_it_drops_a_share_p_and_keeps_the_expected_value(p):
    torch.manual_seed(0)
    x = torch.ones(1000, 1000, requires_grad=True)
    y = FastDropout(p).train()(x)
    dropped = (y == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.003)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)  # kept elements scaled by 1 / (1 - p)
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # the gradient goes where the input went, as scaled


def test_it_is_the_identity_when_reading_and_follows_torchs_seed():
    dropout = FastDropout(0.1)
    x = torch.randn(64, 300, dtype=torch.bfloat16)
    assert torch.equal(dropout.eval()(x), x)
    dropout.train()
    torch.manual_seed(5)
    first = dropout(x)
    torch.manual_seed(5)
    assert torch.equal(dropout(x), first) and first.dtype == torch.bfloat16
    assert not torch.equal(dropout(x), first)
    torch.manual_seed(5)  # the mask is keep_mask's, drawn from torch's generator
    mask = keep_mask(x.shape, round(0.1 * LEVELS))
    assert torch.equal(first == 0, ~mask)


def test_every_dropout_of_a_recognizer_becomes_fast_and_the_weights_stay():
    torch.manual_seed(1)
    model = Recognizer(config_for("tiny", head="decoder"), num_classes=20)
    kinds = {type(m) for m in model.modules() if isinstance(m, nn.Dropout)}
    assert kinds == {FastDropout}
    plain = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.2))
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    use_fast_dropout(plain)
    assert isinstance(plain[1], FastDropout) and plain[1].p == 0.2
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())

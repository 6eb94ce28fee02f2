"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
LINES = SAMPLES / "lines"  # line images with .gt.txt


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained tiny CTC model over the sample lines' alphabet: loads in a moment."""
    import torch

    from mspt_core.charset import Charset
    from mspt_core.model import Recognizer, config_for
    from mspt_core.models import build_metadata, save_model

    torch.manual_seed(0)
    charset = Charset.from_texts([path.read_text(encoding="utf-8") for path in LINES.glob("*.gt.txt")])
    model = Recognizer(config_for("tiny"), len(charset)).eval()
    return save_model(tmp_path_factory.mktemp("model") / "tiny", model, charset, build_metadata(model, charset, "t"))

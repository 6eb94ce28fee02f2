"""packaging/ship_model.py: what a shipped model reads with until its own settings are chosen."""

from __future__ import annotations

import shutil
import sys

import pytest

from tests.conftest import load_script


@pytest.mark.parametrize("keep", [False, True])
def test_a_shipped_model_reads_as_cut_unless_it_keeps_its_bases_reading(tmp_path, monkeypatch, keep):
    from mspt_core.models import bundled_models_dir, load_model, read_metadata, save_model
    from mspt_core.recognize import CHOSEN_READING

    script = load_script("packaging/ship_model.py")
    # a round trained on from the handwriting model carries the base's reading settings
    trained = shutil.copytree(bundled_models_dir() / "handwriting", tmp_path / "run" / "best")
    loaded = load_model(trained)
    carried = {"width_scale": 1.15, "shifted_reads": 0.05, "deslanted_reads": 0.3}
    choices = {f"{key}_choice": {"chosen_on": ["a/val"]} for key in carried}
    language_model = {"name": "fr-en-de", "alpha": 0.4, "beta": 2.0}
    metadata = {k: v for k, v in loaded.metadata.items() if k not in CHOSEN_READING and not k.endswith("_choice")}
    metadata.update(carried, **choices, language_model=language_model)
    save_model(trained, loaded.model, loaded.charset, metadata)
    monkeypatch.setattr(script, "bundled_models_dir", lambda: tmp_path / "models")
    arguments = [str(trained), "--name", "handwriting", *(["--keep-reading"] * keep)]
    monkeypatch.setattr(sys, "argv", ["ship_model.py", *arguments])
    script.main()

    shipped = read_metadata(tmp_path / "models" / "handwriting")
    assert "language_model" not in shipped  # chosen for the base, not for these weights
    assert shipped["end_margin"] == script.END_MARGIN
    for key, value in carried.items():
        if keep:
            assert shipped[key] == value
            assert shipped[f"{key}_choice"] == {"chosen_on": ["a/val"], "kept_from_base": True}
        else:
            assert key not in shipped and f"{key}_choice" not in shipped

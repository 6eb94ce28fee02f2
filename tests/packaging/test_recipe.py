"""The bundled models' training recipes (packaging/default_model/): they train and select only on
train and val splits, and a recipe that trains on from a shipped model takes exactly the model
it names and keeps training after that model has been replaced in the repository."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import DATA, split_xmls
from tests.conftest import load_script as load_repo_script

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "packaging" / "default_model").glob("*.json"))
SPLIT_KEYS = ("real_train", "real_val")


def load_script():
    return load_repo_script("packaging/default_model/recipe.py")


def named_splits(recipe: dict) -> list[str]:
    names = [name for key in SPLIT_KEYS for name in recipe.get(key, [])]
    return names + list(recipe.get("pretrain", {}).get("splits", []))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipes_never_name_a_test_split(path):
    recipe = json.loads(path.read_text())
    splits = named_splits(recipe)
    assert splits, f"{path.name} names no data"
    assert all(name.rsplit("/", 1)[1] in ("train", "val") for name in splits), splits
    assert all(name.endswith("/val") for name in recipe["real_val"])


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipes_name_splits_that_exist(path):
    if not DATA.is_dir():
        pytest.skip(f"needs {DATA} (the shared ground truth beside the clone); not present here")
    recipe = json.loads(path.read_text())
    empty = [name for name in named_splits(recipe) if not split_xmls(DATA / name.split("/")[0], name.split("/")[1])]
    assert not empty, f"{path.name} names splits ../shared/data does not have: {empty}"


def fake_model(folder: Path, weights: bytes) -> str:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "model.json").write_text("{}")
    return hashlib.sha256(weights).hexdigest()


def test_a_base_is_checked_copied_once_and_then_used_from_the_run_folder(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    sha = fake_model(tmp_path / "models" / "hand", b"first round")
    recipe = {"base": {"model": "models/hand", "sha256": sha}}
    run = tmp_path / "run"
    run.mkdir()

    copy = script.base_model(recipe, run)
    assert (copy / "model.safetensors").read_bytes() == b"first round"
    # the shipped model is replaced by the next round: the run still resumes from its copy
    shutil.rmtree(tmp_path / "models" / "hand")
    fake_model(tmp_path / "models" / "hand", b"second round")
    assert script.base_model(recipe, run) == copy
    assert (copy / "model.safetensors").read_bytes() == b"first round"


def test_a_base_that_is_not_the_named_one_is_refused(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    fake_model(tmp_path / "models" / "hand", b"second round")
    recipe = {"base": {"model": "models/hand", "sha256": "0" * 64}}
    with pytest.raises(SystemExit, match="is not the base this recipe names"):
        script.base_model(recipe, tmp_path / "run")
    with pytest.raises(SystemExit, match="is not the base"):
        script.base_model({"base": {"model": "models/none", "sha256": "0" * 64}}, tmp_path / "run")
    assert not (tmp_path / "run" / "base").exists()


def test_a_base_with_layers_is_deepened_in_the_run_folder_and_reads_as_before(tmp_path, monkeypatch):
    import torch

    from mspt_core.models import bundled_models_dir, load_model, weights_sha256

    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    shutil.copytree(bundled_models_dir() / "default", tmp_path / "models" / "print")
    shipped = load_model(tmp_path / "models" / "print")
    layers = shipped.config.layers + 2
    sha = weights_sha256(tmp_path / "models" / "print")
    recipe = {"base": {"model": "models/print", "sha256": sha, "layers": layers}}

    copy = script.base_model(recipe, tmp_path / "run")
    grown = load_model(copy)
    assert grown.config.layers == layers
    assert grown.metadata["deepened_from_layers"] == shipped.config.layers
    assert grown.metadata["parameters"] == grown.model.parameter_count() > shipped.model.parameter_count()
    images, widths = torch.rand(2, 1, 40, 160), torch.tensor([160, 90])
    with torch.inference_mode():
        assert torch.equal(grown.model.ctc_log_probs(images, widths)[0], shipped.model.ctc_log_probs(images, widths)[0])
    assert "inference" not in grown.metadata  # the int8 check of the shallower network
    deepened_weights = weights_sha256(copy)
    assert script.base_model(recipe, tmp_path / "run") == copy  # a resume takes it as it is
    assert weights_sha256(copy) == deepened_weights
    assert weights_sha256(tmp_path / "models" / "print") == sha  # the shipped model is left alone
    assert not (tmp_path / "run" / "base.partial").exists()


def test_a_base_with_frontend_channels_is_widened_and_deepened_in_the_run_folder_and_reads_as_before(
    tmp_path, monkeypatch
):
    import torch

    from mspt_core.models import bundled_models_dir, load_model, weights_sha256

    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    shutil.copytree(bundled_models_dir() / "default", tmp_path / "models" / "print")
    shipped = load_model(tmp_path / "models" / "print")
    channels = [2 * c for c in shipped.config.frontend_channels]
    sha = weights_sha256(tmp_path / "models" / "print")
    recipe = {"base": {"model": "models/print", "sha256": sha, "frontend_channels": channels, "layers": 6}}

    grown = load_model(script.base_model(recipe, tmp_path / "run"))
    assert list(grown.config.frontend_channels) == channels and grown.config.layers == 6
    assert grown.metadata["widened_from_channels"] == list(shipped.config.frontend_channels)
    assert grown.metadata["parameters"] == grown.model.parameter_count() > shipped.model.parameter_count()
    images, widths = torch.rand(2, 1, 40, 160), torch.tensor([160, 90])
    with torch.inference_mode():
        new, old = grown.model.ctc_log_probs(images, widths)[0], shipped.model.ctc_log_probs(images, widths)[0]
    torch.testing.assert_close(new, old, rtol=0, atol=1e-5)  # a wider sum may round differently


def test_a_base_with_a_height_is_made_taller_in_the_run_folder_and_reads_lines_cut_so(tmp_path, monkeypatch, fondue):
    import torch

    from mspt_core import decode
    from mspt_core.data.batching import collate
    from mspt_core.data.lines import lines_from_page_xml
    from mspt_core.metrics import cer
    from mspt_core.models import bundled_models_dir, load_model, weights_sha256

    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    shutil.copytree(bundled_models_dir() / "default", tmp_path / "models" / "print")
    shipped = load_model(tmp_path / "models" / "print")
    sha = weights_sha256(tmp_path / "models" / "print")
    height = shipped.config.height + 16
    recipe = {"height": height, "base": {"model": "models/print", "sha256": sha, "height": height}}

    grown = load_model(script.base_model(recipe, tmp_path / "run"))
    assert grown.config.height == grown.metadata["line_height"] == height
    assert grown.metadata["taller_from_height"] == shipped.config.height
    assert grown.metadata["parameters"] == grown.model.parameter_count()
    lines = lines_from_page_xml(split_xmls(fondue, "val")[0], height)
    images, widths = collate(lines.images[:8])
    with torch.inference_mode():
        rows, _ = grown.model.eval().ctc_log_probs(images, widths)
    texts = [grown.charset.decode(decode.greedy(row.numpy()).ids) for row in rows]
    assert cer(lines.texts[:8], texts) < 0.2  # printed lines cut taller, read before any training


@pytest.mark.parametrize(("height", "lines_at"), [(56, 40), (56, None), (56.0, 56), (True, 1), (44, 44)])
def test_a_base_height_that_is_not_the_recipes_whole_line_height_is_refused_and_leaves_nothing(
    tmp_path, monkeypatch, height, lines_at
):
    from mspt_core.models import bundled_models_dir, weights_sha256

    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    shutil.copytree(bundled_models_dir() / "default", tmp_path / "models" / "print")
    sha = weights_sha256(tmp_path / "models" / "print")
    recipe = {"height": lines_at, "base": {"model": "models/print", "sha256": sha, "height": height}}
    with pytest.raises(SystemExit, match="height|multiple of 8"):
        script.base_model(recipe, tmp_path / "run")
    assert not (tmp_path / "run" / "base").exists()
    assert not (tmp_path / "run" / "base.partial").exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        *(("layers", layers) for layers in (2, 6.0, "6", True)),
        *(
            ("frontend_channels", channels)
            for channels in ([8, 32, 64, 128], [32, 64], [32, 64, 128, 256.0], "wide", [32, 64, 64, 256])
        ),
    ],
)
def test_a_base_asking_for_a_shape_it_cannot_have_is_refused_and_leaves_nothing(tmp_path, monkeypatch, key, value):
    from mspt_core.models import bundled_models_dir, weights_sha256

    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    shutil.copytree(bundled_models_dir() / "default", tmp_path / "models" / "print")
    sha = weights_sha256(tmp_path / "models" / "print")
    recipe = {"base": {"model": "models/print", "sha256": sha, key: value}}
    with pytest.raises(SystemExit, match="layers" if key == "layers" else "frontend_channels|front.end"):
        script.base_model(recipe, tmp_path / "run")
    assert not (tmp_path / "run" / "base").exists()
    assert not (tmp_path / "run" / "base.partial").exists()


BASE_RECIPES = [path for path in RECIPES if "base" in json.loads(path.read_text())]


@pytest.mark.parametrize("path", BASE_RECIPES, ids=lambda p: p.name)
def test_the_base_recipes_name_the_models_their_comments_say(path):
    """A base recipe's SHA-256 is the weights' of the commit its comment names (the model it
    trains on from), so the round can be trained again from a checkout of that commit."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    recipe = json.loads(path.read_text())
    commit = recipe["_comment"].split("shipped at commit ")[1].split(")")[0]
    assert re.fullmatch("[0-9a-f]{7,40}", commit), f"the comment names no commit: {commit!r}"
    blob = subprocess.run(
        ["git", "show", f"{commit}:{recipe['base']['model']}/model.safetensors"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if blob.returncode != 0:
        pytest.skip(f"commit {commit} is not in this clone (shallow?)")
    assert hashlib.sha256(blob.stdout).hexdigest() == recipe["base"]["sha256"]


def test_prepared_lines_are_shared_by_recipes_that_differ_only_in_how_they_train():
    """A round that trains on from another model, on widened lines or with its weights averaged
    cuts the same lines: its run folder may start from the last round's prepared lines; other
    data settings may not."""
    script = load_script()
    recipe = json.loads((REPO / "packaging" / "default_model" / "handwriting-v13-wide.json").read_text())
    key = script._data_key(recipe)
    training = dict(
        recipe,
        base={"model": "elsewhere", "sha256": "0" * 64},
        train_widths=[1.0, 1.0],
        steps=5,
        lr=1.0,
        ema_decay=0.9,
        tuned_share=0.5,
        augment_strength=2.0,
    )
    assert script._data_key(training) == key
    assert script._data_key(dict(recipe, height=48)) != key
    assert script._data_key(dict(recipe, train_crops=["polygon"])) != key


@pytest.mark.parametrize(
    ("recipe_name", "setting", "value", "message"),
    [
        ("joint.json", "train_widths", [1.0, 1.3], "train_widths"),  # stretches what a recognizer trains on
        ("joint.json", "tuned_share", 0.5, "needs one"),  # no base to blend toward
        ("handwriting-v15-blend.json", "tuned_share", 1, "between 0 and 1"),
        ("handwriting-v15-blend.json", "tuned_share", 0, "between 0 and 1"),
        ("handwriting-v15-blend.json", "tuned_share", "half", "between 0 and 1"),
        ("joint.json", "augment_strength", 2.0, 'not with "pretrain"'),  # its fine-tuning has no strength
        ("handwriting-v19-shapes.json", "augment_strength", 0, "above 0 and at most 3"),
        ("handwriting-v19-shapes.json", "augment_strength", 4, "above 0 and at most 3"),
        ("handwriting-v19-shapes.json", "augment_strength", "strong", "above 0 and at most 3"),
    ],
)
def test_a_setting_a_recipe_cannot_take_is_refused_before_anything_is_written(
    tmp_path, monkeypatch, recipe_name, setting, value, message
):
    script = load_script()
    recipe = json.loads((REPO / "packaging" / "default_model" / recipe_name).read_text())
    path = tmp_path / "changed.json"
    path.write_text(json.dumps({**recipe, setting: value}))
    monkeypatch.setattr("sys.argv", ["recipe.py", "--recipe", str(path), "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match=message):
        script.main()
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("recipe_name", "strength"), [("handwriting-v19-shapes.json", None), ("recipe.json", 1.5)])
def test_a_recipes_augmentation_strength_reaches_its_training(tmp_path, monkeypatch, recipe_name, strength):
    # Both ways a recipe trains (from a base, from nothing) hand the strength on.
    from mspt_core.data.lines import LineSample, LineSet

    script = load_script()
    from mspt_core.models import weights_sha256

    recipe = json.loads((REPO / "packaging" / "default_model" / recipe_name).read_text())
    if strength is not None:
        recipe["augment_strength"] = strength
    if "base" in recipe:  # its base is the round bundled when it was written; train on from today's
        recipe["base"]["sha256"] = weights_sha256(REPO / recipe["base"]["model"])
    path = tmp_path / "strong.json"
    path.write_text(json.dumps(recipe))
    lines = LineSet([LineSample(np.full((recipe["height"], 64), 255, dtype=np.uint8), "a", "blank")])
    monkeypatch.setattr(script, "load_prepared", lambda *_: {"synthetic": lines, "real": lines, "val": lines})
    handed: dict = {}

    def train_recognizer(*args, **kwargs):
        handed.update(kwargs)
        result = SimpleNamespace(status="finished", step=0, best_metric=None)
        return SimpleNamespace(result=result, model_path=tmp_path / "run")

    monkeypatch.setattr(script, "train_recognizer", train_recognizer)
    monkeypatch.setattr("sys.argv", ["recipe.py", "--recipe", str(path), "--out", str(tmp_path / "run")])
    script.main()
    assert handed["augment_strength"] == recipe["augment_strength"]

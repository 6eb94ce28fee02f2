"""The line finder's training recipes (packaging/line_finder/): they train and select only on
train and val splits, and a further round takes exactly the finder it names and keeps training
after that finder has been replaced in the repository."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import torch

from mspt_core.layout.linefinder import LineFinderConfig, LineNet, save_line_finder
from tests.conftest import DATA, split_xmls
from tests.conftest import load_script as load_repo_script

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "packaging" / "line_finder").glob("*.json"))


def load_script():
    return load_repo_script("packaging/line_finder/recipe.py")


# Recipes run before the benchmark judged EHRI as partly transcribed (2026-12-06)
MADE_BEFORE_EHRI_WAS_PARTIAL = {"round-3.json"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipes_train_on_train_and_select_on_val_only(path):
    recipe = json.loads(path.read_text())
    assert recipe["train"] and all(name.endswith("/train") for name in recipe["train"])
    assert recipe["val"] and all(name.endswith("/val") for name in recipe["val"])
    if DATA.is_dir():
        empty = [n for n in recipe["train"] + recipe["val"] if not split_xmls(DATA / n.split("/")[0], n.split("/")[1])]
        assert not empty, f"{path.name} names splits ../shared/data does not have: {empty}"
    if "partial" in recipe:  # the sets whose ground truth leaves lines out, as the benchmark names them
        from benchmarks.common import PARTIAL_GROUND_TRUTH

        expected = set(PARTIAL_GROUND_TRUTH) & {name.split("/")[0] for name in recipe["train"]}
        if path.name in MADE_BEFORE_EHRI_WAS_PARTIAL:  # it keeps the list it was trained with
            expected.discard("ehri-typewritten-en-de")
        assert set(recipe["partial"]) == expected
    assert 0 <= recipe.get("line_centred", 0) <= 1


def tiny_finder(path: Path, bias: float) -> str:
    net = LineNet(LineFinderConfig(widths=(4, 8, 8, 8, 8)))
    with torch.no_grad():
        net.head.bias.fill_(bias)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_line_finder(path, net, LineFinderConfig(widths=(4, 8, 8, 8, 8)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_base_is_checked_copied_once_and_then_used_from_the_run_folder(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    sha = tiny_finder(tmp_path / "layout" / "lf.safetensors", 1.0)
    recipe = {"base": {"file": "layout/lf.safetensors", "sha256": sha}}
    first = script.base_finder(recipe, tmp_path / "run")
    assert first.net.head.bias.detach().tolist() == [1.0, 1.0]
    # the shipped finder is replaced by the next round: the run still resumes from its copy
    tiny_finder(tmp_path / "layout" / "lf.safetensors", 2.0)
    again = script.base_finder(recipe, tmp_path / "run")
    assert again.net.head.bias.detach().tolist() == [1.0, 1.0]
    assert script.base_finder({}, tmp_path / "run") is None  # a first round starts from scratch


def test_a_base_that_is_not_the_named_one_is_refused(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "REPO", tmp_path)
    tiny_finder(tmp_path / "layout" / "lf.safetensors", 1.0)
    with pytest.raises(SystemExit, match="is not the base this recipe names"):
        script.base_finder({"base": {"file": "layout/lf.safetensors", "sha256": "0" * 64}}, tmp_path / "run")
    with pytest.raises(SystemExit, match="is not the base"):
        script.base_finder({"base": {"file": "layout/none.safetensors", "sha256": "0" * 64}}, tmp_path / "run")
    assert not (tmp_path / "run" / "base.safetensors").exists()
    # a run folder started by another recipe (another base) is not trained on from the wrong base
    sha = tiny_finder(tmp_path / "layout" / "lf.safetensors", 1.0)
    script.base_finder({"base": {"file": "layout/lf.safetensors", "sha256": sha}}, tmp_path / "run")
    tiny_finder(tmp_path / "layout" / "other.safetensors", 2.0)
    with pytest.raises(SystemExit, match="use another --out"):
        other = hashlib.sha256((tmp_path / "layout" / "other.safetensors").read_bytes()).hexdigest()
        script.base_finder({"base": {"file": "layout/other.safetensors", "sha256": other}}, tmp_path / "run")


@pytest.mark.parametrize("path", [p for p in RECIPES if "base" in json.loads(p.read_text())], ids=lambda p: p.name)
def test_a_further_round_names_the_finder_its_comment_says(path):
    """The SHA-256 is the file's at the commit the comment names, so the round can be trained
    again from a checkout of that commit."""
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    recipe = json.loads(path.read_text())
    named = re.search(r"shipped at commit ([0-9a-f]{7,40})\)", recipe["_comment"])
    assert named, "the comment names the commit its base was shipped at, as 'shipped at commit abc1234)'"
    commit = named.group(1)
    blob = subprocess.run(
        ["git", "show", f"{commit}:{recipe['base']['file']}"], cwd=REPO, capture_output=True, check=False
    )
    if blob.returncode != 0:
        pytest.skip(f"commit {commit} is not in this clone (shallow?)")
    assert hashlib.sha256(blob.stdout).hexdigest() == recipe["base"]["sha256"]


def test_thresholds_writes_the_finder_again_with_the_thresholds_chosen_on_val(tmp_path):
    """packaging/line_finder/thresholds.py: the weights are left as they were, the chosen core
    and body thresholds go into the file's settings, and what was tried into its provenance."""
    import sys

    from mspt_core.layout.linefinder import bundled_path, load_line_finder

    if not (DATA / "fondue-en-print-20").is_dir():
        pytest.skip(f"needs {DATA} (the shared ground truth beside the clone); not present here")
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"val": ["fondue-en-print-20/val"]}))
    out = tmp_path / "chosen.safetensors"
    done = subprocess.run(
        [sys.executable, str(REPO / "packaging/line_finder/thresholds.py"), "--finder", str(bundled_path())]
        + ["--out", str(out), "--recipe", str(recipe), "--cores", "0.2", "0.65", "--bodies", "0.5", "--min-gain", "0"]
        + ["--threads", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = load_line_finder(bundled_path()), load_line_finder(out)
    tried = after.metadata["provenance"]["thresholds"]
    own = f"{before.config.core_threshold:g}/{before.config.body_threshold:g}"
    assert set(tried["mean_val_f1_box_polygon"]) == {own, "0.2/0.5", "0.65/0.5"}
    chosen = f"{tried['chosen']['core']:g}/{tried['chosen']['body']:g}"
    # no margin asked: the best pair (scores are written rounded to 4 places)
    assert (
        sum(tried["mean_val_f1_box_polygon"][chosen]) >= max(map(sum, tried["mean_val_f1_box_polygon"].values())) - 2e-4
    )
    assert tried["own"] == {"core": before.config.core_threshold, "body": before.config.body_threshold}
    assert tried["min_gain"] == 0
    assert "core_threshold" in tried["earlier"]  # how the bundled finder's own core threshold was chosen
    assert (after.config.core_threshold, after.config.body_threshold) == (
        tried["chosen"]["core"],
        tried["chosen"]["body"],
    )
    assert "core_threshold" not in after.metadata["provenance"]  # kept under "earlier", not beside
    assert f"wrote {out}" in done.stdout
    for name, tensor in before.net.state_dict().items():
        assert torch.equal(tensor, after.net.state_dict()[name]), name

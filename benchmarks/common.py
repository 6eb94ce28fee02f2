"""Shared pieces of the benchmark scripts and of the training recipes in packaging/: the shared
data, its sets and splits, the loop settings a recipe gives, and a machine description."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = Path(os.environ.get("MSPT_SHARED", REPO.parent / "shared")) / "data"
FONDUE = DATA / "fondue-en-print-20"
CREMMA = DATA / "cremma-mss-19-handwritten-fr"

# The sets of the shared ground truth by kind, each with Tesseract's languages for it (the peer
# reads every set in its own languages).
PRINTED = {
    "fondue-en-print-20": "eng",
    "ehri-typewritten-en-de": "eng+deu",
    "tapuscorpus-typewritten-fr": "fra",
    "gallicorpora-print-16-fr": "fra",
    "gallicorpora-print-17-fr": "fra",
    "ocrd-print-de": "deu",
}
HANDWRITTEN = {
    "cremma-mss-17-handwritten-fr": "fra",
    "cremma-mss-18-handwritten-fr": "fra",
    "cremma-mss-19-handwritten-fr": "fra",
    "htromance-mss-16-18-handwritten-fr": "fra",
    "peraire-20-handwritten-fr": "fra",
    "testaments-poilus-handwritten-fr": "fra",
    "timeus-19-handwritten-fr": "fra",
}
# Sets whose ground truth transcribes only some lines of a page (their README says so): in the
# segmentation benchmark and the line finder's threshold search, a line found there farther than
# a line height from every line the source gives is not counted, for every method alike
# (``match_lines(partial=True)``), nor is its text in a whole page's CER (``reading.judged_near``,
# ours and Tesseract's); a line-finder recipe's "partial" names them, so its loss counts only
# near the lines they give and its validation scores them so too.
PARTIAL_GROUND_TRUTH = {
    "ehri-typewritten-en-de": "handwritten additions in the margins not segmented nor transcribed",
    "testaments-poilus-handwritten-fr": "archive numbers, page labels and stamps not always transcribed",
    "timeus-19-handwritten-fr": "ground truth for recognition, not segmentation: not every line is transcribed",
}


def judged_near(partial: list[str]) -> str:
    """What a line finder's provenance adds where some val sets were scored only near their given lines."""
    if not partial:
        return ""
    return f"; on {', '.join(partial)} only found lines within a line height of a given line counted"


from mspt_core.data.splits import has_splits, split_xmls  # noqa: E402  (the scripts import split_xmls from here)
from mspt_core.train.settings import TrainSettings  # noqa: E402

if TYPE_CHECKING:
    from mspt_core.data.lines import LineSet
    from mspt_core.pretrain import PretrainSettings


def page_set_arguments(parser, split: str = "test") -> None:
    """``--split`` (``split`` by default) and ``--sets`` (every set), for the scripts that go over pages."""
    parser.add_argument("--split", default=split, choices=["train", "val", "test"])
    every = [*PRINTED, *HANDWRITTEN]
    parser.add_argument("--sets", nargs="+", default=every, choices=every, metavar="SET")


def require_sets(names: list[str]) -> None:
    """Stop the script, saying where it looked, unless every set named is in the shared data."""
    missing = [name for name in names if not (DATA / name).exists()]
    if missing:
        raise SystemExit(f"needs {', '.join(missing)} in {DATA} (the shared ground truth beside the clone)")


def shared_split(name: str) -> list[Path]:
    """The PAGE/ALTO files of ``SET/SPLIT`` of the shared data (``fondue-en-print-20/val``), in
    the split file's order; a set that is not there stops the script, saying where it looked."""
    dataset, _, split = name.partition("/")
    if not has_splits(DATA / dataset):
        raise SystemExit(f"{DATA / dataset} is missing: this needs ../shared/data beside the repository")
    return split_xmls(DATA / dataset, split)


# How lines are cut where a script lets one choose (packaging/default_model/: the val lines
# reading settings and language-model fusion are chosen on; benchmarks/few_page_finetune.py):
# "finder" as mspt cuts a page's lines, "polygon" along the ground truth's own outlines
# (``lines_from_page_xml``'s crop styles).
CHOICE_CROPS = ("finder", "polygon")


def split_lines(name: str, height: int, crop: str) -> LineSet:
    """Every line with text of ``SET/SPLIT`` of the shared data, cut ``crop``-style at ``height``."""
    return pages_lines(shared_split(name), height, crop)


def pages_lines(xmls: list[Path], height: int, crop: str = "polygon") -> LineSet:
    """Every line with text of these PAGE/ALTO files, in order, cut ``crop``-style at ``height``
    (``lines_from_page_xml``)."""
    from mspt_core.data.lines import LineSet, lines_from_page_xml

    lines = LineSet()
    for xml in xmls:
        lines.extend(lines_from_page_xml(xml, height, crop=crop))
    return lines


def shared_splits_by_set(names: list[str]) -> dict[str, list[Path]]:
    """The pages of each ``SET/SPLIT`` named, by set (for jobs that balance and score per set)."""
    xmls: dict[str, list[Path]] = {}
    for name in names:
        xmls.setdefault(name.partition("/")[0], []).extend(shared_split(name))
    return xmls


def train_settings(spec: dict, **fixed) -> TrainSettings:
    """The loop's settings of a recipe (or of one of its stages): its ``steps``, ``batch_size``,
    ``lr``, ``warmup`` and, where it gives one, ``ema_decay``, with ``fixed`` (seed, device, when
    to validate and checkpoint)."""
    given = {key: spec[key] for key in ("steps", "batch_size", "lr", "warmup", "ema_decay") if key in spec}
    return TrainSettings(**given, **fixed)


def recipe_pretraining(recipe: dict, device: str = "auto") -> tuple[list[str], PretrainSettings, TrainSettings]:
    """A recipe's pre-training stage (``recipe["pretrain"]``): the splits whose pages' lines it
    reads with the text thrown away (``shared_split`` names them), the method, and the loop's
    settings."""
    from mspt_core.pretrain import PretrainSettings

    spec = recipe["pretrain"]
    method = PretrainSettings(
        size=recipe["size"],
        features=spec["features"],
        clusters=spec["clusters"],
        unmasked_weight=spec["unmasked_weight"],
        p_start=spec["p_start"],
        p_end=spec["p_end"],
        max_width=spec["max_width"],
    )
    settings = train_settings(
        spec, checkpoint_every=spec["checkpoint_every"], val_every=spec["steps"], seed=recipe["seed"], device=device
    )
    return list(spec["splits"]), method, settings


def load_recipe(path: Path, overrides: list[str]) -> dict:
    """A training recipe's settings (its JSON less the ``_comment``-like keys), with ``KEY=VALUE``
    overrides from the command line (lists comma-separated; groups only in the file)."""
    recipe = {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in recipe:
            raise SystemExit(f"recipe has no setting {key!r}")
        if isinstance(recipe[key], dict):
            raise SystemExit(f"{key!r} is a group of settings: change it in the recipe file")
        recipe[key] = value.split(",") if isinstance(recipe[key], list) else type(recipe[key])(value)
    return recipe


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import torch

    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"

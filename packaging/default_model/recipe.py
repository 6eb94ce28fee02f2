"""Train the bundled default model: synthetic lines + the fondue-en-print-20 train split,
validated on its val split, every choice in recipe.json and a fixed seed.

    .venv/bin/python packaging/default_model/recipe.py --out runs/default-model [--threads 1]
    .venv/bin/python packaging/ship_model.py runs/default-model/best        # into resources/models

Needs the Debian fonts and corpora (`make fonts`) and ../shared/data. On a GPU, a larger model:
    .venv/bin/python packaging/default_model/recipe.py --out runs/gpu --device cuda \\
        --set size=base synthetic_lines=200000 steps=60000 batch_size=64
The run resumes from its last checkpoint when started again with the same --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mspt_core.cli.common import TrainingBar, set_threads  # noqa: E402
from mspt_core.data.lines import LineSample, LineSet, load_lines  # noqa: E402
from mspt_core.data.synth import Corpus, FontSet, LineSynthesizer  # noqa: E402
from mspt_core.train.loop import TrainSettings  # noqa: E402
from mspt_core.train.supervised import train_recognizer  # noqa: E402

from benchmarks.common import DATA, split_xmls  # noqa: E402  (the one reader of SPLIT.tsv)

RECIPE = Path(__file__).with_name("recipe.json")


def load_recipe(overrides: list[str]) -> dict:
    recipe = {k: v for k, v in json.loads(RECIPE.read_text()).items() if not k.startswith("_")}
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in recipe:
            raise SystemExit(f"recipe has no setting {key!r}")
        recipe[key] = value.split(",") if isinstance(recipe[key], list) else type(recipe[key])(value)
    return recipe


def synthetic_lines(recipe: dict) -> LineSet:
    """The same lines for the same seed: sample i depends only on the seed."""
    synth = LineSynthesizer(Corpus.installed(recipe["synthetic_languages"]),
                            FontSet.installed(None, recipe["font_categories"]),
                            recipe["height"], recipe["degradation_strength"])
    rng = np.random.default_rng(recipe["seed"])
    lines = LineSet()
    for i, line in enumerate(synth.samples(rng, recipe["synthetic_lines"])):
        lines.samples.append(LineSample(line.image, line.text, f"synthetic#{i} ({line.font}, {line.language})"))
    return lines


def real_lines(dataset_and_split: str, height: int) -> LineSet:
    dataset, split = dataset_and_split.split("/")
    if not (DATA / dataset / "SPLIT.tsv").is_file():
        raise SystemExit(f"{DATA / dataset} is missing: the recipe needs ../shared/data beside the repository")
    return load_lines(split_xmls(DATA / dataset, split), height)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, best model)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe.json")
    args = parser.parse_args()
    recipe = load_recipe(args.set)
    set_threads(args.threads)

    started = time.monotonic()
    synthetic = synthetic_lines(recipe)
    real = real_lines(recipe["real_train"], recipe["height"])
    val = real_lines(recipe["real_val"], recipe["height"])
    print(f"{len(synthetic)} synthetic lines rendered in {time.monotonic() - started:.0f} s; "
          f"{len(real)} real train lines (x{recipe['real_repeats']}), {len(val)} val lines")
    train_set = LineSet(synthetic.samples + real.samples * recipe["real_repeats"], real.skipped)

    settings = TrainSettings(steps=recipe["steps"], batch_size=recipe["batch_size"], lr=recipe["lr"],
                             warmup=recipe["warmup"], val_every=recipe["val_every"],
                             checkpoint_every=recipe["val_every"], seed=recipe["seed"], device=args.device)
    description = (f"{recipe['synthetic_lines']} synthetic lines ({', '.join(recipe['synthetic_languages'])}; "
                   f"fonts: {', '.join(recipe['font_categories'])}; seed {recipe['seed']}) + "
                   f"{recipe['real_train']} x{recipe['real_repeats']}; selected on {recipe['real_val']}; "
                   f"recipe packaging/default_model/recipe.json {json.dumps(recipe, sort_keys=True)}")
    outcome = train_recognizer(train_set, val, args.out, settings, size=recipe["size"], head=recipe["head"],
                               on_progress=TrainingBar(settings.steps), data_description=description)
    result = outcome.result
    print(f"{result.status} after {result.step} steps; best val CER {result.best_metric}; model in {outcome.model_path}")


if __name__ == "__main__":
    main()

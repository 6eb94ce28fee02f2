"""Train the bundled line finder on the train splits of every ground-truth set, selected on the
mean F1 over their val splits (never the test splits), every choice in recipe.json and a fixed
seed.

    .venv/bin/python packaging/line_finder/recipe.py --out runs/line-finder [--threads 2]
    cp runs/line-finder/line-finder.safetensors resources/layout/

The run resumes from its last checkpoint when started again with the same --out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import DATA  # noqa: E402
from mspt_core.cli.common import TrainingBar, set_threads  # noqa: E402
from mspt_core.data.splits import has_splits, split_xmls  # noqa: E402
from mspt_core.layout.linefinder import LineFinderConfig  # noqa: E402
from mspt_core.train.linefinder import train_line_finder  # noqa: E402
from mspt_core.train.loop import TrainSettings  # noqa: E402

RECIPE = Path(__file__).with_name("recipe.json")


def pages(parts: list[str]) -> dict[str, list[Path]]:
    """The pages of each "set/split" named, by set (the job balances and scores per set)."""
    xmls: dict[str, list[Path]] = {}
    for part in parts:
        dataset, split = part.split("/")
        if not has_splits(DATA / dataset):
            raise SystemExit(f"{DATA / dataset} is missing: the recipe needs ../shared/data beside the repository")
        xmls.setdefault(dataset, []).extend(split_xmls(DATA / dataset, split))
    return xmls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, the best line finder)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe.json")
    args = parser.parse_args()
    recipe = {k: v for k, v in json.loads(RECIPE.read_text()).items() if not k.startswith("_")}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in recipe or isinstance(recipe[key], list):
            raise SystemExit(f"cannot override {key!r}")
        recipe[key] = type(recipe[key])(value)
    set_threads(args.threads)
    settings = TrainSettings(
        steps=recipe["steps"],
        batch_size=recipe["batch_size"],
        lr=recipe["lr"],
        warmup=recipe["warmup"],
        weight_decay=recipe["weight_decay"],
        val_every=recipe["val_every"],
        checkpoint_every=recipe["val_every"],
        seed=recipe["seed"],
        device=args.device,
    )
    config = LineFinderConfig(
        widths=tuple(recipe["widths"]), train_side=recipe["train_side"], input_side=recipe["input_side"]
    )
    started = time.monotonic()
    result = train_line_finder(
        pages(recipe["train"]),
        pages(recipe["val"]),
        args.out / "line-finder.safetensors",
        args.out,
        settings,
        config,
        crop=recipe["crop"],
        on_progress=TrainingBar(settings.steps, metric="1-F1"),
    )
    print(
        f"{result.status} after {result.step} steps in {(time.monotonic() - started) / 60:.0f} min; "
        f"best val 1 - F1 (box IoU >= 0.5) {result.best_metric} at step {result.best_step}"
    )


if __name__ == "__main__":
    main()

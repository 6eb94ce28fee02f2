"""Train the bundled line finder on the train splits of every ground-truth set, selected on the
mean F1 over their val splits (never the test splits), every choice in recipe.json and a fixed
seed.

    .venv/bin/python packaging/line_finder/recipe.py --out ../runs/line-finder [--threads 1]
        [--recipe packaging/line_finder/round-2.json]
    cp ../runs/line-finder/line-finder.safetensors resources/layout/

The best file carries its provenance (the recipe, the pages, the step and the val F1 it was
kept at): the file to ship as it is.

A recipe with a "base" ({"file": path in the repository, "sha256": of that file}) trains a
further round from that line finder: at the first start the file is checked against the SHA-256
and copied into the run folder (so the run still resumes after the bundled finder has been
replaced); the base's own val F1 is the first candidate for the best file.

A recipe may also give "line_centred" (the share of crops centred on a line drawn with every
line alike) and "partial" (the training sets whose ground truth leaves lines out, where the loss
counts only near the lines it gives, and validation does not count a found line farther than a
line height from them).

The run resumes from its last checkpoint when started again with the same --out (and the same
"line_centred" and "partial": with others it is refused).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import judged_near, load_recipe, shared_splits_by_set, train_settings  # noqa: E402
from mspt_core.cli.common import TrainingBar, set_threads  # noqa: E402
from mspt_core.layout.linefinder import LineFinder, LineFinderConfig, load_line_finder  # noqa: E402
from mspt_core.train.linefinder import train_line_finder  # noqa: E402

RECIPE = Path(__file__).with_name("recipe.json")
BASE = "base.safetensors"  # the copy of a recipe's base line finder inside the run folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def base_finder(recipe: dict, out: Path) -> LineFinder | None:
    """The line finder a recipe with a "base" trains on from (its copy in the run folder, made
    at the first start from the file the recipe names, checked against its SHA-256)."""
    if "base" not in recipe:
        return None
    copy, wanted = out / BASE, recipe["base"]["sha256"]
    if not copy.is_file():
        source = REPO / recipe["base"]["file"]
        if not source.is_file() or sha256(source) != wanted:
            raise SystemExit(
                f"{source} is not the base this recipe names (SHA-256 {wanted}); "
                "check out the commit named in the recipe's comment to train it again"
            )
        out.mkdir(parents=True, exist_ok=True)
        partial = out / f"{BASE}.partial"
        shutil.copyfile(source, partial)
        partial.rename(copy)
    elif sha256(copy) != wanted:  # a run folder of another recipe
        raise SystemExit(f"{copy} is not the base this recipe names (SHA-256 {wanted}): use another --out")
    return load_line_finder(copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, the best line finder)")
    parser.add_argument("--recipe", type=Path, default=RECIPE, help="recipe file (default: recipe.json here)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe.json")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe, args.set)
    set_threads(args.threads)
    settings = train_settings(
        recipe,
        weight_decay=recipe["weight_decay"],
        val_every=recipe["val_every"],
        checkpoint_every=recipe["val_every"],
        seed=recipe["seed"],
        device=args.device,
    )
    config = LineFinderConfig(
        widths=tuple(recipe["widths"]), train_side=recipe["train_side"], input_side=recipe["input_side"]
    )
    base = base_finder(recipe, args.out)
    started = time.monotonic()
    train, val = shared_splits_by_set(recipe["train"]), shared_splits_by_set(recipe["val"])
    result = train_line_finder(
        train,
        val,
        args.out / "line-finder.safetensors",
        args.out,
        settings,
        config,
        crop=recipe["crop"],
        on_progress=TrainingBar(settings.steps, metric="1-F1"),
        base=base,
        line_centred=recipe.get("line_centred", 0.0),
        partial=recipe.get("partial", []),
        provenance={  # the file to ship says what made it
            "made_by": "packaging/line_finder/recipe.py",
            "recipe": recipe,
            "trained_on": f"{', '.join(recipe['train'])} ({sum(map(len, train.values()))} pages)",
            "selected_on": f"mean box F1 (val_f1_box) over {len(val)} val splits ({sum(map(len, val.values()))} pages)"
            + judged_near(recipe.get("partial", [])),
        },
    )
    print(
        f"{result.status} after {result.step} steps in {(time.monotonic() - started) / 60:.0f} min; "
        f"best val 1 - F1 (box IoU >= 0.5) {result.best_metric} at step {result.best_step}"
    )


if __name__ == "__main__":
    main()

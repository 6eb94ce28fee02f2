"""Fit the bundled line-kind classifier (``mspt_core.layout.kinds``) on the ground-truth lines of
the train splits of every set and on the lines our segmentation finds there, choose its size and
penalty on their val splits (never the test splits), every choice in recipe.json and a fixed
seed. It takes a few CPU minutes (segmenting the pages).

    .venv/bin/python packaging/line_kinds/recipe.py --out resources/layout/line-kinds.safetensors

The file carries its provenance (the recipe, the pages, the val scores it was kept at).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import load_recipe, shared_split  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.formats import read_document  # noqa: E402
from mspt_core.images import load_grey  # noqa: E402
from mspt_core.layout import segment  # noqa: E402
from mspt_core.layout.evaluate import Match  # noqa: E402
from mspt_core.layout.kinds import (  # noqa: E402
    LINE_KINDS,
    ZONE_KINDS,
    fit_kinds,
    found_examples,
    kind_scores,
    page_examples,
    save_kinds,
)

RECIPE = Path(__file__).with_name("recipe.json")


def examples(parts: list[str]) -> tuple[dict[str, tuple[np.ndarray, ...]], int]:
    """Features, line-kind and zone classes of the lines of the pages of the "set/split"s named,
    by geometry: the ground truth's own lines ("ground truth") and the lines our segmentation
    finds on the same pages, labelled from the ground-truth lines they pair with ("found")."""
    pages = [read_document(xml) for part in parts for xml in shared_split(part)]
    pages = [page for page in pages if any(True for _ in page.lines())]
    rows: dict[str, list] = {"ground truth": [], "found": []}
    for page in pages:
        rows["ground truth"].append(page_examples(page))
        grey = load_grey(page.image_path)
        rows["found"].append(found_examples(page, segment(grey, method="learned", kinds=False, orientation=False)))
    return {k: tuple(np.concatenate(c) for c in zip(*v, strict=True)) for k, v in rows.items()}, len(pages)


def joined(parts: dict[str, tuple[np.ndarray, ...]], geometries: list[str]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate(c) for c in zip(*(parts[g] for g in geometries), strict=True))


def scores(classifier, features, kinds, zones) -> dict[str, Match]:
    line_pred, zone_pred = classifier.predict(features)
    return kind_scores(line_pred, kinds, LINE_KINDS) | kind_scores(zone_pred, zones, ZONE_KINDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the classifier file to write")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe.json")
    args = parser.parse_args()
    recipe = load_recipe(RECIPE, args.set)
    set_threads(1)  # full-batch L-BFGS on a few thousand lines: deterministic on one thread
    train_parts, train_pages = examples(recipe["train"])
    val_parts, val_pages = examples(recipe["val"])
    val = val_parts[recipe["val_geometry"]]
    print(f"{train_pages} train pages, {val_pages} val pages ({len(val[0])} {recipe['val_geometry']} lines)")
    best = None
    for geometries in recipe["train_geometry"]:
        train = joined(train_parts, geometries)
        for hidden in recipe["hidden"]:
            for l2 in recipe["l2"]:
                fitted = fit_kinds(
                    *train, hidden=hidden, l2=l2, class_weight_power=recipe["class_weight_power"], seed=recipe["seed"]
                )
                val_scores = scores(fitted, *val)
                mean_f1 = float(np.mean([s.f1 for s in val_scores.values()]))
                print(
                    f"{' + '.join(geometries):<20} hidden {hidden:3d}  l2 {l2:<6}  val mean F1 {mean_f1:.3f}  "
                    + "  ".join(f"{k} {s.f1:.2f}" for k, s in val_scores.items())
                )
                if best is None or mean_f1 > best[0]:
                    best = (mean_f1, geometries, hidden, l2, fitted, val_scores, len(train[0]))
    mean_f1, geometries, hidden, l2, classifier, val_scores, train_lines = best
    told = {name for name, s in val_scores.items() if s.f1 >= recipe["min_val_f1"]}
    classifier.line_kinds = tuple(k for i, k in enumerate(LINE_KINDS) if i == 0 or k in told)
    classifier.zone_kinds = tuple(k for i, k in enumerate(ZONE_KINDS) if i == 0 or k in told)
    classifier.metadata = {
        "made_by": "packaging/line_kinds/recipe.py",
        "recipe": recipe,
        "trained_on": f"{', '.join(recipe['train'])} ({train_pages} pages, {train_lines} lines: "
        f"{' + '.join(geometries)})",
        "selected_on": f"mean F1 of the non-default kinds over {len(recipe['val'])} val splits "
        f"({len(val[0])} lines, {recipe['val_geometry']})",
        "chosen": {"train_geometry": geometries, "hidden": hidden, "l2": l2},
        "val_scores": {
            name: {"lines": s.ground_truth, "said": s.found, "right": s.matched, "f1": round(s.f1, 4)}
            for name, s in val_scores.items()
        },
    }
    save_kinds(args.out, classifier)
    off = sorted(set(val_scores) - told)
    print(
        f"kept {' + '.join(geometries)}, hidden {hidden}, l2 {l2} (val mean F1 {mean_f1:.3f}); "
        f"switched off (val F1 < {recipe['min_val_f1']}): {', '.join(off) or 'none'}"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

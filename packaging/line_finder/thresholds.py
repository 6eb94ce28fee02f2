"""Choose a trained line finder's core threshold on the val pages its recipe selects on (never
the test pages), and write the finder again with it: the threshold that cuts the network's core
map into lines was fixed at 0.5 by hand, and the best cut depends on how sure the network is.

    .venv/bin/python packaging/line_finder/thresholds.py --finder ../runs/line-finder/line-finder.safetensors \\
        --out resources/layout/line-finder.safetensors [--recipe packaging/line_finder/round-2.json] [--threads 1]

The network runs once per page; each threshold redoes only the step from maps to lines (about
10 s a threshold for the 53 val pages on one thread, after one pass of the network of about
40 s: 2 minutes in all). The file written says what was tried and chosen in
its provenance (``core_threshold``); its weights are the finder's as they were.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import load_recipe, shared_splits_by_set  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.layout.linefinder import load_line_finder, save_line_finder  # noqa: E402
from mspt_core.train.linefinder import choose_core_threshold  # noqa: E402

CANDIDATES = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finder", type=Path, required=True, help="the trained line finder")
    parser.add_argument("--out", type=Path, required=True, help="where to write it with the chosen threshold")
    parser.add_argument("--recipe", type=Path, default=Path(__file__).with_name("recipe.json"), help="its val pages")
    parser.add_argument("--candidates", type=float, nargs="+", default=CANDIDATES, metavar="T")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    args = parser.parse_args()
    set_threads(args.threads)
    recipe = load_recipe(args.recipe, [])
    finder = load_line_finder(args.finder)
    val = shared_splits_by_set(recipe["val"])
    best, scores = choose_core_threshold(finder, val, args.candidates)
    for threshold, f1 in scores.items():
        mark = (
            " <- chosen"
            if threshold == best
            else (" (the finder's own)" if threshold == finder.config.core_threshold else "")
        )
        print(f"core threshold {threshold:.2f}: mean val box F1 {f1:.4f}{mark}")
    provenance = dict(finder.metadata.get("provenance", {}))
    pages = sum(map(len, val.values()))
    provenance["core_threshold"] = {
        "chosen": best,
        "mean_val_f1_box": {f"{t:g}": round(f1, 4) for t, f1 in scores.items()},
        "selected_on": f"mean box F1 over {len(val)} val splits ({pages} pages) of {args.recipe.name}",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_line_finder(args.out, finder.net, replace(finder.config, core_threshold=best), provenance)
    print(f"wrote {args.out} (core threshold {best:g})")


if __name__ == "__main__":
    main()

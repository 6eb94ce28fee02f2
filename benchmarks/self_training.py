"""Self-training on pages nobody corrected (``mspt adapt``; issue 20).

For each unit of a split (``--by document``: a set's sub-folder, one hand or one book; ``--by
set``: every page of the set's split, a collection), the base model reads every line of its
pages (polygon crops of the ground truth's lines, their text thrown away), learns from the
surest ``--share`` of its own readings with the self-training preset, exactly as ``mspt adapt``
does (``mspt_core.train.self_training``), and reads the same lines again. Printed per unit: line
CER before and after for each share, the lines learned from, CPU minutes. The ground truth is
used only to score; no choice is made on test (the share was chosen on val documents).

    .venv/bin/python benchmarks/self_training.py --split val --share 0.3 0.5 0.8
    .venv/bin/python benchmarks/self_training.py --split test                     # RESULTS.md
    .venv/bin/python benchmarks/self_training.py --split test --by set --sets cremma-mss-19-handwritten-fr

Both readings use PyTorch (not ONNX Runtime, which ``mspt adapt`` reads with on a CPU, in int8
for the bundled models: its surest lines may differ by a few), with the model's language model
and reading settings, so before and after differ only in the weights. The lines scored are all
the unit's lines, those learned from included: what a person adapting to pages reads next.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from common import DATA, HANDWRITTEN, machine, pages_lines, split_xmls
from few_page_finetune import documents

from mspt_core.train.self_training import MEASURED_FROM_LINES


def units(split: str, sets: list[str], by: str, min_lines: int, height: int) -> list[tuple[str, object]]:
    """(name, LineSet) for each document or set of ``split`` with at least ``min_lines`` lines."""
    found = []
    if by == "set":
        for dataset in sets:
            found.append((dataset, pages_lines(split_xmls(DATA / dataset, split), height)))
    else:
        for document in documents(split, sets, 1):
            found.append((f"{document.dataset} {document.name}", pages_lines(document.pages, height)))
    return [(name, lines) for name, lines in found if len(lines) >= min_lines]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["val", "test"], default="test")
    parser.add_argument("--by", choices=["document", "set"], default="document")
    parser.add_argument("--sets", nargs="+", default=list(HANDWRITTEN))
    parser.add_argument("--base", default="handwriting", help="the model adapted (default handwriting)")
    parser.add_argument(
        "--share", nargs="+", type=float, default=None, help="shares learned from (default: the preset's)"
    )
    parser.add_argument(
        "--min-lines",
        type=int,
        default=MEASURED_FROM_LINES,
        help=f"skip units with fewer lines (default {MEASURED_FROM_LINES}: below it mspt warns)",
    )
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from mspt_core.cli.common import set_threads
    from mspt_core.metrics import cer
    from mspt_core.models import read_metadata, resolve
    from mspt_core.presets import SELF_TRAINING, SUREST_SHARE, training_preset
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.self_training import self_train, surest
    from mspt_core.train.supervised import lines_cer

    set_threads(args.threads)
    shares = args.share or [SUREST_SHARE]
    base = resolve(args.base)
    height = read_metadata(base)["line_height"]
    reader = LineRecognizer.from_model(str(base), device="cpu", engine="torch")
    settings = training_preset(SELF_TRAINING).settings(device="cpu", **({"steps": args.steps} if args.steps else {}))
    print(f"# self-training, {args.split} split by {args.by}, base {base}; {machine()}")
    print(f"# {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    head = " | ".join(f"after, share {s:g} | learned from | CPU min" for s in shares)
    print(f"| unit | lines | before | {head} |")
    print("|---|---|---|" + "---|---|---|" * len(shares))
    totals = {"lines": 0, "before": 0.0, **{s: 0.0 for s in shares}}
    for name, lines in units(args.split, args.sets, args.by, args.min_lines, height):
        readings = reader.read(lines.images)
        before = cer(lines.texts, [r.text for r in readings])
        cells = []
        for share in shares:
            kept = surest(lines, readings, share)
            cpu = time.process_time()
            with tempfile.TemporaryDirectory() as work:
                outcome = self_train(kept, base, Path(work), resume=False, data_description=name, settings=settings)
                after = lines_cer(
                    LineRecognizer.from_model(str(outcome.model_path), device="cpu", engine="torch"), lines
                )
            cells.append(f"{after:.2%} | {len(kept)} | {(time.process_time() - cpu) / 60:.1f}")
            totals[share] += after * len(lines)
        totals["lines"] += len(lines)
        totals["before"] += before * len(lines)
        print(f"| {name} | {len(lines)} | {before:.2%} | " + " | ".join(cells) + " |", flush=True)
    n = max(totals["lines"], 1)
    after_cells = " | ".join(f"{totals[s] / n:.2%} | | " for s in shares)
    print(f"| **weighted by lines** | {totals['lines']} | {totals['before'] / n:.2%} | {after_cells}|")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where ``layout.faint`` should cut: every line the bundled line finder finds (with nothing left
out as faint), its darkness as a share of its page's median line's, by what it is against the
ground truth: matched to a ground-truth line (box IoU >= 0.5), found where the ground truth has
no line, or another unmatched line (over a line found or missed; ``evaluate.found_line_kinds``).
Then, for a few shares, how many of each a cut there would leave out. Choose on train and val;
the sets transcribed in part are judged only near their given lines, as the segmentation
benchmark judges them.

    .venv/bin/python benchmarks/faint_lines.py --split train val
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections import Counter

import numpy as np
from common import DATA, HANDWRITTEN, PARTIAL_GROUND_TRUTH, PRINTED, machine, split_xmls

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import found_line_kinds, judged
from mspt_core.layout.faint import FAINT_SHARE, darkness_shares
from mspt_core.layout.segment import segment

SHARES = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
KINDS = {"": "matched", "where no line is": "where no line is"}  # the rest: "other unmatched"


def found_shares(name: str, split: str) -> list[tuple[str, float]]:
    """(what the line is, its darkness share) for every measured line found on the split's pages."""
    rows = []
    for xml in split_xmls(DATA / name, split):
        truth = read_document(xml)
        grey = load_grey(truth.image_path)
        given = [line.polygon for line in truth.lines() if len(line.polygon) >= 3]
        found = list(segment(grey, method="learned", faint=False).lines())
        # shares against every line found, as segment() measures them; judged where the truth speaks
        share_of = dict(zip(map(id, found), darkness_shares(grey, [line.polygon for line in found]), strict=True))
        if name in PARTIAL_GROUND_TRUTH:
            found = judged(given, found, outline=lambda line: line.polygon)
        kinds = found_line_kinds(given, [line.polygon for line in found], grey.shape)
        for kind, line in zip(kinds, found, strict=True):
            if share_of[id(line)] is not None:
                rows.append((KINDS.get(kind, "other unmatched"), share_of[id(line)]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", nargs="+", choices=["train", "val", "test"], default=["train", "val"])
    parser.add_argument("--sets", nargs="+", default=[*PRINTED, *HANDWRITTEN], metavar="SET")
    args = parser.parse_args()
    print(f"# Faint lines, {' + '.join(args.split)} splits, {dt.date.today()}; {machine()}")
    rows: list[tuple[str, str, float]] = []
    for name in args.sets:
        for split in args.split:
            rows += [(name, kind, share) for kind, share in found_shares(name, split)]
        print(f"{name}: {sum(1 for r in rows if r[0] == name)} lines measured", flush=True)
    totals = Counter(kind for _, kind, _ in rows)
    columns = ("matched", "where no line is", "other unmatched")
    print(
        "\n| share of the page's median line | " + " | ".join(f"{k} left out (of {totals[k]})" for k in columns) + " |"
    )
    print("|---|" + "---|" * len(columns))
    for cut in SHARES:
        mark = " (layout.faint)" if cut == FAINT_SHARE else ""
        counts = Counter(kind for _, kind, share in rows if share < cut)
        print(f"| {cut:g}{mark} | " + " | ".join(str(counts[k]) for k in columns) + " |")
    matched = [share for _, kind, share in rows if kind == "matched"]
    if matched:
        print(f"\nthe faintest matched line: {min(matched):.2f} of its page's median line")
    print(f"\nleft out at {FAINT_SHARE:g}, by set:")
    for name in args.sets:
        counts = Counter(kind for set_name, kind, share in rows if set_name == name and share < FAINT_SHARE)
        if counts:
            print(f"- {name}: " + ", ".join(f"{counts[k]} {k}" for k in columns if counts[k]))
    print(f"\nmedian share of the matched lines: {np.median(matched):.2f}" if matched else "")


if __name__ == "__main__":
    main()

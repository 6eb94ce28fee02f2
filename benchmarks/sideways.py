"""Text written sideways: what the segmenter's sideways search finds, what it costs, and pages
scanned sideways.

Usage: python benchmarks/sideways.py [--split test|val] [--sets SET ...] [--no-turned]

Two tables, one thread, the bundled line finder:

1. Each set's pages as they are, segmented without and with the sideways search
   (``segment(..., sideways=False/True)``): the ground truth's sideways lines (baselines running
   down or up the page), the sideways lines found and how many of them match one (box IoU >= 0.5),
   box F1 over all lines both ways, and seconds per page both ways.
2. Pages scanned sideways: every page of the printed and typewritten sets turned a quarter each
   way, its ground truth turned with it: box F1 and the share of found lines that run the right
   way (down the page for a page turned clockwise, up it for one turned anticlockwise).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import torch
from common import DATA, HANDWRITTEN, PRINTED, machine, split_xmls

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import Match, match_lines
from mspt_core.layout.segment import segment
from mspt_core.layout.turn import DOWNWARD, UPRIGHT, UPWARD, line_turn, turned_line

TURNS = {"anticlockwise": (1, UPWARD), "clockwise": (3, DOWNWARD)}  # np.rot90's k, the turn its lines need


def timed_segment(grey: np.ndarray, sideways: bool):
    started = time.perf_counter()
    lines = list(segment(grey, sideways=sideways).lines())
    return lines, time.perf_counter() - started


def as_found(name: str, split: str) -> str:
    pages = [read_document(x) for x in split_xmls(DATA / name, split)]
    truth_side = found_side = matched_side = 0
    without, with_ = Match(0, 0, 0), Match(0, 0, 0)
    seconds = [0.0, 0.0]
    for page in pages:
        grey = load_grey(page.image_path)
        truth = [ln for ln in page.lines() if len(ln.polygon) >= 3]
        upright, seconds_0 = timed_segment(grey, sideways=False)
        found, seconds_1 = timed_segment(grey, sideways=True)
        seconds[0] += seconds_0
        seconds[1] += seconds_1
        without += match_lines([ln.polygon for ln in truth], [ln.polygon for ln in upright], grey.shape)
        with_ += match_lines([ln.polygon for ln in truth], [ln.polygon for ln in found], grey.shape)
        sideways_truth = [ln.polygon for ln in truth if line_turn(ln) != UPRIGHT]
        sideways_found = [ln.polygon for ln in found if line_turn(ln) != UPRIGHT]
        side = match_lines(sideways_truth, sideways_found, grey.shape)
        truth_side += side.ground_truth
        found_side += side.found
        matched_side += side.matched
    n = max(len(pages), 1)
    return (
        f"| {name} | {len(pages)} | {truth_side} | {found_side} | {matched_side} | {without.f1:.3f} | "
        f"{with_.f1:.3f} | {seconds[0] / n:.2f} | {seconds[1] / n:.2f} |"
    )


def turned_pages(name: str, split: str) -> list[str]:
    rows = []
    pages = [read_document(x) for x in split_xmls(DATA / name, split)]
    for label, (k, turn) in TURNS.items():
        match, right, total, seconds = Match(0, 0, 0), 0, 0, 0.0
        for page in pages:
            grey = load_grey(page.image_path)
            truth = [turned_line(ln, k, grey.shape).polygon for ln in page.lines() if len(ln.polygon) >= 3]
            found, took = timed_segment(np.ascontiguousarray(np.rot90(grey, k)), sideways=True)
            seconds += took
            match += match_lines(truth, [ln.polygon for ln in found], (grey.shape[1], grey.shape[0]))
            right += sum(line_turn(ln) == turn for ln in found)
            total += len(found)
        rows.append(
            f"| {name} | {label} | {len(pages)} | {match.ground_truth} | {match.found} | {match.precision:.3f} | "
            f"{match.recall:.3f} | {match.f1:.3f} | {right / max(total, 1):.1%} | {seconds / max(len(pages), 1):.2f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    every = [*PRINTED, *HANDWRITTEN]
    parser.add_argument("--sets", nargs="+", default=every, choices=every, metavar="SET")
    parser.add_argument("--no-turned", action="store_true", help="skip the pages turned a quarter")
    args = parser.parse_args()
    missing = [name for name in args.sets if not (DATA / name).exists()]
    if missing:
        raise SystemExit(f"needs {', '.join(missing)} in {DATA} (the shared ground truth beside the clone)")
    torch.set_num_threads(1)
    print(f"{dt.date.today()}  split={args.split}  {machine()}  one thread\n")
    print("Pages as they are, without / with the sideways search:\n")
    print(
        "| set | pages | GT sideways lines | sideways lines found | matched | F1 box without | F1 box with "
        "| s/page without | s/page with |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        print(as_found(name, args.split), flush=True)
    if args.no_turned:
        return
    print("\nPages scanned sideways (every page turned a quarter, its ground truth with it):\n")
    print("| set | page turned | pages | GT lines | found | precision | recall | F1 box | the right way | s/page |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        if name in PRINTED:
            for row in turned_pages(name, args.split):
                print(row, flush=True)


if __name__ == "__main__":
    main()

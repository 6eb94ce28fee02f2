"""Text written sideways: what the segmenter's sideways search finds and what it costs.

Usage: python benchmarks/sideways.py [--split test|val] [--sets SET ...]

One table, one thread, the bundled line finder: each set's pages as they are, segmented without
and with the sideways search (``segment(..., sideways=False/True)``): the ground truth's sideways
lines (baselines running down or up the page), the sideways lines found and how many of them
match one (box IoU >= 0.5), box F1 over all lines both ways, and seconds per page both ways.
Pages scanned sideways or upside down as a whole: ``benchmarks/orientation.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import torch
from common import DATA, machine, page_set_arguments, require_sets, split_xmls

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import Match, match_lines
from mspt_core.layout.segment import segment
from mspt_core.layout.turn import DOWNWARD, UPWARD, line_turn


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
        sideways_truth = [ln.polygon for ln in truth if line_turn(ln) in (DOWNWARD, UPWARD)]
        sideways_found = [ln.polygon for ln in found if line_turn(ln) in (DOWNWARD, UPWARD)]
        side = match_lines(sideways_truth, sideways_found, grey.shape)
        truth_side += side.ground_truth
        found_side += side.found
        matched_side += side.matched
    n = max(len(pages), 1)
    return (
        f"| {name} | {len(pages)} | {truth_side} | {found_side} | {matched_side} | {without.f1:.3f} | "
        f"{with_.f1:.3f} | {seconds[0] / n:.2f} | {seconds[1] / n:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_set_arguments(parser)
    args = parser.parse_args()
    require_sets(args.sets)
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


if __name__ == "__main__":
    main()

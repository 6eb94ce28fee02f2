"""Pages scanned sideways or upside down: is the way up told, and are the lines found?

Usage: python benchmarks/orientation.py [--split test|val] [--sets SET ...] [--turns 0 90 180 270]

Every page of each set's split is turned as a scanner might have fed it (np.rot90 by 0, 90, 180
and 270 degrees anticlockwise), its ground truth turned with it, and segmented as mspt segments
any page (``layout.segment``: the line finder, the sideways search, the page's way up from
``layout.orient``). For each set and turn it prints:

- **told**: pages whose way up mspt told (``metadata["page_turn"]`` rights the page), beside
  Tesseract's orientation detection (``tesseract --psm 0``, osd.traineddata, one process per
  page, ``OMP_THREAD_LIMIT=1``; a page it finds too little text on counts as upright);
- precision, recall and F1 of the lines found, at box IoU >= 0.5, against the turned ground truth;
- **the right way**: the share of found lines whose baseline runs in the text's reading
  direction on the turned page (so their crops come out upright);
- seconds per page: mspt's whole segmentation, and Tesseract's orientation detection alone.

One thread. Figures go in benchmarks/RESULTS.md with the command, date and machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import DATA, machine, page_set_arguments, require_sets, split_xmls

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import Match, match_lines
from mspt_core.layout.segment import segment
from mspt_core.layout.turn import line_turn, turned_line

TURNS = (0, 90, 180, 270)  # degrees anticlockwise the page is turned before it is segmented


def tesseract_turn(grey: np.ndarray, folder: Path) -> tuple[int, float]:
    """np.rot90's k Tesseract says the page was turned by (its "Rotate" / 90; 0 where it finds
    too little text to say), and the seconds it took."""
    path = folder / "page.png"
    cv2.imwrite(str(path), grey)
    started = time.perf_counter()
    done = subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        check=False,
    )
    took = time.perf_counter() - started
    said = re.search(r"Rotate: (\d+)", done.stdout)
    return (int(said.group(1)) // 90 % 4 if said else 0), took


def turned_rows(name: str, split: str, turns: list[int], folder: Path) -> list[tuple[str, dict]]:
    pages = [read_document(x) for x in split_xmls(DATA / name, split)]
    rows = []
    for degrees in turns:
        k = degrees // 90
        righting = (4 - k) % 4  # np.rot90's k that rights the turned page, and its lines' turn
        tally = dict(pages=0, ours=0, theirs=0, right_way=0, lines=0, seconds=0.0, osd_seconds=0.0)
        match = Match(0, 0, 0)
        for page in pages:
            grey = load_grey(page.image_path)
            turned = np.ascontiguousarray(np.rot90(grey, k))
            truth = [turned_line(ln, k, grey.shape).polygon for ln in page.lines() if len(ln.polygon) >= 3]
            started = time.perf_counter()
            found = segment(turned)
            tally["seconds"] += time.perf_counter() - started
            lines = list(found.lines())
            match += match_lines(truth, [ln.polygon for ln in lines], turned.shape)
            tally["ours"] += int(found.metadata.get("page_turn", "0")) // 90 == righting
            theirs, took = tesseract_turn(turned, folder)
            tally["theirs"] += theirs == k
            tally["osd_seconds"] += took
            tally["right_way"] += sum(line_turn(ln) == righting for ln in lines)
            tally["lines"] += len(lines)
            tally["pages"] += 1
        tally["match"] = match
        rows.append((f"{degrees}°", tally))
    return rows


def row_text(name: str, turn: str, t: dict) -> str:
    n = max(t["pages"], 1)
    m = t["match"]
    return (
        f"| {name} | {turn} | {t['pages']} | {t['ours']}/{t['pages']} | {t['theirs']}/{t['pages']} | "
        f"{m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} | {t['right_way'] / max(t['lines'], 1):.1%} | "
        f"{t['seconds'] / n:.2f} | {t['osd_seconds'] / n:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_set_arguments(parser)
    parser.add_argument("--turns", nargs="+", type=int, default=list(TURNS), choices=TURNS)
    args = parser.parse_args()
    require_sets(args.sets)
    torch.set_num_threads(1)
    print(f"{dt.date.today()}  split={args.split}  {machine()}  one thread\n")
    print(
        "| set | page turned | pages | told: mspt | told: Tesseract OSD | precision | recall | F1 box "
        "| the right way | s/page mspt | s/page Tesseract OSD |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.sets:
            for turn, tally in turned_rows(name, args.split, args.turns, Path(folder)):
                print(row_text(name, turn, tally), flush=True)
                total = totals.setdefault(
                    turn,
                    dict(
                        pages=0,
                        ours=0,
                        theirs=0,
                        right_way=0,
                        lines=0,
                        seconds=0.0,
                        osd_seconds=0.0,
                        match=Match(0, 0, 0),
                    ),
                )
                for key, value in tally.items():
                    total[key] = total[key] + value
    print("\nAll pages together:\n")
    print(
        "| page turned | pages | told: mspt | told: Tesseract OSD | F1 box | the right way | s/page mspt | s/page OSD |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for turn, t in totals.items():
        n = max(t["pages"], 1)
        print(
            f"| {turn} | {t['pages']} | {t['ours'] / n:.1%} | {t['theirs'] / n:.1%} | {t['match'].f1:.3f} | "
            f"{t['right_way'] / max(t['lines'], 1):.1%} | {t['seconds'] / n:.2f} | {t['osd_seconds'] / n:.2f} |"
        )


if __name__ == "__main__":
    main()

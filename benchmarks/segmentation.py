"""Line detection of ``mspt_core.layout.segment`` against ALTO ground truth.

A ground-truth line counts as found when a detected line's polygon overlaps it with IoU >= 0.5
(one-to-one, greedy by IoU). Prints precision / recall / F1 per data set and seconds per page.

    .venv/bin/python benchmarks/segmentation.py --split test
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import cv2
from common import CREMMA, FONDUE, split_xmls

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.segment import segment
from tests.core.layout.gt import match_lines


def evaluate(dataset: Path, split: str, verbose: bool = False) -> dict:
    tp = n_gt = n_det = 0
    seconds = 0.0
    xmls = split_xmls(dataset, split)
    for xml in xmls:
        gt = read_document(xml)
        grey = load_grey(gt.image_path)
        start = time.perf_counter()
        found = segment(grey)
        seconds += time.perf_counter() - start
        g = [l.polygon for l in gt.lines() if len(l.polygon) >= 3]
        d = [l.polygon for l in found.lines()]
        m = match_lines(g, d, grey.shape)
        tp, n_gt, n_det = tp + m, n_gt + len(g), n_det + len(d)
        if verbose:
            print(f"  {xml.name}: gt {len(g)} found {len(d)} matched {m} skew {found.metadata['skew_degrees']}")
    p = tp / n_det if n_det else 0.0
    r = tp / n_gt if n_gt else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"pages": len(xmls), "gt": n_gt, "found": n_det, "matched": tp, "precision": p,
            "recall": r, "f1": f, "s_per_page": seconds / max(len(xmls), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    print(f"split={args.split}  machine={platform.machine()} {os.cpu_count()} CPUs  "
          f"python={platform.python_version()} opencv={cv2.__version__}")
    print("| set | pages | GT lines | found | matched | precision | recall | F1 | s/page |")
    print("|---|---|---|---|---|---|---|---|---|")
    for dataset in (FONDUE, CREMMA):
        res = evaluate(dataset, args.split, args.verbose)
        print(f"| {dataset.name} | {res['pages']} | {res['gt']} | {res['found']} | {res['matched']} | "
              f"{res['precision']:.3f} | {res['recall']:.3f} | {res['f1']:.3f} | {res['s_per_page']:.2f} |")


if __name__ == "__main__":
    main()

"""Line finding when the text is much smaller or larger than on the pages the finder learned from.

The line finder reads a page scaled to its input side (1,600 px) and was trained on pages whose
letters are then 7-31 px high. A page breaks that when its text is small for its size (a large
register or newspaper, a letter photographed on a table, a scan with wide margins) or large (a
crop of a few lines, a label). This script makes both from each set's pages, with the ground
truth carried along, and scores line finding as ``segmentation.py`` does (box IoU >= 0.5):

- ``as scanned``: the page itself;
- ``text x1/2``, ``x1/3``, ``x1/4``: the page shrunk by that factor into the middle of a canvas
  of its own size, filled with its paper colour;
- ``few lines``: a strip of four whole lines from the middle of the page, cut at their
  polygons' top and bottom (a neighbour's ascenders or descenders inside it, found as a line,
  count as a false line).

Rows: mspt learned (the bundled finder, or ``--finder``), mspt classical, Tesseract (each set's
languages, on the same images written to PNG). Then the mean F1 over the sets per variant.

    .venv/bin/python benchmarks/text_size.py --split test
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import tesseract
import torch
from common import DATA, HANDWRITTEN, PRINTED, machine, page_set_arguments, split_xmls

from mspt_core.document import box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import Match, match_lines
from mspt_core.layout.linefinder import bundled_path, load_line_finder
from mspt_core.layout.segment import segment

SETS = {**PRINTED, **HANDWRITTEN}
Polygon = list[tuple[float, float]]
Variant = Callable[[np.ndarray, list[Polygon]], tuple[np.ndarray, list[Polygon]]]
BAND_LINES = 4


def shrunk(factor: float) -> Variant:
    def make(grey: np.ndarray, lines: list[Polygon]):
        h, w = grey.shape
        small = cv2.resize(grey, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        paper = int(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
        out = np.full_like(grey, paper)
        y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        out[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        return out, [[(x * factor + x0, y * factor + y0) for x, y in line] for line in lines]

    return make


def few_lines(grey: np.ndarray, lines: list[Polygon]):
    """Four whole lines from the middle of the page (by their tops), the image cut to them."""
    if not lines:
        return grey, []
    spans = sorted((min(y for _, y in line), max(y for _, y in line)) for line in lines)
    first = max(0, len(spans) // 2 - BAND_LINES // 2)
    chosen = spans[first : first + BAND_LINES]
    top, bottom = chosen[0][0], max(b for _, b in chosen)
    y0, y1 = max(0, int(top)), min(grey.shape[0], int(np.ceil(bottom)) + 1)
    inside = [line for line in lines if min(y for _, y in line) >= top and max(y for _, y in line) <= bottom]
    kept = [[(x, y - y0) for x, y in line] for line in inside]
    return grey[y0:y1], kept


VARIANTS: dict[str, Variant] = {
    "as scanned": lambda grey, lines: (grey, lines),
    "text x1/2": shrunk(1 / 2),
    "text x1/3": shrunk(1 / 3),
    "text x1/4": shrunk(1 / 4),
    "few lines": few_lines,
}


def evaluate(name: str, xmls: list[Path], methods: list[str], finder) -> dict[str, dict[str, Match]]:
    """method -> variant -> the line matches summed over the pages."""
    scores = {m: {v: Match(0, 0, 0) for v in VARIANTS} for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for xml in xmls:
            truth = read_document(xml)
            grey = load_grey(truth.image_path)
            lines = [ln.polygon for ln in truth.lines() if len(ln.polygon) >= 3]
            for variant, make in VARIANTS.items():
                image, expected = make(grey, lines)
                for method in methods:
                    if method == "tesseract":
                        path = Path(tmp) / "page.png"
                        cv2.imwrite(str(path), image)
                        boxes = tesseract.page_line_boxes(path, SETS[name])
                        found = [box_polygon(x, y, x + w, y + h) for x, y, w, h in boxes]
                    else:
                        page = segment(image, method=method, finder=finder if method == "learned" else None)
                        found = [ln.polygon for ln in page.lines()]
                    scores[method][variant] += match_lines(expected, found, image.shape)
    return scores


LABELS = {"learned": "mspt learned", "classical": "mspt classical", "tesseract": "tesseract"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    page_set_arguments(parser)
    parser.add_argument("--methods", nargs="+", choices=list(LABELS), default=list(LABELS))
    parser.add_argument("--finder", type=Path, help="a line-finder file instead of the bundled one")
    parser.add_argument("--pages", type=int, metavar="N", help="only the first N pages of each split (smoke runs)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    finder = load_line_finder(args.finder, onnx=True) if args.finder else None
    print(
        f"{dt.date.today()}  split={args.split}  {machine()}  {tesseract.version()}\n"
        f"line finder: {args.finder or bundled_path()}; F1 of line finding at box IoU >= 0.5"
        + (f"\nonly the first {args.pages} page(s) of each split: a smoke run" if args.pages else "")
    )
    names = list(VARIANTS)
    print("\n| set | method | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    f1s: dict[str, dict[str, list[float]]] = {m: {v: [] for v in names} for m in args.methods}
    for name in [s for s in SETS if s in args.sets]:
        scores = evaluate(name, split_xmls(DATA / name, args.split)[: args.pages], args.methods, finder)
        for method, by_variant in scores.items():
            cells = []
            for variant, match in by_variant.items():
                f1s[method][variant].append(match.f1)
                cells.append(f"{match.f1:.3f}")
            print(f"| {name} | {LABELS[method]} | " + " | ".join(cells) + " |", flush=True)
    print(f"\nMean F1 over the {len(f1s[args.methods[0]]['as scanned'])} sets:\n")
    print("| method | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for method, by_variant in f1s.items():
        print(f"| {LABELS[method]} | " + " | ".join(f"{np.mean(v):.3f}" for v in by_variant.values()) + " |")


if __name__ == "__main__":
    main()

"""Line finding and reading order on double-page spreads: is each page read to its end first?

Bound volumes (registers, minute books, manuscripts) are often scanned open, two pages to an
image. The ground truth has few such images, so this script makes them from each set's pages:
two pages of the split in turn (first and second, third and fourth, …), each cut to its lines
with a margin of some line heights all round, set side by side on their paper's colour, the
ground truth carried along. The variants differ in how close the two pages' text comes:

- ``margin 2``: two line heights of margin round each page's text (four between the pages);
- ``margin 1/4``: a quarter of a line height (half a line height between the pages: text written
  into the fold, as a tight binding makes it).

Per set and variant: F1 of line finding at box IoU >= 0.5 (as ``segmentation.py``; on a partly
transcribed set only the found lines near a given line count), and the reading order of the
matched lines across the fold: the share of (left-page line, right-page line) pairs read right
page first, and how many spreads were read page by page (no such pair).

    .venv/bin/python benchmarks/spreads.py --split val
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import torch
from common import DATA, HANDWRITTEN, PARTIAL_GROUND_TRUTH, PRINTED, machine, page_set_arguments, split_xmls

from mspt_core.document import bbox
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import judged, match_lines, pair_lines
from mspt_core.layout.linefinder import bundled_path, load_line_finder
from mspt_core.layout.segment import segment

SETS = {**PRINTED, **HANDWRITTEN}
MARGINS = {"margin 2": 2.0, "margin 1/4": 0.25}  # line heights of margin round each page's text
Polygon = list[tuple[float, float]]


def _page_cut(xml: Path, margin: float) -> tuple[np.ndarray, list[Polygon]]:
    """A page cut to its lines' box grown by ``margin`` line heights, with its lines moved to match."""
    truth = read_document(xml)
    grey = load_grey(truth.image_path)
    lines = [ln.polygon for ln in truth.lines() if len(ln.polygon) >= 3]
    boxes = np.array([bbox(p) for p in lines])
    pad = margin * float(np.median(boxes[:, 3] - boxes[:, 1]))
    h, w = grey.shape
    x0, y0 = max(0, int(boxes[:, 0].min() - pad)), max(0, int(boxes[:, 1].min() - pad))
    x1, y1 = min(w, int(np.ceil(boxes[:, 2].max() + pad))), min(h, int(np.ceil(boxes[:, 3].max() + pad)))
    return grey[y0:y1, x0:x1], [[(x - x0, y - y0) for x, y in p] for p in lines]


def spread(left: Path, right: Path, margin: float) -> tuple[np.ndarray, list[Polygon], list[Polygon]]:
    """The two pages side by side, tops level: the image, the left page's lines and the right's."""
    (a, a_lines), (b, b_lines) = _page_cut(left, margin), _page_cut(right, margin)
    paper = int(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))
    image = np.full((max(a.shape[0], b.shape[0]), a.shape[1] + b.shape[1]), paper, np.uint8)
    image[: a.shape[0], : a.shape[1]] = a
    image[: b.shape[0], a.shape[1] :] = b
    return image, a_lines, [[(x + a.shape[1], y) for x, y in p] for p in b_lines]


@dataclass
class Score:
    """Line finding and order across the fold, summed over a variant's spreads."""

    truth: int = 0
    found: int = 0
    matched: int = 0
    pairs: int = 0  # matched (left-page line, right-page line) pairs
    inverted: int = 0  # of them, read right page first
    spreads: int = 0
    page_by_page: int = 0

    @property
    def f1(self) -> float:
        return 2 * self.matched / (self.truth + self.found) if self.truth + self.found else 0.0

    @property
    def inverted_share(self) -> float:
        return self.inverted / self.pairs if self.pairs else 0.0

    def __add__(self, other: Score) -> Score:
        return Score(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def score_spread(image: np.ndarray, left: list[Polygon], right: list[Polygon], partial: bool, finder) -> Score:
    page = segment(image, method="learned", finder=finder)
    found = [ln.polygon for ln in page.lines()]  # in reading order
    truth = left + right
    match = match_lines(truth, found, image.shape, partial=partial)
    kept = judged(truth, found) if partial else found
    position = dict(pair_lines(truth, kept, image.shape))  # truth line -> its place in the reading order
    lefts = [position[i] for i in range(len(left)) if i in position]
    rights = [position[i] for i in range(len(left), len(truth)) if i in position]
    inverted = sum(1 for a in lefts for b in rights if b < a)
    page_by_page = bool(lefts and rights) and inverted == 0  # a spread with no line matched on a side tells nothing
    return Score(
        match.ground_truth, match.found, match.matched, len(lefts) * len(rights), inverted, 1, int(page_by_page)
    )


def evaluate(name: str, xmls: list[Path], finder) -> dict[str, Score]:
    scores = {variant: Score() for variant in MARGINS}
    for left, right in zip(xmls[0::2], xmls[1::2], strict=False):
        for variant, margin in MARGINS.items():
            image, left_lines, right_lines = spread(left, right, margin)
            scores[variant] += score_spread(image, left_lines, right_lines, name in PARTIAL_GROUND_TRUTH, finder)
    return scores


def _cells(got: Score) -> str:
    return f"{got.spreads} | {got.f1:.3f} | {got.inverted_share:.1%} | {got.page_by_page}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    page_set_arguments(parser, split="val")
    parser.add_argument("--finder", type=Path, help="a line-finder file instead of the bundled one")
    parser.add_argument("--pages", type=int, metavar="N", help="only the first N pages of each split (smoke runs)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    finder = load_line_finder(args.finder, onnx=True) if args.finder else None
    print(
        f"{dt.date.today()}  split={args.split}  {machine()}\nline finder: {args.finder or bundled_path()}"
        + (f"\nonly the first {args.pages} page(s) of each split: a smoke run" if args.pages else "")
    )
    print("\n| set | variant | spreads | F1 box | pairs read right page first | spreads read page by page |")
    print("|---|---|---|---|---|---|")
    totals = {variant: Score() for variant in MARGINS}
    for name in [s for s in SETS if s in args.sets]:
        xmls = split_xmls(DATA / name, args.split)[: args.pages]
        for variant, got in evaluate(name, xmls, finder).items():
            if got.spreads:
                print(f"| {name} | {variant} | {_cells(got)} |", flush=True)
                totals[variant] += got
    print("\n| variant | spreads | F1 box (all lines) | pairs read right page first | spreads read page by page |")
    print("|---|---|---|---|---|")
    for variant, got in totals.items():
        print(f"| {variant} | {_cells(got)} |")


if __name__ == "__main__":
    main()

"""Line finding against ALTO ground truth, beside Tesseract's and kraken's, on the same pages.

Rows per data set: mspt learned (the bundled line finder, the default), mspt classical,
Tesseract (the level-4 line boxes of ``tesseract IMG stdout -l LANG tsv``), kraken (its default
``blla`` baseline segmenter, ``kraken -a -i IMG OUT.xml ... segment -bl``, one process for all
pages of a set, one thread). A ground-truth line is found when a found line's box overlaps its
box with IoU >= 0.5 (one-to-one, greedy by IoU); the polygon column does the same on polygons
(Tesseract's polygon is its box). pages/s on one thread: for mspt, ``segment()`` alone, after
the page is loaded; for the peers, their processes' wall time (image loading and model loading
included, and for Tesseract also reading the text, which its tsv output always does).

End to end: each page's text in reading order (mspt: segmentation + the bundled default model;
Tesseract: ``--psm 3``) against the page's ground-truth lines, compared after
``reading.normalized`` (NFC, whitespace collapsed).

    .venv/bin/python benchmarks/segmentation.py --split test [--kraken PATH/TO/kraken]

kraken is not a dependency: install it in a venv of its own (see RESULTS.md); without it its
row is left out with a note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import reading
import tesseract
import torch
from common import CREMMA, FONDUE, machine, split_xmls

from mspt_core.document import box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import Match, match_lines
from mspt_core.layout.segment import segment
from mspt_core.models import resolve

LANGS = {FONDUE.name: "eng", CREMMA.name: "fra"}


@dataclass
class Row:
    method: str
    box: Match
    polygon: Match
    seconds: float
    pages: int


def score(rows: dict, method: str, truth, found, shape) -> None:
    row = rows[method]
    row.box += match_lines(truth, found, shape, kind="box")
    row.polygon += match_lines(truth, found, shape, kind="polygon")


def kraken_pages(kraken: str, images: list[Path], out_dir: Path) -> tuple[list[Path], float]:
    """kraken's baseline segmentation of all pages in one process: ALTO files and wall seconds."""
    outs = [out_dir / f"{i:03d}.xml" for i in range(len(images))]
    command = [kraken, "-a", "--threads", "1", "-d", "cpu"]
    for image, out in zip(images, outs, strict=True):
        command += ["-i", str(image), str(out)]
    started = time.perf_counter()
    subprocess.run(
        command + ["segment", "-bl"],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    return outs, time.perf_counter() - started


def evaluate(dataset: Path, split: str, kraken: str | None, verbose: bool) -> list[Row]:
    xmls = split_xmls(dataset, split)
    methods = ["mspt learned", "mspt classical", "tesseract"] + (["kraken blla"] if kraken else [])
    rows = {m: Row(m, Match(0, 0, 0), Match(0, 0, 0), 0.0, len(xmls)) for m in methods}
    truths = [read_document(xml) for xml in xmls]
    images = [t.image_path for t in truths]
    for xml, truth in zip(xmls, truths, strict=True):
        grey = load_grey(truth.image_path)
        lines = [ln.polygon for ln in truth.lines()]
        for method in ("learned", "classical"):
            started = time.perf_counter()
            found = segment(grey, method=method)
            rows[f"mspt {method}"].seconds += time.perf_counter() - started
            score(rows, f"mspt {method}", lines, [ln.polygon for ln in found.lines()], grey.shape)
            if verbose:
                m = match_lines(lines, [ln.polygon for ln in found.lines()], grey.shape)
                print(f"  {xml.name} {method}: gt {m.ground_truth} found {m.found} matched {m.matched}")
        started = time.perf_counter()
        boxes = tesseract.page_line_boxes(truth.image_path, LANGS[dataset.name])
        rows["tesseract"].seconds += time.perf_counter() - started
        score(rows, "tesseract", lines, [box_polygon(x, y, x + w, y + h) for x, y, w, h in boxes], grey.shape)
    if kraken:
        with tempfile.TemporaryDirectory() as tmp:
            outs, seconds = kraken_pages(kraken, images, Path(tmp))
            rows["kraken blla"].seconds = seconds
            for truth, out in zip(truths, outs, strict=True):
                found = read_document(out)
                lines = [ln.polygon for ln in truth.lines()]
                score(
                    rows,
                    "kraken blla",
                    lines,
                    [ln.polygon for ln in found.lines() if len(ln.polygon) >= 3],
                    (truth.height, truth.width),
                )
    return list(rows.values())


def end_to_end(dataset: Path, split: str) -> list[reading.Row]:
    images, references = reading.reference_pages(split_xmls(dataset, split))
    return [
        reading.mspt_pages(resolve(None), "mspt learned segmentation + default model", images, references, 1),
        reading.tesseract_pages(images, references, LANGS[dataset.name]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument(
        "--kraken",
        default=os.environ.get("KRAKEN") or shutil.which("kraken"),
        help="kraken executable (default: $KRAKEN or kraken on PATH)",
    )
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the page CER tables")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    print(f"{dt.date.today()}  split={args.split}  {machine()}  opencv {cv2.__version__}  {tesseract.version()}")
    if not args.kraken:
        print("kraken: not installed, its rows are left out")
    print("\n| set | method | pages | GT lines | found | precision | recall | F1 box | F1 polygon | pages/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for dataset in (FONDUE, CREMMA):
        for row in evaluate(dataset, args.split, args.kraken, args.verbose):
            b = row.box
            print(
                f"| {dataset.name} | {row.method} | {row.pages} | {b.ground_truth} | {b.found} | "
                f"{b.precision:.3f} | {b.recall:.3f} | {b.f1:.3f} | {row.polygon.f1:.3f} | "
                f"{row.pages / max(row.seconds, 1e-9):.2f} |",
                flush=True,
            )
    if args.no_end_to_end:
        return
    for dataset in (FONDUE, CREMMA):
        print(f"\nEnd to end, {dataset.name} ({args.split}), one thread; text: {reading.NORMALIZATION}")
        print(reading.markdown_table(end_to_end(dataset, args.split), "pages/s"), flush=True)


if __name__ == "__main__":
    main()

"""Line finding on every shared set beside Tesseract and kraken, and what our lines cost reading.

Line finding, per set of ``../shared/data`` (``common.PRINTED`` then ``common.HANDWRITTEN``), on
one split: rows for mspt learned (the bundled line finder, the default; its network on ONNX
Runtime, as mspt runs it on a CPU), mspt learned, PyTorch (``--pytorch-finder``: the bundled
finder's network on PyTorch, to compare), mspt learned [FILE] (each ``--finder`` candidate, run
as the bundled finder runs), mspt classical, Tesseract (the level-4 line boxes of ``tesseract
IMG stdout -l LANG tsv``, in the set's languages) and kraken (its default ``blla`` baseline
segmenter, ``kraken -a --threads 1 -d cpu -i IMG OUT.xml ... segment -bl``, one process for all
pages of a set). A ground-truth line is found when a found line's box overlaps its box with IoU
>= 0.5 (one-to-one, greedy by IoU); the polygon column does the same on polygons (Tesseract's
polygon is its box). pages/s on one thread: for mspt, ``segment()`` alone, after the page is
loaded and the finder is loaded (its ONNX session made); for the peers, their processes' wall time (image and model
loading included, and for Tesseract also reading the text, which its tsv output always does).
Then the mean over sets per method (mean of the per-set F1 and pages/s; × kraken is the mean
pages/s over kraken's).

End to end, on the printed and typewritten sets: each page's text in reading order read by the
bundled ``default`` model from the ground-truth lines and from our own segmentation
(``pipeline.transcribe`` with and without ground truth), and by Tesseract ``--psm 3``, against
the page's ground-truth lines, compared after ``reading.normalized`` (on a set whose ground truth
leaves lines out, ``common.PARTIAL_GROUND_TRUTH``, the text of lines found farther than a line
height from every given line is left out, ours and Tesseract's alike); pages/s of the whole job
on one thread (image loading included). Then where the difference between the two comes from:
the ground-truth lines our segmentation found, each read from its ground-truth crop and from
ours, and how many lines only one side has; and the difference taken apart by ``page_gap`` (as
below, with the default model). On the handwritten sets, each page read by ``auto`` (the
product's reader) on the ground-truth lines and on ours, and the difference taken apart: our
lines' text in the ground truth's order (what reading order costs), the text of the
ground-truth lines we miss, and the text read on lines the ground truth lacks; and our pages
against the true text with the slips of the ground truth's own reading order put right
(``reading.in_page_order``: some sets list a line before one wholly above it). With ``--split
test`` the issue's targets are judged at the end (issue 15). ``--why`` also says, per set and
method, why the lines left unmatched (by box) are (``evaluate.unmatched_kinds``): the
ground-truth lines missed (no found line over it, found in pieces, joined into another line,
found too wide, narrow, tall or short, or off), and the found lines matched to nothing (where no
line is, or over a line found or missed); on any split, train included, for looking into.

Full run (the figures in RESULTS.md; kraken takes ~25 s a page, so keep its output)::

    .venv/bin/python benchmarks/segmentation.py --split test \\
        --kraken /work/kraken-venv/bin/kraken --kraken-cache ~/.cache/mspt-kraken

A candidate line finder against the bundled one, on val only (never select on test)::

    .venv/bin/python benchmarks/segmentation.py --split val --methods learned --no-end-to-end \\
        --finder runs/linefinder/best.safetensors

kraken is not a dependency: install it in a venv of its own, ``python3 -m venv
/work/kraken-venv && /work/kraken-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 &&
/work/kraken-venv/bin/pip install kraken==7.1.1``, and pass ``--kraken`` (or put it on PATH, or
set $KRAKEN); without it its rows are left out with a note. ``--kraken-cache DIR`` keeps its
ALTO output and measured seconds per page (keyed by the image's path, kraken's version and its
options), so a later run reuses them and reports the speed measured when they were made.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import reading
import tesseract
import torch
from common import DATA, HANDWRITTEN, PARTIAL_GROUND_TRUTH, PRINTED, machine, split_xmls

from mspt_core.document import box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import (
    EXTRA_KINDS,
    MISSED_KINDS,
    Match,
    judged,
    match_lines,
    pair_lines,
    unmatched_kinds,
)
from mspt_core.layout.linefinder import ENGINE_VARIABLE, bundled, bundled_path, load_line_finder
from mspt_core.layout.segment import segment
from mspt_core.metrics import char_errors
from mspt_core.models import AUTO, load_model, resolve

SETS = {**PRINTED, **HANDWRITTEN}  # set name -> Tesseract's languages for it
METHODS = ("learned", "classical", "tesseract", "kraken")
KRAKEN_OPTIONS = ["-a", "--threads", "1", "-d", "cpu"]
KRAKEN_TASK = ["segment", "-bl"]

# The targets.
PRINT_F1 = 0.99
SPEEDUP = 10.0
CER_GAP = 0.002  # 0.2 points


@dataclass
class Row:
    method: str
    box: Match
    polygon: Match
    seconds: float = 0.0
    pages: int = 0
    missed: Counter[str] = field(default_factory=Counter)  # why ground-truth lines went unmatched
    extra: Counter[str] = field(default_factory=Counter)  # why found lines went unmatched

    @property
    def per_second(self) -> float:
        return self.pages / max(self.seconds, 1e-9)


def score(row: Row, truth, found, shape, partial: bool) -> None:
    """Add one page's matching to ``row``; ``partial``: its ground truth leaves lines out, and the
    found lines far from every line it gives are not counted (``match_lines``)."""
    row.box += match_lines(truth, found, shape, kind="box", partial=partial)
    row.polygon += match_lines(truth, found, shape, kind="polygon", partial=partial)
    missed, extra = unmatched_kinds(truth, found, shape, partial)
    row.missed += missed
    row.extra += extra


# ------------------------------------------------------------------------------------- kraken


def kraken_version(kraken: str) -> str:
    done = subprocess.run([kraken, "--version"], capture_output=True, text=True)
    return (done.stdout.strip() or done.stderr.strip() or "unknown").splitlines()[0]


def kraken_pages(kraken: str, images: list[Path], out_dir: Path) -> tuple[list[Path], float]:
    """kraken's baseline segmentation of all pages in one process: ALTO files and wall seconds."""
    outs = [out_dir / f"{i:03d}.xml" for i in range(len(images))]
    command = [kraken, *KRAKEN_OPTIONS]
    for image, out in zip(images, outs, strict=True):
        command += ["-i", str(image), str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        command + KRAKEN_TASK,
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        # kraken prints a long traceback: its last line says why
        last = (done.stderr.strip() or done.stdout.strip() or "no message").splitlines()[-1]
        raise SystemExit(f"kraken failed (exit {done.returncode}) on {images[0]} and the rest of its set: {last}")
    return outs, seconds


class KrakenCache:
    """kraken's ALTO and seconds per page in a folder: ``KEY.xml`` and ``KEY.json``, the key a
    hash of the image's path, kraken's version and its options (a new kraken measures again)."""

    def __init__(self, folder: Path, version: str):
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.version = version

    def _key(self, image: Path) -> str:
        named = json.dumps([str(Path(image).resolve()), self.version, KRAKEN_OPTIONS + KRAKEN_TASK])
        return hashlib.sha256(named.encode()).hexdigest()[:32]

    def get(self, image: Path) -> tuple[Path, dict] | None:
        key = self._key(image)
        alto, about = self.folder / f"{key}.xml", self.folder / f"{key}.json"
        if not (alto.is_file() and about.is_file()):
            return None
        try:
            return alto, json.loads(about.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a half-written entry: measure again

    def put(self, image: Path, alto: Path, seconds: float) -> None:
        key = self._key(image)
        about = {
            "image": str(Path(image).resolve()),
            "kraken": self.version,
            "command": KRAKEN_OPTIONS + KRAKEN_TASK,
            "seconds": seconds,
            "measured": dt.datetime.now().isoformat(timespec="seconds"),
            "machine": machine(),
        }
        # the json last, each by rename: an entry is whole or absent
        shutil.copyfile(alto, self.folder / f"{key}.xml.part")
        os.replace(self.folder / f"{key}.xml.part", self.folder / f"{key}.xml")
        (self.folder / f"{key}.json.part").write_text(json.dumps(about, indent=1), encoding="utf-8")
        os.replace(self.folder / f"{key}.json.part", self.folder / f"{key}.json")


def kraken_lines(kraken: str, images: list[Path], cache: KrakenCache | None) -> tuple[list[list], float, list[dict]]:
    """kraken's line polygons per page, its seconds for all pages, and what the cache gave (the
    entries reused). Without a cache, one process for all pages as before; with one, one process
    for the pages it lacks, its wall time shared equally by them."""
    found: list[list | None] = [None] * len(images)
    seconds, reused = 0.0, []
    missing = list(range(len(images)))
    if cache is not None:
        missing = []
        for i, image in enumerate(images):
            hit = cache.get(image)
            if hit is None:
                missing.append(i)
                continue
            found[i] = read_document(hit[0]).lines()
            seconds += hit[1]["seconds"]
            reused.append(hit[1])
    if missing:
        with tempfile.TemporaryDirectory() as tmp:
            outs, spent = kraken_pages(kraken, [images[i] for i in missing], Path(tmp))
            seconds += spent
            for i, out in zip(missing, outs, strict=True):
                found[i] = read_document(out).lines()
                if cache is not None:
                    cache.put(images[i], out, spent / len(missing))
    return [[ln.polygon for ln in lines if len(ln.polygon) >= 3] for lines in found], seconds, reused


# --------------------------------------------------------------------------------- line finding


def evaluate(
    name: str, xmls: list[Path], methods: list[str], finders: dict, kraken, cache, verbose: bool
) -> tuple[list[Row], list[dict]]:
    """One set's rows in table order, and the kraken cache entries reused."""
    labels = []
    if "learned" in methods:
        labels.append("mspt learned")
    labels += list(finders)
    labels += [m for m, on in (("mspt classical", "classical"), ("tesseract", "tesseract")) if on in methods]
    if kraken:
        labels.append("kraken blla")
    rows = {label: Row(label, Match(0, 0, 0), Match(0, 0, 0), 0.0, len(xmls)) for label in labels}
    partial = name in PARTIAL_GROUND_TRUTH
    truths = [read_document(xml) for xml in xmls]
    mspt = {"mspt learned": bundled(), **finders} if "learned" in methods else dict(finders)
    if "classical" in methods:
        mspt["mspt classical"] = None
    for finder in mspt.values():  # its ONNX session made before the first page is timed
        if finder is not None:
            finder.ready()
    for xml, truth in zip(xmls, truths, strict=True):
        grey = load_grey(truth.image_path)
        lines = [ln.polygon for ln in truth.lines()]
        for label, finder in mspt.items():
            method = "classical" if finder is None else "learned"
            started = time.perf_counter()
            found = [ln.polygon for ln in segment(grey, method=method, finder=finder).lines()]
            rows[label].seconds += time.perf_counter() - started
            score(rows[label], lines, found, grey.shape, partial)
            if verbose:
                m = match_lines(lines, found, grey.shape, partial=partial)
                print(f"  {xml.name} {label}: gt {m.ground_truth} found {m.found} matched {m.matched}")
        if "tesseract" in rows:
            started = time.perf_counter()
            boxes = tesseract.page_line_boxes(truth.image_path, SETS[name])
            rows["tesseract"].seconds += time.perf_counter() - started
            found = [box_polygon(x, y, x + w, y + h) for x, y, w, h in boxes]
            score(rows["tesseract"], lines, found, grey.shape, partial)
    reused = []
    if kraken:
        found, seconds, reused = kraken_lines(kraken, [t.image_path for t in truths], cache)
        rows["kraken blla"].seconds = seconds
        for truth, polygons in zip(truths, found, strict=True):
            lines = [ln.polygon for ln in truth.lines()]
            score(rows["kraken blla"], lines, polygons, (truth.height, truth.width), partial)
    return list(rows.values()), reused


def print_rows(name: str, rows: list[Row]) -> None:
    for row in rows:
        b = row.box
        print(
            f"| {name} | {row.method} | {row.pages} | {b.ground_truth} | {b.found} | "
            f"{b.precision:.3f} | {b.recall:.3f} | {b.f1:.3f} | {row.polygon.f1:.3f} | "
            f"{reading.rate(row.per_second)} |",
            flush=True,
        )


def print_unmatched(results: dict[str, list[Row]]) -> None:
    """Why the lines each method left unmatched (by box) are, per set and in all."""
    print("\nWhy lines went unmatched (box IoU >= 0.5): ground-truth lines missed, and found lines matched to nothing")
    print("\n| set | method | " + " | ".join(MISSED_KINDS) + " | " + " | ".join(EXTRA_KINDS) + " |")
    print("|---|---|" + "---|" * (len(MISSED_KINDS) + len(EXTRA_KINDS)))
    totals: dict[str, list[Counter]] = {}
    for name, rows in results.items():
        for row in rows:
            counts = [row.missed[k] for k in MISSED_KINDS] + [row.extra[k] for k in EXTRA_KINDS]
            print(f"| {name} | {row.method} | " + " | ".join(map(str, counts)) + " |")
            total = totals.setdefault(row.method, [Counter(), Counter()])
            total[0] += row.missed
            total[1] += row.extra
    for method, (missed, extra) in totals.items():
        counts = [missed[k] for k in MISSED_KINDS] + [extra[k] for k in EXTRA_KINDS]
        print(f"| **all sets** | {method} | " + " | ".join(map(str, counts)) + " |")


def print_means(results: dict[str, list[Row]]) -> dict[str, dict]:
    """The mean over sets per method; returns them by method."""
    by_method: dict[str, list[Row]] = {}
    for rows in results.values():
        for row in rows:
            by_method.setdefault(row.method, []).append(row)
    means = {
        method: {
            "sets": len(rows),
            "box": sum(r.box.f1 for r in rows) / len(rows),
            "polygon": sum(r.polygon.f1 for r in rows) / len(rows),
            "per_second": sum(r.per_second for r in rows) / len(rows),
        }
        for method, rows in by_method.items()
    }
    kraken = means.get("kraken blla")
    print(f"\nMean over the {len(results)} sets (each set weighs the same):\n")
    print("| method | sets | F1 box | F1 polygon | pages/s | × kraken's pages/s |")
    print("|---|---|---|---|---|---|")
    for method, m in means.items():
        ratio = f"{m['per_second'] / kraken['per_second']:.1f}" if kraken else "–"
        rate = reading.rate(m["per_second"])
        print(f"| {method} | {m['sets']} | {m['box']:.3f} | {m['polygon']:.3f} | {rate} | {ratio} |")
    return means


# ------------------------------------------------------------------------------------ end to end


@dataclass
class Reading:
    name: str
    pages: int
    on_truth: reading.Row
    on_ours: reading.Row
    tesseract: reading.Row

    @property
    def gap(self) -> float:
        return self.on_ours.cer - self.on_truth.cer


def end_to_end(name: str, xmls: list[Path]) -> Reading:
    """On a set whose ground truth leaves lines out, the text of lines found far from every
    given line is left out of our pages and Tesseract's alike, as the F1 table leaves them out."""
    images, references = reading.reference_pages(xmls)
    near = reading.judged_near(name, xmls)
    model = resolve("default")
    return Reading(
        name,
        len(xmls),
        reading.mspt_pages(model, "default on GT lines", images, references, 1, use_ground_truth=True),
        reading.mspt_pages(model, "default on our lines", images, references, 1, near=near),
        reading.tesseract_pages(images, references, SETS[name], psm=3, near=near),
    )


@dataclass
class CropCost:
    """Where a page's CER on our lines goes: the lines both segmentations have, each read from
    its ground-truth crop and from ours (same reader, same cutting), and the lines only one has."""

    name: str
    truth_lines: int
    matched: int
    missed: int  # ground-truth lines no found line matches
    extra: int  # found lines that match no ground-truth line
    on_truth: reading.Row
    on_ours: reading.Row


def judged_found(name: str, truth, found: list) -> list:
    """The lines ``found`` on ``truth``'s page, less, on a set whose ground truth leaves lines out,
    those it cannot judge (``evaluate.judged``), as the F1 table counts them."""
    if name not in PARTIAL_GROUND_TRUTH:
        return found
    return judged([ln.polygon for ln in truth.lines()], found, outline=lambda line: line.polygon)


def crop_cost(name: str, xmls: list[Path]) -> CropCost:
    """Lines paired at box IoU >= 0.5 (as in the F1 table), both crops cut along their polygons
    as ``reading.crop`` cuts, read by the bundled default model at one thread."""
    truth_crops, our_crops, texts = [], [], []
    truth_lines = found_lines = 0
    for xml in xmls:
        truth = read_document(xml)
        grey = load_grey(truth.image_path)
        lines = [ln for ln in truth.lines() if ln.text.strip() and len(ln.polygon) >= 3]
        found = judged_found(name, truth, list(segment(grey).lines()))
        truth_lines += len(lines)
        found_lines += len(found)
        for i, j in pair_lines([ln.polygon for ln in lines], [ln.polygon for ln in found], grey.shape):
            truth_crops.append(reading.crop(grey, lines[i]))
            our_crops.append(reading.crop(grey, found[j]))
            texts.append(lines[i].text)
    reader = reading.mspt_reader(load_model(resolve("default")), None, 1)
    return CropCost(
        name,
        truth_lines,
        len(texts),
        truth_lines - len(texts),
        found_lines - len(texts),
        reading.mspt_lines(reader, "default, ground-truth crops", truth_crops, texts, 1),
        reading.mspt_lines(reader, "default, our crops", our_crops, texts, 1),
    )


def print_crop_costs(costs: list[CropCost]) -> None:
    print(
        "| set | GT lines | matched | missed | extra found | CER of the matched lines: GT crops | "
        "our crops | difference (points) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in costs:
        print(
            f"| {c.name} | {c.truth_lines} | {c.matched} | {c.missed} | {c.extra} | {c.on_truth.cer:.2%} | "
            f"{c.on_ours.cer:.2%} | {100 * (c.on_ours.cer - c.on_truth.cer):+.2f} |",
            flush=True,
        )


def print_readings(readings: list[Reading]) -> None:
    print(
        "| set | pages | default on GT lines CER (WER) | default on our lines CER (WER) | difference (points) "
        "| tesseract --psm 3 CER (WER) | pages/s (ours; tesseract) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in readings:
        print(
            f"| {r.name} | {r.pages} | {r.on_truth.cer:.2%} ({r.on_truth.wer:.2%}) | "
            f"{r.on_ours.cer:.2%} ({r.on_ours.wer:.2%}) | {100 * r.gap:+.2f} | "
            f"{r.tesseract.cer:.2%} ({r.tesseract.wer:.2%}) | "
            f"{reading.rate(r.on_ours.per_second)}; {reading.rate(r.tesseract.per_second)} |",
            flush=True,
        )
    if readings:
        n = len(readings)
        print(
            f"| mean | {sum(r.pages for r in readings)} | {sum(r.on_truth.cer for r in readings) / n:.2%} | "
            f"{sum(r.on_ours.cer for r in readings) / n:.2%} | {100 * sum(r.gap for r in readings) / n:+.2f} | "
            f"{sum(r.tesseract.cer for r in readings) / n:.2%} | |"
        )


@dataclass
class PageGap:
    """Where whole pages read through our lines lose against the same pages read on the ground
    truth's lines, by one reader: all counts in characters of the pages' true text."""

    name: str
    pages: int
    chars: int
    on_truth: int  # errors on the ground truth's lines
    on_ours: int  # errors on our lines, in our reading order
    ours_in_truth_order: int  # the same lines' text put in the ground truth's order
    missed: int  # characters of ground-truth lines no found line matches
    extra: int  # characters read on found lines that match no ground-truth line
    on_ours_in_page_order: int = 0  # errors on our lines against the truth in page order (reading.in_page_order)
    swaps: int = 0  # swaps that put the ground truth's own order right

    def shares(self) -> list[float]:
        """Each count after ``chars``, in % of the pages' true characters (the table's order)."""
        counts = (
            self.on_truth,
            self.on_ours,
            self.ours_in_truth_order,
            self.missed,
            self.extra,
            self.on_ours_in_page_order,
        )
        return [100 * v / max(self.chars, 1) for v in counts]


def _in_truth_order(found: list, truth_index: dict[int, int]) -> list[str]:
    """Our lines' texts with the matched ones in their ground-truth lines' order; an unmatched
    line stays after the line read before it."""
    keyed, last = [], -1
    for j in range(len(found)):
        if j in truth_index:
            last = truth_index[j]
        keyed.append((last, j not in truth_index, j))
    return [found[j].text for _, _, j in sorted(keyed)]


def page_gap(name: str, xmls: list[Path], model: str = AUTO) -> PageGap:
    """Each page read by ``model`` (``auto`` as ``mspt transcribe`` reads by default, or a bundled
    model's name) on the ground truth's lines (cut along their own outlines) and on ours; our
    lines paired with the ground truth's at box IoU >= 0.5, as in the F1 table."""
    from mspt_core.pipeline import transcribe

    reader = reading.mspt_reader(AUTO if model == AUTO else load_model(resolve(model)), None, 1)
    text = reading.normalized
    gap = PageGap(name, len(xmls), 0, 0, 0, 0, 0, 0)
    for xml in xmls:
        truth = read_document(xml)
        lines = list(truth.lines())
        reference = text("\n".join(line.text for line in lines))
        on_truth = transcribe([truth.image_path], reader, use_ground_truth=True, reread=True, finder_outlines=False)[0]
        found = judged_found(
            name, truth, list(transcribe([truth.image_path], reader, use_ground_truth=False)[0].lines())
        )
        shape = load_grey(truth.image_path).shape
        pairs = pair_lines([ln.polygon for ln in lines], [ln.polygon for ln in found], shape)
        truth_index = {j: i for i, j in pairs}
        gap.chars += len(reference)
        gap.on_truth += char_errors(reference, text("\n".join(ln.text for ln in on_truth.lines())))
        ours = text("\n".join(ln.text for ln in found))
        gap.on_ours += char_errors(reference, ours)
        gap.ours_in_truth_order += char_errors(reference, text("\n".join(_in_truth_order(found, truth_index))))
        in_order, swaps = reading.in_page_order(truth)
        gap.swaps += swaps
        gap.on_ours_in_page_order += char_errors(text("\n".join(ln.text for ln in in_order)), ours)
        matched = set(truth_index.values())
        gap.missed += sum(len(text(ln.text)) for i, ln in enumerate(lines) if i not in matched)
        gap.extra += sum(len(text(ln.text)) for j, ln in enumerate(found) if j not in truth_index)
    return gap


PAGE_ORDER = (
    "with the slips of the ground truth's own reading order put right (reading.in_page_order: where a region "
    "lists a line and then one in the same column wholly above it, the two trade places; in brackets, how many "
    "swaps)"
)


def print_page_gaps(gaps: list[PageGap], model: str = AUTO) -> None:
    print(
        f"| set | pages | characters | `{model}` on GT lines | on our lines | our lines in the GT's order | "
        "missed lines' characters | extra lines' characters | on our lines, the GT's order put right "
        "(swaps) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for g in gaps:
        shares = " | ".join(f"{v:.2f} %" for v in g.shares())
        print(f"| {g.name} | {g.pages} | {g.chars} | {shares} ({g.swaps}) |", flush=True)
    if gaps:
        means = [sum(column) / len(gaps) for column in zip(*(g.shares() for g in gaps), strict=True)]
        print(
            f"| mean | {sum(g.pages for g in gaps)} | | "
            + " | ".join(f"{v:.2f} %" for v in means)
            + f" ({sum(g.swaps for g in gaps)}) |"
        )


# --------------------------------------------------------------------------------------- targets


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_targets(results: dict[str, list[Row]], means: dict, readings: list[Reading] | None, partial: str) -> None:
    """The issue's targets, judged for the bundled line finder (mspt learned)."""
    print(f"\nTargets (issue 15), for mspt learned{partial}:")
    ours = {name: next(r for r in rows if r.method == "mspt learned") for name, rows in results.items()}
    theirs = {name: next((r for r in rows if r.method == "kraken blla"), None) for name, rows in results.items()}
    if all(theirs.values()):
        for kind in ("box", "polygon"):
            margins = {n: getattr(ours[n], kind).f1 - getattr(theirs[n], kind).f1 for n in ours}
            missed = [f"{n} {m:+.3f}" for n, m in margins.items() if m < 0]
            worst = min(margins, key=margins.get)
            print(
                f"- F1 {kind} >= kraken's on every set: {verdict(not missed)} "
                f"(closest: {worst} {margins[worst]:+.3f}"
                + (f"; below on {len(missed)}: {', '.join(missed)})" if missed else ")")
            )
            mean = means["mspt learned"][kind] - means["kraken blla"][kind]
            print(
                f"- F1 {kind} >= kraken's on the mean: {verdict(mean >= 0)} "
                f"({means['mspt learned'][kind]:.3f} vs {means['kraken blla'][kind]:.3f}, {mean:+.3f})"
            )
        ratio = means["mspt learned"]["per_second"] / means["kraken blla"]["per_second"]
        print(f"- >= {SPEEDUP:.0f}x kraken's pages/s on one thread (mean): {verdict(ratio >= SPEEDUP)} ({ratio:.1f}x)")
    else:
        print("- F1 >= kraken's, and >= 10x its pages/s: not judged (kraken did not run)")
    printed = {n: r.box.f1 for n, r in ours.items() if n in PRINTED}
    if printed:
        low = [f"{n} {f:.3f}" for n, f in printed.items() if f < PRINT_F1]
        worst = min(printed, key=printed.get)
        print(
            f"- F1 box >= {PRINT_F1} on every printed set: {verdict(not low)} (lowest: {worst} {printed[worst]:.3f}"
            + (f"; below on {len(low)}: {', '.join(low)})" if low else ")")
        )
    if readings:
        over = [f"{r.name} {100 * r.gap:+.2f}" for r in readings if r.gap > CER_GAP]
        worst = max(readings, key=lambda r: r.gap)
        print(
            f"- page CER on our lines within {100 * CER_GAP:.1f} points of CER on the GT lines on every printed set: "
            f"{verdict(not over)} (widest: {worst.name} {100 * worst.gap:+.2f} points"
            + (f"; over on {len(over)}: {', '.join(over)})" if over else ")")
        )
    else:
        print("- page CER on our lines vs on the GT lines: not judged (no end-to-end run)")


# ------------------------------------------------------------------------------------------ main


PYTORCH_ROW = "mspt learned, PyTorch"  # --pytorch-finder: the bundled finder without ONNX Runtime


def candidate_finders(paths: list[Path]) -> dict:
    """Each ``--finder`` file loaded, by its row label (the file name; the path where two share it)."""
    names = [p.name for p in paths]
    # run as the bundled finder runs (ONNX Runtime where it can), so their pages/s compare
    return {
        f"mspt learned [{p.name if names.count(p.name) == 1 else p}]": load_line_finder(p, onnx=True) for p in paths
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument(
        "--sets",
        nargs="+",
        choices=list(SETS),
        default=list(SETS),
        metavar="SET",
        help="default: all 13, as common.PRINTED and common.HANDWRITTEN name them",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="which of the standard rows run (default: all); --finder rows run whenever given",
    )
    parser.add_argument(
        "--finder",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="a candidate line-finder file, one more row per set (repeatable)",
    )
    parser.add_argument(
        "--pytorch-finder",
        action="store_true",
        help="one more row: the bundled finder's network run by PyTorch, not ONNX Runtime (to compare speeds)",
    )
    parser.add_argument("--pages", type=int, metavar="N", help="only the first N pages of each split (smoke runs)")
    parser.add_argument(
        "--kraken",
        default=os.environ.get("KRAKEN") or shutil.which("kraken"),
        help="kraken executable (default: $KRAKEN or kraken on PATH)",
    )
    parser.add_argument(
        "--kraken-cache",
        type=Path,
        metavar="DIR",
        help="keep kraken's output and seconds per page here, and reuse them",
    )
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the page CER table")
    parser.add_argument(
        "--raw-line-ends",
        action="store_true",
        help="leave the learned lines' ends as the finder's maps drew them (no layout.ends step), to compare",
    )
    parser.add_argument(
        "--faint-kept",
        action="store_true",
        help="keep the lines layout.faint leaves out as far fainter than the page's writing, to compare",
    )
    parser.add_argument(
        "--why", action="store_true", help="also say why the lines left unmatched are (evaluate.unmatched_kinds)"
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if args.raw_line_ends:  # the module, not the function the package exports under its name
        sys.modules["mspt_core.layout.segment"].extend_line_ends = lambda lines, ink: lines
    if args.faint_kept:
        sys.modules["mspt_core.layout.segment"].faint_lines = lambda grey, polygons: []
    if args.pages is not None and args.pages < 1:
        parser.error("--pages must be at least 1")
    if ("learned" in args.methods or args.pytorch_finder) and bundled() is None:
        raise SystemExit(f"{bundled_path()}: no usable bundled line finder")
    finders = candidate_finders(args.finder)
    pytorch = {PYTORCH_ROW: load_line_finder(bundled_path())} if args.pytorch_finder else {}
    rows = pytorch | finders
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    sets = [name for name in SETS if name in args.sets]  # printed first, as SETS has them

    kraken = args.kraken if "kraken" in args.methods else None
    version = kraken_version(kraken) if kraken else None
    cache = KrakenCache(args.kraken_cache, version) if kraken and args.kraken_cache else None
    print(
        f"{dt.date.today()}  split={args.split}  {machine()}  opencv {cv2.__version__}  {tesseract.version()}"
        + (f"  {version}" if version else "")
    )
    print(f"bundled line finder: {bundled_path()}")
    for label, path in zip(finders, args.finder, strict=True):
        print(f"{label}: {path.resolve()}")
    if args.pages:
        print(f"only the first {args.pages} page(s) of each split: a smoke run, not a measurement")
    if "kraken" in args.methods and not kraken:
        print("kraken: not installed, its rows are left out")

    print("\n| set | method | pages | GT lines | found | precision | recall | F1 box | F1 polygon | pages/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    results, xmls_of, reused = {}, {}, []
    for name in sets:
        xmls_of[name] = split_xmls(DATA / name, args.split)[: args.pages]
        results[name], hits = evaluate(name, xmls_of[name], args.methods, rows, kraken, cache, args.verbose)
        reused += hits
        print_rows(name, results[name])
    if reused:
        when = sorted(h["measured"] for h in reused)
        total = sum(rows[-1].pages for rows in results.values())
        rest = f"; the other {total - len(reused)} measured in this run" if total > len(reused) else ""
        print(
            f"\nkraken: {len(reused)} of {total} page(s) taken from {cache.folder}, with the seconds measured when "
            f"they were made ({when[0]} to {when[-1]}, {reused[0]['machine']}){rest}; its pages/s above count "
            "those seconds"
        )
    elif cache:
        print(f"\nkraken: measured in this run; output and seconds kept in {cache.folder}")
    partial = [name for name in sets if name in PARTIAL_GROUND_TRUTH]
    if partial:
        print(
            "\nOn these sets the ground truth leaves lines out, and a found line farther than a line height from "
            "every line it gives is not counted, for every method alike, in the found column, the F1s, the means "
            "and the targets (one nearer still counts against precision), nor is its text in the page CERs below "
            "(end to end, ours and Tesseract's; the crop cost; the page gaps): "
            + "; ".join(f"{name} ({PARTIAL_GROUND_TRUTH[name]})" for name in partial)
        )
    means = print_means(results)
    on_onnx = ({"mspt learned": bundled()} if "learned" in args.methods else {}) | finders
    fell_back = [label for label, finder in on_onnx.items() if finder is not None and not finder.onnx]
    if os.environ.get(ENGINE_VARIABLE) == "torch" and on_onnx:
        print(f"\n{ENGINE_VARIABLE}=torch: every line-finder row above ran on PyTorch")
    elif fell_back:  # their pages/s above are PyTorch's from where it stopped
        print(f"\nONNX Runtime did not run {', '.join(fell_back)}: PyTorch ran it from then on (see the warning)")
    if args.why:
        print_unmatched(results)

    readings = None
    printed = [name for name in sets if name in PRINTED]
    if not args.no_end_to_end and printed:
        print(
            f"\nEnd to end on the printed and typewritten sets ({args.split}), one thread: the bundled default model "
            f"({resolve('default')}); text: {reading.NORMALIZATION}\n"
        )
        readings = []
        for name in printed:
            readings.append(end_to_end(name, xmls_of[name]))
        print_readings(readings)
        print(f"\nreaders: {readings[0].on_ours.reader}; {readings[0].tesseract.reader}")
        print(
            "\nWhere the difference comes from: the ground-truth lines our segmentation found (box IoU >= 0.5), "
            "each read from its ground-truth crop and from ours (both cut along the polygon), and the lines only "
            "one side has (missed: text left unread; extra: read where the ground truth has no text)\n"
        )
        print_crop_costs([crop_cost(name, xmls_of[name]) for name in printed])
        print(
            "\nThe same pages' difference taken apart as on the handwritten sets below (the default model): "
            "our lines' text put in the order of the ground-truth lines they match (what reading order costs is "
            "the difference from 'on our lines'), the text of the ground-truth lines no found line matches, and "
            f"the text read on found lines that match none; and our lines against the true text {PAGE_ORDER}\n"
        )
        print_page_gaps([page_gap(name, xmls_of[name], "default") for name in printed], "default")

    handwritten = [name for name in sets if name in HANDWRITTEN]
    if not args.no_end_to_end and handwritten:
        print(
            f"\nEnd to end on the handwritten sets ({args.split}), one thread: each page read by `auto` (as `mspt "
            "transcribe` reads it) on the ground truth's lines and on ours, and where the difference goes: our "
            "lines' text put in the order of the ground-truth lines they match (box IoU >= 0.5; what reading order "
            "costs is the difference from 'on our lines'), the ground-truth lines no found line matches, and the "
            "text read on found lines that match none (lines found far from every given one on the partly "
            "transcribed sets left out, as above; nearer, some of it is still real text the ground truth leaves "
            f"out); and our lines against the true text {PAGE_ORDER}. Character error rates and shares of the "
            f"pages' true characters; text: {reading.NORMALIZATION}\n"
        )
        print_page_gaps([page_gap(name, xmls_of[name]) for name in handwritten])

    if args.split == "test" and "learned" in args.methods and not args.pages:
        left_out = [name for name in SETS if name not in sets]
        partial = f" (only {len(sets)} of the {len(SETS)} sets: not the issue's measure)" if left_out else ""
        print_targets(results, means, readings, partial)


if __name__ == "__main__":
    main()

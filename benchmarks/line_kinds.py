"""Line kinds and zones: how well the bundled classifier (``mspt_core.layout.kinds``) tells
headings, interlinear additions, marginal notes and page numbers from the text, per set of
``../shared/data`` that labels them, on one split.

Two ways, both against the ground truth's SegmOnto labels:

- **on the ground-truth lines**: the classifier sees the ground truth's own line boxes, so only
  its judgement is measured;
- **on our lines**: each page segmented as ``mspt transcribe`` does (the bundled line finder,
  kinds included), each ground-truth line paired with the found line that overlaps it (box IoU
  >= 0.5, as in ``segmentation.py``); a found line no ground-truth line pairs with is not judged.

For each kind: lines that have it, lines said to have it, how many of those rightly, precision,
recall and F1. Every line with a known label counts: one in a zone the classifier does not learn
(a table, a stamp, a running title, a footnote; ``kinds.OTHER``) that it calls a page number
counts against it. Lines without a label are not judged.
Before this classifier every found line was a ``DefaultLine`` of a ``MainZone`` (F1 0 for every
kind below). A kind the classifier's file switches off (its val F1 was too low) is never said.
No peer is measured: Tesseract does not say line kinds, and kraken's segmenter says them only
with a model trained on the user's own labels.

    .venv/bin/python benchmarks/line_kinds.py --split test
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, machine, shared_split  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.formats import read_document  # noqa: E402
from mspt_core.images import load_grey  # noqa: E402
from mspt_core.layout import segment  # noqa: E402
from mspt_core.layout.evaluate import Match  # noqa: E402
from mspt_core.layout.kinds import (  # noqa: E402
    LINE_KINDS,
    ZONE_KINDS,
    bundled,
    kind_scores,
    line_kind_index,
    page_examples,
    paired_classes,
    zone_kind_index,
)


def our_lines(truth) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(true kind, said kind, true zone, said zone) of each ground-truth line our segmentation found."""
    found = segment(load_grey(truth.image_path))
    true_kinds, true_zones, paired = paired_classes(truth, found)
    lines = list(found.lines_with_regions())
    said_kinds = np.array([line_kind_index(line.line_type) for line, _ in lines], dtype=np.int64)
    said_zones = np.array([zone_kind_index(region.region_type) for _, region in lines], dtype=np.int64)
    return true_kinds[paired], said_kinds[paired], true_zones[paired], said_zones[paired]


def table(title: str, per_set: dict[str, dict[str, Match]]) -> None:
    print(f"\n{title}\n")
    print("| set | kind | lines with it | said | right | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, scores in per_set.items():
        for kind, m in scores.items():
            if m.ground_truth or m.found:
                print(
                    f"| {name} | {kind} | {m.ground_truth} | {m.found} | {m.matched} | "
                    f"{m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} |"
                )


def scored(said_kinds, kinds, said_zones, zones) -> dict[str, Match]:
    return kind_scores(said_kinds, kinds, LINE_KINDS) | kind_scores(said_zones, zones, ZONE_KINDS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--sets", nargs="*", help="set names (default: every set in ../shared/data)")
    args = parser.parse_args()
    set_threads(1)
    classifier = bundled()
    if classifier is None:
        raise SystemExit("no bundled line-kind classifier (resources/layout/line-kinds.safetensors)")
    names = args.sets or sorted(p.name for p in DATA.iterdir() if p.is_dir())
    given: dict[str, dict[str, Match]] = {}
    ours: dict[str, dict[str, Match]] = {}
    started = time.perf_counter()
    for name in names:
        pages = [read_document(xml) for xml in shared_split(f"{name}/{args.split}")]
        pages = [page for page in pages if any(True for _ in page.lines())]
        if not pages:
            print(f"{name}: no {args.split} page with lines, left out")
            continue
        features, kinds, zones = (np.concatenate(c) for c in zip(*map(page_examples, pages), strict=True))
        said_kinds, said_zones = classifier.predict(features)
        given[name] = scored(said_kinds, kinds, said_zones, zones)
        true_k, our_k, true_z, our_z = (np.concatenate(c) for c in zip(*map(our_lines, pages), strict=True))
        ours[name] = scored(our_k, true_k, our_z, true_z)
    if not given:
        raise SystemExit("no set with pages to measure")
    for per_set in (given, ours):
        per_set["**all sets**"] = {
            kind: sum((scores[kind] for scores in per_set.values()), Match(0, 0, 0))
            for kind in next(iter(per_set.values()))
        }
    print(f"split {args.split}; {machine()}; {(time.perf_counter() - started) / 60:.1f} min")
    said = classifier.line_kinds[1:] + classifier.zone_kinds[1:]
    off = [k for k in LINE_KINDS[1:] + ZONE_KINDS[1:] if k not in said]
    print(f"kinds said: {', '.join(said)}; switched off: {', '.join(off) or 'none'}")
    table("On the ground-truth lines", given)
    table("On our lines (the ground-truth lines our segmentation found)", ours)


if __name__ == "__main__":
    main()

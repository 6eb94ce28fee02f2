"""Line kinds and zones: how well the bundled classifier (``mspt_core.layout.kinds``) tells
headings, interlinear additions, marginal notes and page numbers from the text, per set of
``../shared/data`` that labels them, on one split.

Two ways, both against the ground truth's SegmOnto labels:

- **on the ground-truth lines**: the classifier sees the ground truth's own line boxes, so only
  its judgement is measured;
- **on our lines**: each page segmented as ``mspt transcribe`` does (the bundled line finder,
  kinds included), each ground-truth line paired with the found line that overlaps it (box IoU
  >= 0.5, as in ``segmentation.py``); a found line no ground-truth line pairs with is not judged.

For each kind: lines that have it (support), lines said to have it, precision, recall and F1.
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
from mspt_core.layout.evaluate import pair_lines  # noqa: E402
from mspt_core.layout.kinds import (  # noqa: E402
    LINE_KINDS,
    ZONE_KINDS,
    bundled,
    kind_scores,
    line_kind_index,
    page_examples,
    zone_kind_index,
)


def our_lines(truth) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(true kind, said kind, true zone, said zone) of each ground-truth line our segmentation found."""
    grey = load_grey(truth.image_path)
    found = segment(grey)
    found_lines = [(line, region) for region in found.regions for line in region.lines]
    true_lines = [(line, region) for region in truth.regions for line in region.lines]
    pairs = pair_lines([line.polygon for line, _ in true_lines], [line.polygon for line, _ in found_lines], grey.shape)
    rows = [
        (
            line_kind_index(true_lines[i][0].line_type),
            line_kind_index(found_lines[j][0].line_type),
            zone_kind_index(true_lines[i][1].region_type),
            zone_kind_index(found_lines[j][1].region_type),
        )
        for i, j in pairs
    ]
    return (
        tuple(np.array(column, dtype=np.int64).reshape(-1) for column in zip(*rows, strict=True))
        if rows
        else (np.zeros(0, np.int64),) * 4
    )


def table(title: str, per_set: dict[str, dict]) -> None:
    print(f"\n{title}\n")
    print("| set | kind | lines with it | said | precision | recall | F1 |")
    print("|---|---|---|---|---|---|---|")
    for name, scores in per_set.items():
        for kind, s in scores.items():
            if s["support"] or s["said"]:
                figures = " | ".join(f"{s[k]:.3f}" for k in ("precision", "recall", "f1"))
                print(f"| {name} | {kind} | {s['support']} | {s['said']} | {figures} |")


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
    given, ours = {}, {}
    pooled_given: list[tuple] = []
    pooled_ours: list[tuple] = []
    started = time.perf_counter()
    for name in names:
        pages = [read_document(xml) for xml in shared_split(f"{name}/{args.split}")]
        g = [page_examples(page) for page in pages if any(True for _ in page.lines())]
        features, kinds, zones = (np.concatenate(c) for c in zip(*g, strict=True))
        said_kinds, said_zones = classifier.predict(features)
        o = [our_lines(page) for page in pages]
        true_k, our_k, true_z, our_z = (np.concatenate(c) for c in zip(*o, strict=True))
        if (kinds > 0).sum() + (zones > 0).sum() == 0 and (our_k > 0).sum() + (our_z > 0).sum() == 0:
            continue  # a set with neither labels nor anything said: nothing to show
        given[name] = kind_scores(said_kinds, kinds, LINE_KINDS) | kind_scores(said_zones, zones, ZONE_KINDS)
        ours[name] = kind_scores(our_k, true_k, LINE_KINDS) | kind_scores(our_z, true_z, ZONE_KINDS)
        pooled_given.append((said_kinds, kinds, said_zones, zones))
        pooled_ours.append((our_k, true_k, our_z, true_z))
    for per_set, pooled in ((given, pooled_given), (ours, pooled_ours)):
        a, b, c, d = (np.concatenate(x) for x in zip(*pooled, strict=True))
        per_set["**all sets**"] = kind_scores(a, b, LINE_KINDS) | kind_scores(c, d, ZONE_KINDS)
    print(f"split {args.split}; {machine()}; {(time.perf_counter() - started) / 60:.1f} min")
    said = classifier.line_kinds[1:] + classifier.zone_kinds[1:]
    off = [k for k in LINE_KINDS[1:] + ZONE_KINDS[1:] if k not in said]
    print(f"kinds said: {', '.join(said)}; switched off: {', '.join(off) or 'none'}")
    table("On the ground-truth lines", given)
    table("On our lines (the ground-truth lines our segmentation found)", ours)


if __name__ == "__main__":
    main()

"""Fit the script classifier of the ``auto`` reader (``mspt_core.choose``) and choose its threshold.

Features: the bundled print model's reading of each line (``choose.frame_summary``), as the
reader computes them at run time (engine auto). Labels: whether the line's set is handwritten.
Lines: up to ``--lines`` per set and crop style (along the line finder's outline of the line, as
``mspt transcribe`` cuts it; along its own polygon; as a box with a 0-10 px margin) of the
**train** splits of every set in ../shared/data, drawn with a fixed seed. The threshold, and
the mean character confidence below which a print reading is read again by the handwriting model
(``unsure_below``; ``choose.mean_confidence``, which for a reading of no text is how sure the
print model is that nothing is written), are the pair of THRESHOLDS x UNSURE whose mean CER over every set's **val**
lines (all three crop styles), reading each line as the ``auto`` reader would, is within 0.05 points
of the lowest and that hands the fewest lines to the slower handwriting model; test splits are
never read.

    .venv/bin/python packaging/default_model/script_classifier.py [--out FILE]

writes resources/reading/script-classifier.safetensors unless told otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # reading.py imports its siblings by name

import reading  # noqa: E402

from benchmarks.common import DATA, HANDWRITTEN, PRINTED  # noqa: E402
from mspt_core import choose, resources  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.data.splits import has_splits, split_xmls  # noqa: E402
from mspt_core.formats import read_document  # noqa: E402
from mspt_core.images import load_grey  # noqa: E402
from mspt_core.metrics import CER_TIE, cer  # noqa: E402
from mspt_core.models import DEFAULT_MODEL, bundled_models_dir  # noqa: E402
from mspt_core.recognize import LineRecognizer  # noqa: E402

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
UNSURE = (0.0, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)
STYLES = ("finder", "polygon", "box")


def train_crops(dataset: Path, style: str, rng: np.random.Generator, limit: int) -> list[tuple[np.ndarray, str]]:
    """Up to ``limit`` (crop, text) of the train split's lines with text, cut as the benchmarks
    cut them (``reading.native_crops``, ``reading.crop``); box crops with a margin drawn from 0-10
    px, as training cuts them."""
    if style == "finder":
        images, texts, _ = reading.native_crops(split_xmls(dataset, "train"), style=style)
        out = list(zip(images, texts, strict=True))
    else:
        out = []
        for xml in split_xmls(dataset, "train"):
            page = read_document(xml)
            grey = load_grey(page.image_path)
            for line in page.lines():
                if line.text.strip():
                    margin = int(rng.integers(0, 11)) if style == "box" else reading.BOX_MARGIN
                    out.append((reading.crop(grey, line, style, margin), line.text))
    if len(out) > limit:
        out = [out[i] for i in sorted(rng.choice(len(out), limit, replace=False))]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=resources.script_classifier())
    parser.add_argument("--lines", type=int, default=120, help="train lines per set and crop style")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_threads(args.threads)
    sets = sorted(DATA / name for name in (*PRINTED, *HANDWRITTEN))
    missing = [d.name for d in sets if not has_splits(d)]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not in {DATA}: the script needs ../shared/data beside the repository")
    started = time.monotonic()
    printed = LineRecognizer.from_model(str(bundled_models_dir() / DEFAULT_MODEL), device="cpu", threads=args.threads)
    handwriting = LineRecognizer.from_model(
        str(bundled_models_dir() / choose.HANDWRITING), device="cpu", threads=args.threads
    )
    rng = np.random.default_rng(args.seed)
    summaries, labels = [], []
    for dataset in sets:
        for style in STYLES:
            lines = train_crops(dataset, style, rng, args.lines)
            summaries += [choose.frame_summary(row) for row in printed.ctc_log_probs([c for c, _ in lines])]
            labels += [dataset.name in HANDWRITTEN] * len(lines)
    classifier = choose.fit_classifier(np.stack(summaries), np.asarray(labels, float))
    train_accuracy = float(((classifier.handwritten(np.stack(summaries)) > 0.5) == np.asarray(labels)).mean())
    print(f"fitted on {len(labels)} train lines ({sum(labels)} handwritten): accuracy {train_accuracy:.4f}")

    # Threshold and unsure_below on val: every line read by both models once, then each pair's
    # choice scored.
    rows = []
    for dataset in sets:
        for style in STYLES:
            images, texts, _ = reading.native_crops(split_xmls(dataset, "val"), style=style)
            log_probs = printed.ctc_log_probs(images)
            p = classifier.handwritten(np.stack([choose.frame_summary(row) for row in log_probs]))
            first = printed.decode(log_probs)
            second = [r.text for r in handwriting.read(images)]
            rows.append((dataset.name, style, texts, first, second, p))

    def to_handwriting(first: list, p: np.ndarray, t: float, unsure: float) -> list[bool]:
        rule = replace(classifier, threshold=t, unsure_below=unsure)
        return [rule.hands_over(q, r) for r, q in zip(first, p, strict=True)]

    def chosen(first: list, second: list[str], p: np.ndarray, t: float, unsure: float) -> list[str]:
        hand = to_handwriting(first, p, t, unsure)
        return [b if h else a.text for a, b, h in zip(first, second, hand, strict=True)]

    pairs = [(t, u) for t in THRESHOLDS for u in UNSURE]
    scores = {pair: float(np.mean([cer(x, chosen(y, z, p, *pair)) for _, _, x, y, z, p in rows])) for pair in pairs}
    # The handwriting model is the slower reader (deeper, and it may read each line thrice): of the
    # pairs within CER_TIE of the lowest mean CER, the one that hands it the fewest val lines, then
    # the threshold nearest 0.5.
    by_hand = {pair: int(sum(sum(to_handwriting(y, p, *pair)) for _, _, _, y, _, p in rows)) for pair in pairs}
    near_best = [pair for pair in pairs if scores[pair] <= min(scores.values()) + CER_TIE]
    threshold, unsure_below = min(near_best, key=lambda pair: (by_hand[pair], abs(pair[0] - 0.5), pair[1]))
    print("val mean CER by threshold (rows) and unsure_below (columns):")
    print("| threshold | " + " | ".join(map(str, UNSURE)) + " |\n|---|" + "---|" * len(UNSURE))
    for t in THRESHOLDS:
        print(f"| {t} | " + " | ".join(f"{100 * scores[t, u]:.2f} %" for u in UNSURE) + " |")
    print("\n| set | crop | lines | default | handwriting | auto | sent to handwriting | of them read twice |")
    print("|---|---|---|---|---|---|---|---|")
    val = {}
    for name, style, texts, a, b, p in rows:
        figures = [cer(texts, [r.text for r in a]), cer(texts, b), cer(texts, chosen(a, b, p, threshold, unsure_below))]
        val[f"{name}/{style}"] = round(figures[2], 4)
        sent = to_handwriting(a, p, threshold, unsure_below)
        print(
            f"| {name} | {style} | {len(texts)} | "
            + " | ".join(f"{100 * f:.2f} %" for f in figures)
            + f" | {sum(sent)} | {sum(s and q <= threshold for s, q in zip(sent, p, strict=True))} |"
        )
    classifier.threshold, classifier.unsure_below = threshold, unsure_below
    classifier.metadata = {
        "print_model": DEFAULT_MODEL,
        "print_model_sha256": choose.print_model_digest(bundled_models_dir() / DEFAULT_MODEL),
        "handwriting_model": choose.HANDWRITING,
        "provenance": {
            "made_by": "packaging/default_model/script_classifier.py",
            "train": [f"{d.name}/train" for d in sets],
            "train_lines": len(labels),
            "lines_per_set_and_style": args.lines,
            "seed": args.seed,
            "threshold_chosen_on": [f"{d.name}/val" for d in sets],
            "val_mean_cer_by_threshold_and_unsure_below": {f"{t} {u}": round(s, 4) for (t, u), s in scores.items()},
            "val_lines_to_handwriting_by_threshold_and_unsure_below": {f"{t} {u}": n for (t, u), n in by_hand.items()},
            "val_cer_auto": val,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    choose.save_classifier(args.out, classifier)
    print(
        f"\nthreshold {threshold}, unsure_below {unsure_below}; "
        f"written {args.out} in {(time.monotonic() - started) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()

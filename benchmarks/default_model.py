"""The bundled default model against Tesseract on the fondue test split, in one run: line CER and
lines/s on the same ground-truth line crops (one thread, all cores), then whole-page CER of our
segmentation + recognition against Tesseract's whole-page reading of the same pages.

    .venv/bin/python benchmarks/default_model.py              # the figures for RESULTS.md
    .venv/bin/python benchmarks/default_model.py --limit 10   # a quick check of the script

Issue 6's targets: our line CER at most Tesseract's, and our lines/s at least 2x Tesseract's at
equal threads. How lines and pages are cut, timed and compared: see reading.py. Without
--model the bundled default model is measured, whichever one is bundled at the time."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from common import FONDUE, machine, split_xmls

import reading
import tesseract

TARGET_SPEEDUP = 2.0


def describe(model_path: Path) -> tuple[str, str]:
    """A short label for the table and a sentence on what the model is and was trained on."""
    from mspt_core.models import read_metadata

    meta = read_metadata(model_path)
    prov = meta.get("provenance", {})
    size = prov.get("settings", {}).get("size", "?")
    head = meta.get("config", {}).get("head", "?")
    label = f"mspt {meta.get('name', model_path.name)} ({size}, {head})"
    about = (f"{model_path} — {meta.get('parameters', 0) / 1e6:.1f} M parameters, created "
             f"{prov.get('created', '?')}, trained on: {prov.get('data', '?')} "
             f"({prov.get('train_lines', '?')} lines), val CER {prov.get('val_cer', float('nan')):.2%}")
    return label, about


def verdict(lines: list[reading.Row]) -> list[str]:
    """Where mspt stands against the targets at each thread count both were run at."""
    ours = {r.threads: r for r in lines if r.reader.startswith("mspt")}
    peer = {r.threads: r for r in lines if r.reader.startswith("tesseract")}
    out = []
    for threads in sorted(ours.keys() & peer.keys()):
        a, b = ours[threads], peer[threads]
        speed = a.per_second / b.per_second
        out.append(f"- {threads} thread(s): CER {a.cer:.2%} vs {b.cer:.2%} "
                   f"({'met' if a.cer <= b.cer else f'missed by {(a.cer - b.cer) * 100:.2f} points'}); "
                   f"speed {speed:.2f}x Tesseract "
                   f"({'met' if speed >= TARGET_SPEEDUP else f'missed: target {TARGET_SPEEDUP:.0f}x'})")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="quick check: only the first N ground-truth lines, and only the pages they are on")
    parser.add_argument("--model", default=None,
                        help="a registry name or path (default: the bundled default model)")
    parser.add_argument("--no-pages", action="store_true", help="skip the whole-page comparison")
    args = parser.parse_args()

    from mspt_core.models import bundled_models_dir, resolve

    if not FONDUE.exists():
        sys.exit(f"needs {FONDUE} (the shared ground truth beside the clone)")
    if not tesseract.available():
        sys.exit("tesseract not found: install tesseract-ocr tesseract-ocr-eng to compare")
    # Without --model: the bundled default itself, even where a user model shadows its name.
    model_path = resolve(args.model) if args.model else bundled_models_dir() / "default"
    label, about = describe(model_path)
    cores = os.cpu_count() or 1
    threads = sorted({1, cores})

    images, texts, sources = reading.native_crops(split_xmls(FONDUE, args.split), args.limit)
    print(f"reading {len(images)} lines ...", file=sys.stderr, flush=True)
    line_rows = reading.mspt_lines(model_path, label, images, texts, threads)
    line_rows += reading.tesseract_lines(images, texts, threads)

    page_rows = []
    pages = list(dict.fromkeys(sources))
    if not args.no_pages:
        print(f"reading {len(pages)} whole pages ...", file=sys.stderr, flush=True)
        page_images, references = reading.reference_pages(pages)
        page_rows.append(reading.mspt_pages(model_path, label + " + mspt segmentation", page_images, references, 1))
        page_rows.append(reading.tesseract_pages(page_images, references))

    name = f"{FONDUE.name} {args.split} split"
    print(f"\nCommand: `.venv/bin/python benchmarks/default_model.py {' '.join(sys.argv[1:])}`".rstrip())
    print(f"— {dt.date.today()}, {machine()}, {tesseract.version()}.")
    print(f"Model: {about}.")
    print(f"\nLines: {len(images)} ground-truth lines of the {name} ({sum(map(len, texts))} chars), the same "
          f"crops for both readers. mspt at N threads: torch.set_num_threads(N), batched; Tesseract at N "
          f"threads: N single-threaded processes (OMP_THREAD_LIMIT=1) reading a list file each.\n")
    print(reading.markdown_table(line_rows, "lines/s"))
    print(f"\nTargets (line CER <= Tesseract's, lines/s >= {TARGET_SPEEDUP:.0f}x Tesseract's at equal threads):")
    print("\n".join(verdict(line_rows)))
    if page_rows:
        print(f"\nWhole pages: {len(pages)} page(s) of the {name}, one thread each; mspt = pipeline.transcribe "
              f"with use_ground_truth=False (= `mspt transcribe --no-ground-truth`), Tesseract = "
              f"`tesseract IMAGE stdout -l eng --psm 3`, OMP_THREAD_LIMIT=1. Reference: the page's "
              f"ground-truth lines. Compared: {reading.PAGE_NORMALIZATION}. pages/s includes loading "
              f"the image and, for Tesseract, the process start.\n")
        print(reading.markdown_table(page_rows, "pages/s"))


if __name__ == "__main__":
    main()

"""Train a recognizer on the fondue train split, then read the fondue test split's ground-truth
line crops with it and with Tesseract (--psm 7), on one core and on all cores, in one run.

    .venv/bin/python benchmarks/line_recognition.py --size small --steps 1500 --run-dir runs/bench-small

The run folder keeps checkpoints: running the command again resumes training (or, when it has
finished, goes straight to the evaluation). ``--model PATH`` evaluates an existing model instead.
Validation (model selection) uses the val split; figures are on the test split only."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

from common import FONDUE, machine, split_xmls

import tesseract
from mspt_core.data.lines import load_lines
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.crop import crop_line
from mspt_core.metrics import error_report


def native_crops(xmls: list[Path]) -> tuple[list, list[str]]:
    """Ground-truth line crops at their own pixel height (the same cut as training data)."""
    images, texts = [], []
    for xml in xmls:
        page = read_document(xml)
        grey = load_grey(page.image_path)
        for line in page.lines():
            if not line.text.strip():
                continue
            x0, y0, x1, y1 = line.bbox()
            images.append(crop_line(grey, line, max(8, round(y1 - y0))))
            texts.append(line.text)
    return images, texts


def train(args) -> Path:
    from mspt_core.cli.common import TrainingBar
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    train_set = load_lines(split_xmls(FONDUE, "train"), 40)
    val_set = load_lines(split_xmls(FONDUE, "val"), 40)
    print(f"train {len(train_set)} lines, val {len(val_set)} lines", flush=True)
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                             val_every=args.val_every, checkpoint_every=args.val_every, seed=0)
    started = time.perf_counter()
    outcome = train_recognizer(train_set, val_set, args.run_dir, settings, size=args.size,
                               on_progress=TrainingBar(settings.steps),
                               data_description="fondue-en-print-20 train split (val split for selection)")
    print(f"training: {outcome.result.status} at step {outcome.result.step}, best val CER "
          f"{outcome.result.best_metric:.4f} at step {outcome.result.best_step}, "
          f"{(time.perf_counter() - started) / 60:.1f} min in this invocation", flush=True)
    return outcome.model_path


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/bench-small"))
    parser.add_argument("--model", type=Path, default=None, help="evaluate this model; no training")
    args = parser.parse_args()

    import torch

    from mspt_core.models import load_model
    from mspt_core.recognize import LineRecognizer

    model_path = args.model or train(args)
    images, texts = native_crops(split_xmls(FONDUE, "test"))
    cores = os.cpu_count() or 1
    rows = []
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        reader = LineRecognizer(load_model(model_path), device="cpu")
        reader.read(images[:8])  # warm-up
        readings, seconds = timed(lambda: reader.read(images))
        report = error_report(texts, [r.text for r in readings])
        rows.append(("mspt " + model_path.name, threads, report.cer, report.wer, len(images) / seconds))
    if tesseract.available():
        with tempfile.TemporaryDirectory() as tmp:
            paths = tesseract.write_lines(images, Path(tmp))
            for processes in sorted({1, cores}):
                hyps, seconds = timed(lambda: tesseract.read_lines(paths, processes))
                report = error_report(texts, hyps)
                rows.append(("tesseract --psm 7 -l eng", processes, report.cer, report.wer, len(images) / seconds))
    else:
        print("tesseract not found: install tesseract-ocr tesseract-ocr-eng to compare", file=sys.stderr)

    print(f"\nfondue-en-print-20 test split: {len(images)} ground-truth lines, {sum(map(len, texts))} chars")
    print(f"{dt.date.today()}, {machine()}")
    if tesseract.available():
        print(tesseract.version())
    print("\n| reader | threads | CER | WER | lines/s |\n|---|---|---|---|---|")
    for name, threads, cer, wer, speed in rows:
        print(f"| {name} | {threads} | {cer:.2%} | {wer:.2%} | {speed:.1f} |")


if __name__ == "__main__":
    main()

"""Train a recognizer on the fondue train split, then read the fondue test split's ground-truth
line crops with it and with Tesseract (--psm 7), on one core and on all cores, in one run.

    .venv/bin/python benchmarks/line_recognition.py --size small --steps 1500 --run-dir runs/bench-small

The run folder keeps checkpoints: running the command again resumes training (or, when it has
finished, goes straight to the evaluation). ``--model PATH`` evaluates an existing model instead.
Validation (model selection) uses the val split; figures are on the test split only.

This script measures what training on the real train split alone gives; recognizer.py
measures the bundled models on every printed and typewritten set (and whole pages). Both read
lines with reading.py."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import reading
import tesseract
from common import FONDUE, machine, split_xmls, train_settings

from mspt_core.data.lines import load_lines
from mspt_core.model import config_for
from mspt_core.models import load_model


def train(args) -> Path:
    from mspt_core.cli.common import TrainingBar
    from mspt_core.train.supervised import train_recognizer

    height = config_for(args.size).height
    train_set = load_lines(split_xmls(FONDUE, "train"), height)
    val_set = load_lines(split_xmls(FONDUE, "val"), height)
    print(f"train {len(train_set)} lines, val {len(val_set)} lines", flush=True)
    settings = train_settings(vars(args), val_every=args.val_every, checkpoint_every=args.val_every, seed=0)
    started = time.perf_counter()
    outcome = train_recognizer(
        train_set,
        val_set,
        args.run_dir,
        settings,
        size=args.size,
        on_progress=TrainingBar(settings.steps),
        data_description="fondue-en-print-20 train split (val split for selection)",
    )
    print(
        f"training: {outcome.result.status} at step {outcome.result.step}, best val CER "
        f"{outcome.result.best_metric:.4f} at step {outcome.result.best_step}, "
        f"{(time.perf_counter() - started) / 60:.1f} min in this invocation",
        flush=True,
    )
    return outcome.model_path


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

    model_path = args.model or train(args)
    images, texts, _ = reading.native_crops(split_xmls(FONDUE, "test"))
    threads = sorted({1, os.cpu_count() or 1})
    loaded = load_model(model_path)
    rows = [
        reading.mspt_lines(reading.mspt_reader(loaded, "torch", n), "mspt " + model_path.name, images, texts, n)
        for n in threads
    ]
    if tesseract.available():
        rows += reading.tesseract_lines(images, texts, threads)
    else:
        print("tesseract not found: install tesseract-ocr tesseract-ocr-eng to compare", file=sys.stderr)

    print(f"\nfondue-en-print-20 test split: {len(images)} ground-truth lines, {sum(map(len, texts))} chars")
    print(f"{dt.date.today()}, {machine()}")
    if tesseract.available():
        print(tesseract.version())
    print("\n" + reading.markdown_table(rows, "lines/s"))


if __name__ == "__main__":
    main()

"""Choose how a bundled model reads its lines: how much wider than cut (``width_scale``,
``recognize.WIDTH_SCALES``), how far up and down each line is also read, the CTC outputs
averaged (``shifted_reads``, ``recognize.SHIFTED_READS``), below which first-pass frame
confidence a line is read so (``shifted_reads_below``; every line where the file says none), and
up to what shear such a line is also read with its slant straightened, the better-scored reading
kept (``deslanted_reads``, ``recognize.DESLANTED_READS``; 0: not).
Each value of ``--values`` reads the **val** splits' lines (each set weighs the same; the
13 sets for the handwriting model, ``--sets printed`` for the print model), cut as mspt cuts a
page's lines (``--crop finder``, the default; ``--crop polygon``: along the ground truth's own
outlines; ``lines_from_page_xml`` says how), with the model's
engine and language model, as mspt reads them; of the values within 0.05 points of the lowest
mean CER, the plainest and cheapest (SETTINGS) is written into the model's file, with what it
was chosen on. Test splits are never read.

    .venv/bin/python packaging/default_model/reading_settings.py width_scale --model handwriting --threads 1
    .venv/bin/python packaging/default_model/reading_settings.py shifted_reads --model handwriting --threads 1
    .venv/bin/python packaging/default_model/reading_settings.py shifted_reads_below --model handwriting --threads 1
    .venv/bin/python packaging/default_model/reading_settings.py deslanted_reads --model handwriting --threads 1

Choosing ``shifted_reads`` reads every line shifted and drops a bound chosen before: choose it
again after.

Run it after packaging/ship_model.py, then packaging/default_model/language_model.py, which
chooses the language model's fusion on lines read so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import CHOICE_CROPS, HANDWRITTEN, PRINTED, split_lines  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.metrics import CER_TIE, cer  # noqa: E402
from mspt_core.models import LoadedModel, bundled_models_dir, load_model, save_model  # noqa: E402
from mspt_core.recognize import (  # noqa: E402
    CHOSEN_READING,
    DESLANTED_READS,
    SHIFTED_READS,
    SHIFTED_READS_BELOW,
    WIDTH_SCALES,
    LineRecognizer,
)

# each setting: its allowed range, the value that reads lines plainest and cheapest (ties go to
# it), the values tried by default
SETTINGS = {
    "width_scale": (WIDTH_SCALES, 1.0, (1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3)),
    "shifted_reads": (SHIFTED_READS, 0.0, (0.0, 0.025, 0.05, 0.075, 0.1)),
    "shifted_reads_below": (SHIFTED_READS_BELOW, 0.0, (0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 1.0)),
    "deslanted_reads": (DESLANTED_READS, 0.0, (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)),
}
SETS = {"all": [*PRINTED, *HANDWRITTEN], "printed": list(PRINTED), "handwritten": list(HANDWRITTEN)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setting", choices=list(SETTINGS))
    parser.add_argument("--model", default="handwriting", help="the bundled model")
    parser.add_argument("--sets", choices=list(SETS), default="all", help="the val sets to choose on")
    parser.add_argument("--values", nargs="+", type=float, help="the values to try (default: the setting's own)")
    parser.add_argument("--crop", choices=CHOICE_CROPS, default="finder", help="how val lines are cut")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    (low, high), plain, default_values = SETTINGS[args.setting]
    values = args.values or list(default_values)
    if not all(low <= value <= high for value in values):
        parser.error(f"--values must lie from {low:g} to {high:g}")
    set_threads(args.threads)

    model_path = bundled_models_dir() / args.model
    loaded = load_model(model_path)
    if args.setting == "shifted_reads_below" and not loaded.metadata.get("shifted_reads"):
        raise SystemExit(f"{model_path} reads no line shifted: choose shifted_reads first")
    val = {dataset: split_lines(f"{dataset}/val", loaded.config.height, args.crop) for dataset in SETS[args.sets]}
    # Choosing how far to shift reads every line shifted; the bound is chosen afterwards (dropped
    # from the file here).
    reading = dict(loaded.metadata)
    if args.setting == "shifted_reads":
        reading.pop("shifted_reads_below", None)
        reading.pop("shifted_reads_below_choice", None)
    found: dict[float, dict[str, float]] = {}
    for value in values:
        started = time.monotonic()
        reader = LineRecognizer(LoadedModel(loaded.model, loaded.charset, {**reading, args.setting: value}))
        found[value] = {d: cer(lines.texts, [r.text for r in reader.read(lines.images)]) for d, lines in val.items()}
        mean = np.mean(list(found[value].values()))
        print(f"{args.setting} {value:g}: mean val CER {mean:.2%} ({time.monotonic() - started:.0f} s)", flush=True)
    means = {value: float(np.mean(list(per_set.values()))) for value, per_set in found.items()}
    best = min((v for v in means if means[v] <= min(means.values()) + CER_TIE), key=lambda v: abs(v - plain))

    print("\n| val set | " + " | ".join(f"{v:g}" for v in values) + " |")
    print("|---|" + "---|" * len(values))
    for d in val:
        print(f"| {d} | " + " | ".join(f"{found[v][d]:.2%}" for v in values) + " |")
    print("| mean | " + " | ".join(f"{means[v]:.2%}" for v in values) + " |")
    metadata = dict(reading)
    metadata[args.setting] = best
    metadata[f"{args.setting}_choice"] = {
        "chosen_on": [f"{d}/val" for d in val],
        "crops": args.crop,
        "language_model": metadata.get("language_model", {}).get("name"),
        "reading": {key: metadata[key] for key in CHOSEN_READING if key != args.setting and key in metadata},
        "mean_val_cer": {f"{v:g}": round(c, 5) for v, c in means.items()},
    }
    save_model(model_path, loaded.model, loaded.charset, metadata, half=True)
    print(f"{model_path}: {args.setting} {best:g} from now on")


if __name__ == "__main__":
    main()

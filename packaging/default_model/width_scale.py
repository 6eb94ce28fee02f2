"""Choose how much wider than cut a bundled model reads its lines (``recognize.WIDTH_SCALES``):
each scale of ``--scales`` reads the **val** splits' polygon crops (each set weighs the same; the
13 sets for the handwriting model, ``--sets printed`` for the print model) with the model's
engine and language model, as mspt reads them; the scale with the lowest mean CER is written
into the model's file (``"width_scale"``, with what it was chosen on). Test splits are never read.

    .venv/bin/python packaging/default_model/width_scale.py --model handwriting --threads 1

Run it after packaging/ship_model.py, then packaging/default_model/language_model.py, which
chooses the language model's fusion on lines read at the chosen scale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import HANDWRITTEN, PRINTED, shared_split  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.data.lines import LineSet, lines_from_page_xml  # noqa: E402
from mspt_core.metrics import cer  # noqa: E402
from mspt_core.models import LoadedModel, bundled_models_dir, load_model, save_model  # noqa: E402
from mspt_core.recognize import WIDTH_SCALES, LineRecognizer  # noqa: E402

SCALES = (1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3)
SETS = {"all": [*PRINTED, *HANDWRITTEN], "printed": list(PRINTED), "handwritten": list(HANDWRITTEN)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="handwriting", help="the bundled model")
    parser.add_argument("--sets", choices=list(SETS), default="all", help="the val sets to choose on")
    parser.add_argument("--scales", nargs="+", type=float, default=list(SCALES))
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    low, high = WIDTH_SCALES
    if not all(low <= scale <= high for scale in args.scales):
        parser.error(f"--scales must lie from {low:g} to {high:g}")
    set_threads(args.threads)

    model_path = bundled_models_dir() / args.model
    loaded = load_model(model_path)
    val = {}
    for dataset in SETS[args.sets]:
        lines = LineSet()
        for xml in shared_split(f"{dataset}/val"):
            lines.extend(lines_from_page_xml(xml, loaded.config.height, crop="polygon"))
        val[dataset] = lines
    found: dict[float, dict[str, float]] = {}
    for scale in args.scales:
        reader = LineRecognizer(LoadedModel(loaded.model, loaded.charset, dict(loaded.metadata, width_scale=scale)))
        found[scale] = {d: cer(lines.texts, [r.text for r in reader.read(lines.images)]) for d, lines in val.items()}
        print(f"width scale {scale:g}: mean val CER {np.mean(list(found[scale].values())):.2%}", flush=True)
    means = {scale: float(np.mean(list(per_set.values()))) for scale, per_set in found.items()}
    best = min(means, key=lambda scale: (means[scale], abs(scale - 1.0)))  # a tie keeps the lines as cut

    print("\n| val set | " + " | ".join(f"x{s:g}" for s in args.scales) + " |")
    print("|---|" + "---|" * len(args.scales))
    for d in val:
        print(f"| {d} | " + " | ".join(f"{found[s][d]:.2%}" for s in args.scales) + " |")
    print("| mean | " + " | ".join(f"{means[s]:.2%}" for s in args.scales) + " |")
    metadata = dict(loaded.metadata)
    metadata["width_scale"] = best
    metadata["width_scale_choice"] = {
        "chosen_on": [f"{d}/val" for d in val],
        "crops": "polygon",
        "language_model": metadata.get("language_model", {}).get("name"),
        "mean_val_cer": {f"{s:g}": round(c, 5) for s, c in means.items()},
    }
    save_model(model_path, loaded.model, loaded.charset, metadata, half=True)
    print(f"{model_path} reads its lines {best:g} times as wide as cut from now on")


if __name__ == "__main__":
    main()

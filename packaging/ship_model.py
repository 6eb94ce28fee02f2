"""Copy a trained model into resources/models/ as the bundled model NAME (default: "default"),
with fp16 weights to keep the repository small. Its provenance travels along unchanged.

    .venv/bin/python packaging/ship_model.py ../runs/default-fast/best [--name default] [--note TEXT] \\
        [--keep-reading] [--int8-check fondue-en-print-20/val ehri-typewritten-en-de/val ...]

With --int8-check, the shipped weights read the named validation splits (polygon and box crops)
with ONNX Runtime in fp32 and in int8 (greedily, with the reading settings kept, if any: the
check's record says which); when int8 stays within 0.05 CER points, the model's
metadata says so (``inference.int8``) and mspt reads it in int8 on CPUs by default. The model
is shipped without a language model, read as cut and once (the check reads greedily);
packaging/default_model/language_model.py chooses its language model and fusion, and
reading_settings.py how wide to read its lines and which to read shifted too, each in turn, in
the order docs/recognizer.md gives (``--keep-reading`` ships a round trained on from a bundled
model with the reading settings it carries from it, until they are chosen again). It
is shipped to read with paper at both line ends ("end_margin": ``recognize.END_MARGIN``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mspt_core.metrics import CER_TIE  # noqa: E402
from mspt_core.models import LoadedModel, bundled_models_dir, load_model, save_model  # noqa: E402
from mspt_core.recognize import CHOSEN_READING, END_MARGIN  # noqa: E402


def int8_check(loaded: LoadedModel, splits: list[str]) -> dict:
    """Validation CER of the model read by ONNX Runtime in fp32 and int8, and the verdict."""
    from benchmarks.common import shared_split
    from mspt_core.data.lines import LineSet, lines_from_page_xml
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.supervised import lines_cer

    lines = LineSet()
    for name in splits:
        for xml in shared_split(name):
            for crop in ("polygon", "box"):
                lines.extend(lines_from_page_xml(xml, loaded.config.height, crop=crop))
    readers = {
        engine: LineRecognizer(loaded, device="cpu", engine=engine, language_model=False)
        for engine in ("onnx", "onnx-int8")
    }
    for engine, reader in readers.items():
        if reader.engine != engine:  # it fell back to PyTorch: nothing would be measured
            raise SystemExit(f"cannot read with {engine} here (see the warning above); no int8 check made")
    fp32, int8 = (lines_cer(reader, lines) for reader in readers.values())
    return {
        "int8": int8 - fp32 <= CER_TIE,
        "val_cer_onnx_fp32": round(fp32, 5),
        "val_cer_onnx_int8": round(int8, 5),
        "val_lines": len(lines),
        "val_splits": splits,
        "val_crops": "polygon, and box + 4 px",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--name", default="default")
    parser.add_argument("--note", default="", help="added to the provenance, e.g. how it was made")
    parser.add_argument(
        "--keep-reading",
        action="store_true",
        help="keep the reading settings the model carries from the base it was trained on from, instead of "
        "shipping it read as cut and once (reading_settings.py chooses them again)",
    )
    parser.add_argument(
        "--int8-check",
        nargs="+",
        default=None,
        metavar="SET/SPLIT",
        help="validation splits of ../shared/data on which int8 must hold its CER",
    )
    args = parser.parse_args()
    loaded = load_model(args.model)
    metadata = dict(loaded.metadata, name=args.name)
    metadata.pop("inference", None)
    # A model fine-tuned from a base carries the base's language model settings; they were
    # chosen for the base: this model reads greedily until language_model.py chooses its own.
    metadata.pop("language_model", None)
    # So is how it reads lines (recognize.py): reading_settings.py chooses this model's own, or,
    # with --keep-reading, the base's are kept (and said to be).
    for setting in CHOSEN_READING:
        choice = metadata.pop(f"{setting}_choice", None)
        if not args.keep_reading:
            metadata.pop(setting, None)
        elif setting in metadata:  # chosen for the base (with its language model), not for this model
            metadata[f"{setting}_choice"] = {**(choice or {}), "kept_from_base": True}
    # Bundled models read with paper at both line ends (recognize.END_MARGIN); the int8 check and
    # language_model.py measure them so.
    metadata["end_margin"] = END_MARGIN
    if args.note:
        metadata["provenance"] = dict(metadata.get("provenance", {}), note=args.note)
    target = save_model(bundled_models_dir() / args.name, loaded.model, loaded.charset, metadata, half=True)
    if args.int8_check:
        shipped = load_model(target)  # the fp16-rounded weights users get
        metadata["inference"] = int8_check(shipped, args.int8_check)
        metadata["inference"]["reading"] = {k: metadata[k] for k in CHOSEN_READING if k in metadata}
        target = save_model(target, shipped.model, shipped.charset, metadata, half=True)
        print(f"int8 check: {metadata['inference']}")
    size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    print(f"{target}: {size:.1f} MB")


if __name__ == "__main__":
    main()

"""Copy a trained model into resources/models/ as the bundled model NAME (default: "default"),
with fp16 weights to keep the repository small. Its provenance travels along unchanged.

    .venv/bin/python packaging/ship_model.py runs/bench-small/best [--name default] [--note TEXT]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mspt_core.models import bundled_models_dir, load_model, save_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--name", default="default")
    parser.add_argument("--note", default="", help="added to the provenance, e.g. how it was made")
    args = parser.parse_args()
    loaded = load_model(args.model)
    metadata = dict(loaded.metadata, name=args.name)
    if args.note:
        metadata["provenance"] = dict(metadata.get("provenance", {}), note=args.note)
    target = save_model(bundled_models_dir() / args.name, loaded.model, loaded.charset, metadata, half=True)
    size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    print(f"{target}: {size:.1f} MB")


if __name__ == "__main__":
    main()

"""Page CER of what `make demo` does: the bundled sample page through our own segmentation and a
reader (`mspt transcribe --no-ground-truth`), beside the same reader on the page's true lines.

    .venv/bin/python benchmarks/demo_page.py [--model NAME]     # default: auto, as make demo
    MSPT_RESOURCES=DIR .venv/bin/python benchmarks/demo_page.py  # another set of bundled files

The sample page is rendered text (resources/samples/make_samples.py), not a test split: this is
the README's promise about `make demo`, measured, not a figure about real scans.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import reading
from common import machine

from mspt_core import resources
from mspt_core.models import AUTO, resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=AUTO, help="model name or path, or auto (the default, as make demo)")
    args = parser.parse_args()
    path = Path(AUTO) if args.model == AUTO else resolve(args.model)
    images, references = reading.reference_pages([resources.sample_page().with_suffix(".xml")])
    rows = [
        reading.mspt_pages(path, f"{args.model} on the true lines", images, references, 1, use_ground_truth=True),
        reading.mspt_pages(path, f"{args.model} on our lines (make demo)", images, references, 1),
    ]
    print(f"{dt.date.today()}  {machine()}  resources: {resources.ROOT}")
    print(f"text: {reading.NORMALIZATION}\n")
    print(reading.markdown_table(rows, "pages/s"))


if __name__ == "__main__":
    main()

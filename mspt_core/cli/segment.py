"""mspt segment: page images -> PAGE XML (or ALTO) with the text regions and lines found."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "segment", help="find text regions and lines, write PAGE XML or ALTO",
        description="Find text regions and lines (polygons + baselines, in reading order) in page "
                    "images or PDFs and write one XML file per page into --out. A page that already "
                    "has a PAGE/ALTO file with lines beside it (same name, .xml) keeps those lines "
                    "unless --no-ground-truth is given.")
    p.add_argument("pages", nargs="+", type=Path, metavar="PAGE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--format", choices=["page", "alto"], default="page", help="output format (default: page)")
    p.add_argument("--rtl", action="store_true", help="right-to-left script: read columns right to left")
    p.add_argument("--dpi", type=float, default=300, help="rasterization resolution for PDF pages (default 300)")
    p.add_argument("--no-ground-truth", action="store_true",
                   help="always segment, even when a PAGE/ALTO file with lines sits beside the image")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.formats import write_document
    from mspt_core.layout import page_lines

    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.pages:
        pages = page_lines(path, use_ground_truth=not args.no_ground_truth, rtl=args.rtl, dpi=args.dpi)
        for index, page in enumerate(pages):
            name = path.stem if len(pages) == 1 else f"{path.stem}_p{index + 1:03d}"
            target = args.out / f"{name}.xml"
            if target.resolve() == path.resolve().with_suffix(".xml"):
                sys.stderr.write(f"mspt: {target} is the input's own XML; not overwritten\n")
                continue
            write_document(page, target, args.format)
            lines = sum(1 for _ in page.lines())
            print(f"{path}\t{target}\t{len(page.regions)} regions\t{lines} lines\t"
                  f"{page.metadata.get('segmentation', '')}")
    return 0

"""mspt segment: page images -> PAGE XML (or ALTO) with the text regions and lines found."""

from __future__ import annotations

import argparse
from pathlib import Path

from mspt_core.cli.common import add_dpi_option, add_segmenter_option


def register(subparsers) -> None:
    from mspt_core.formats import XML_FORMATS

    p = subparsers.add_parser(
        "segment",
        help="find text regions and lines, write PAGE XML or ALTO",
        description="Find text regions and lines (polygons + baselines, in reading order) in page "
        "images or PDFs and write one XML file per page into --out. A page that already "
        "has a PAGE/ALTO file with lines beside it (same name, .xml) keeps those lines "
        "unless --no-ground-truth is given.",
    )
    p.add_argument("pages", nargs="+", type=Path, metavar="PAGE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--format", choices=XML_FORMATS, default="page", help="output format (default: page)")
    p.add_argument("--rtl", action="store_true", help="right-to-left script: read columns right to left")
    add_segmenter_option(p)
    add_dpi_option(p)
    p.add_argument(
        "--no-ground-truth",
        action="store_true",
        help="always segment, even when a PAGE/ALTO file with lines sits beside the image",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.cli.common import check_output_folder, check_output_names
    from mspt_core.formats import write_document
    from mspt_core.inputs import page_stem
    from mspt_core.layout import page_lines

    check_output_names([(path.stem, path) for path in args.pages], args.out)
    check_output_folder(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.pages:
        pages = page_lines(
            path, use_ground_truth=not args.no_ground_truth, rtl=args.rtl, dpi=args.dpi, segmenter=args.segmenter
        )
        for index, page in enumerate(pages):
            target = args.out / f"{page_stem(path, index, len(pages))}.xml"
            write_document(page, target, args.format)
            lines = sum(1 for _ in page.lines())
            print(
                f"{path}\t{target}\t{len(page.regions)} regions\t{lines} lines\t{page.metadata.get('segmentation', '')}"
            )
    return 0

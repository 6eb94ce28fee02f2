"""mspt recognize: line images -> text, one ``PATH<TAB>TEXT`` line per input, in input order."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mspt_core.cli.common import add_reader_options, line_reader, positive_int, set_threads


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "recognize",
        help="read line images and print PATH<TAB>TEXT",
        description="Recognize line images. Prints one PATH<TAB>TEXT line per input, in input order.",
    )
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add_reader_options(p)
    p.add_argument("--confidence", action="store_true", help="add a third column: line confidence")
    p.add_argument("--batch-size", type=positive_int, default=32, help="lines per recognition batch")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.data.lines import line_from_image

    set_threads(args.threads)
    reader = line_reader(args, batch_size=args.batch_size, beam=args.beam, head=args.head)
    # Read every image first, so a bad file stops us before any output is printed.
    images = [line_from_image(path, reader.height) for path in args.images]
    for path, reading in zip(args.images, reader.read(images), strict=True):
        row = f"{path}\t{reading.text}"
        if args.confidence:
            row += f"\t{reading.confidence:.3f}"
        sys.stdout.write(row + "\n")
    return 0

"""mspt recognize: line images -> text, one ``PATH<TAB>TEXT`` line per input, in input order."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mspt_core.cli.common import (
    add_device_option,
    add_engine_option,
    add_model_option,
    add_threads_option,
    line_reader,
    non_negative_int,
    positive_int,
    set_threads,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "recognize",
        help="read line images and print PATH<TAB>TEXT",
        description="Recognize line images. Prints one PATH<TAB>TEXT line per input, in input order.",
    )
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    add_model_option(p)
    p.add_argument("--beam", type=non_negative_int, default=0, help="CTC beam width (0 or 1: greedy, the default)")
    p.add_argument("--head", choices=["ctc", "decoder"], default=None, help="head to read with (default: the model's)")
    p.add_argument("--confidence", action="store_true", help="add a third column: line confidence")
    p.add_argument("--batch-size", type=positive_int, default=32)
    add_device_option(p)
    add_engine_option(p)
    add_threads_option(p)
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

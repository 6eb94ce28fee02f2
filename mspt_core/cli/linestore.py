"""mspt linestore: build and inspect the unlabeled line store that pre-training reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mspt_core.cli.common import add_height_option, print_skipped


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "linestore",
        help="build an unlabeled line store for pre-training from an archive",
        description="Cut every text line of an archive into a sharded store of height-normalized line "
        "images. Text in the XML files is ignored: pre-training needs none.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = sub.add_parser("build", help="write a new store from page scans, ALTO/PAGE folders or line images")
    build.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="files or folders: ALTO/PAGE XML (+ images), page scans, PDFs, line images",
    )
    build.add_argument("--out", "-o", type=Path, required=True, help="store folder (must not hold a store yet)")
    add_height_option(build)
    build.add_argument("--lines-per-shard", type=int, default=1024)
    build.add_argument(
        "--images",
        choices=["auto", "pages", "lines"],
        default="auto",
        help="what image files without an XML beside them are (auto: by their shape)",
    )
    build.set_defaults(run=run_build)
    info = sub.add_parser("info", help="lines, shards and height of a store")
    info.add_argument("store", type=Path)
    info.set_defaults(run=run_info)


def run_build(args: argparse.Namespace) -> int:
    from mspt_core.data.linestore import build_line_store

    def tick(count: int) -> None:
        if count % 1000 == 0:
            print(f"\r{count} lines", end="", file=sys.stderr, flush=True)

    store, skipped = build_line_store(args.inputs, args.out, args.height, args.lines_per_shard, args.images, tick)
    assert store is not None  # None only when asked to stop, which nothing here does
    print(file=sys.stderr)
    print_skipped(skipped)
    print(f"{len(store)} lines in {store.num_shards} shards at height {store.height}: {store.root}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from mspt_core.data.linestore import LineStore

    store = LineStore(args.store)
    print(f"{len(store)} lines in {store.num_shards} shards at height {store.height}")
    return 0

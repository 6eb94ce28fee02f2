"""mspt transcribe: page images or PDFs -> segmentation + recognition -> PAGE/ALTO/text/hOCR/PDF.

Folders are walked, work can be split into shards and a run resumes where it stopped: see
``mspt_core.cli.batch``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mspt_core.cli import batch
from mspt_core.cli.common import (
    add_dpi_option,
    add_reader_options,
    add_segmenter_option,
    check_output_folder,
    line_reader,
    positive_int,
    print_error,
    print_note,
    set_threads,
)


def register(subparsers) -> None:
    from mspt_core.formats import FORMATS

    p = subparsers.add_parser(
        "transcribe",
        help="find the lines of page images or PDFs and read them",
        description="The main job from the command line: for every page, find regions and lines (or reuse "
        "a PAGE/ALTO file with lines beside the image), read the lines, and write the results.",
    )
    p.add_argument(
        "pages",
        nargs="+",
        type=Path,
        metavar="PAGE",
        help="page images or PDF files, or folders (walked, the tree mirrored in --out)",
    )
    p.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="output folder (created)")
    p.add_argument(
        "--to",
        nargs="+",
        choices=FORMATS,
        default=["page"],
        metavar="FORMAT",
        help="one or more of page, alto, txt, hocr, pdf (default: page)",
    )
    add_reader_options(p, head=False)
    p.add_argument(
        "--no-ground-truth",
        action="store_true",
        help="always segment, even when a PAGE/ALTO file with lines sits beside an image",
    )
    p.add_argument(
        "--reread",
        action="store_true",
        help="also read lines that already have text from a PAGE/ALTO file beside the image "
        "(by default that text is kept, as it may be a person's transcription)",
    )
    p.add_argument(
        "--given-outlines",
        action="store_true",
        help="cut lines from a PAGE/ALTO file beside the image along their own outlines (by default along "
        "the line finder's outline of each line it finds whole: handwriting reads better so, print about the same)",
    )
    p.add_argument("--rtl", action="store_true", help="right-to-left script: read columns right to left")
    add_segmenter_option(p)
    add_dpi_option(p)
    p.add_argument("--batch-size", type=positive_int, default=32, help="lines per recognition batch")
    p.add_argument("--pages-per-batch", type=positive_int, default=4, help="pages whose lines are read together")
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="report an input that cannot be read, skip it and write the others; exit code 2 at the end "
        "with one error line per skipped input (default: stop at the first, writing nothing)",
    )
    p.add_argument(
        "--shard",
        type=batch.parse_shard,
        default=None,
        metavar="K/N",
        help="do only shard K of N (K from 0 to N-1), chosen by a hash of each page's name, so N "
        "processes or cluster jobs given the same inputs share the work without overlap "
        "(default: from torchrun's RANK/WORLD_SIZE or a Slurm array's SLURM_ARRAY_TASK_ID/"
        "SLURM_ARRAY_TASK_COUNT when set, else all pages)",
    )
    p.add_argument(
        "--redo",
        action="store_true",
        help="transcribe every page again (default: skip input files whose outputs in --out all "
        "exist, so a stopped run resumes where it stopped)",
    )
    p.set_defaults(run=run)


def _readable_inputs(paths: list[Path], failed: list | None) -> list[Path]:
    """The inputs that are readable files; the others raise, or with --keep-going go to ``failed``."""
    from mspt_core.errors import MsptError
    from mspt_core.images import check_image_file

    readable = []
    for path in paths:
        try:
            check_image_file(path)
        except MsptError as error:
            if failed is None:
                raise
            failed.append(error)
        else:
            readable.append(path)
    return readable


def _write_page(job, target: Path, fmt: str, notes: list[str]) -> None:
    from mspt_core.errors import FormatError
    from mspt_core.formats import write_document

    try:
        write_document(job.page, target, fmt, notes=notes)
    except FormatError as error:  # e.g. duplicate IDs in the PAGE/ALTO file beside the input
        raise FormatError(f"{job.source}: its results cannot be written: {error}") from error


def _plan(args: argparse.Namespace) -> list[batch.PageFile]:
    """The page files this process transcribes: its shard's, less those done already."""
    files = batch.page_files(args.pages, args.out)
    batch.check_names(files, args.out)
    shard = args.shard or batch.shard_from_environment()
    if shard is not None:
        mine = [file for file in files if shard.owns(file.name)]
        print_note(f"shard {shard} (from {shard.origin}): {len(mine)} of {len(files)} input files")
        files = mine
    if not args.redo:
        todo = [file for file in files if not batch.is_done(file, args.to, args.out)]
        if len(todo) < len(files):
            print_note(
                f"{len(files) - len(todo)} of {len(files)} input files already done in {args.out}, "
                "skipped (--redo transcribes them again)"
            )
        files = todo
    return files


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from mspt_core.errors import MsptError
    from mspt_core.formats import write_document
    from mspt_core.pipeline import transcribe

    set_threads(args.threads)
    failed: list[MsptError] | None = [] if args.keep_going else None
    check_output_folder(args.out)
    files = _plan(args)
    readable = set(_readable_inputs([file.path for file in files], failed))
    files = [file for file in files if file.path in readable]
    if not files:
        for error in failed or []:
            print_error(error)
        return 2 if failed else 0
    args.device = batch.device_for_local_rank(args.device)
    reader = line_reader(args, batch_size=args.batch_size, beam=args.beam)
    args.out.mkdir(parents=True, exist_ok=True)
    by_path = {file.path: file for file in files}
    by_source: dict[Path, list] = {}  # pages of an input file until all are written
    bar = tqdm(unit="page", file=sys.stderr, dynamic_ncols=True)  # a PDF's page count is known only when read
    notes: list[str] = []

    def write_group(jobs) -> None:
        for job in jobs:
            file = by_path[job.source]
            pages = by_source.setdefault(job.source, [])
            pages.append(job.page)
            name = batch.page_name(file, job.page.image_index, job.pages_in_source)
            for fmt, target in zip(
                [f for f in args.to if f in batch.PER_PAGE], batch.page_outputs(name, args.to), strict=True
            ):
                _write_page(job, args.out / target, fmt, notes)
            if len(pages) == job.pages_in_source:  # the file's last page: its own outputs, then forget it
                for fmt, target in zip(
                    [f for f in args.to if f not in batch.PER_PAGE], batch.file_outputs(file.name, args.to), strict=True
                ):
                    write_document(pages, args.out / target, fmt, notes=notes)
                lines = sum(1 for page in pages for _ in page.lines())
                segmentation = pages[0].metadata.get("segmentation", "")
                bar.write(f"{job.source}\t{len(pages)} pages\t{lines} lines\t{segmentation}", file=sys.stdout)
                del by_source[job.source]
        bar.update(len(jobs))

    transcribe(
        [file.path for file in files],
        reader,
        use_ground_truth=not args.no_ground_truth,
        rtl=args.rtl,
        dpi=args.dpi,
        pages_per_batch=args.pages_per_batch,
        reread=args.reread,
        on_pages=write_group,
        segmenter=args.segmenter,
        on_bad_input=None if failed is None else failed.append,
        keep_pages=False,
        finder_outlines=not args.given_outlines,
    )
    bar.close()
    for note in dict.fromkeys(notes):
        print_note(note)
    for error in failed or []:
        print_error(error)
    return 2 if failed else 0

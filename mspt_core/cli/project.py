"""mspt project: work on a project folder of the app from the command line: make one from page
images, read its pages not yet corrected, export it."""

from __future__ import annotations

import argparse
from pathlib import Path

from mspt_core.cli.common import add_dpi_option, add_runtime_options, add_segmenter_option, positive_int
from mspt_core.formats import FORMATS


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "project",
        help="work on a project folder of the app: new, transcribe, export",
        description="A project folder (page images, page/*.xml, project.json) as the app makes it. "
        "A project open in the app is refused until the app closes it.",
    )
    commands = p.add_subparsers(dest="project_command", required=True, metavar="ACTION")

    new = commands.add_parser("new", help="make a project folder, optionally with pages")
    new.add_argument("project", type=Path, metavar="PROJECT", help="a new or empty folder")
    new.add_argument("pages", nargs="*", type=Path, metavar="PAGE", help="page images, PDFs, or folders of them")
    new.add_argument("--name", default=None, help="the project's name (default: the folder's)")
    add_dpi_option(new)
    new.set_defaults(run=run_new)

    transcribe = commands.add_parser(
        "transcribe",
        help="find lines and read the pages not yet corrected",
        description="Read every line nobody corrected, on the pages that have one (pages without lines "
        "are segmented first), with the project's model and line finder unless --model and --segmenter "
        "say otherwise; each page is "
        "saved as soon as it is read. Corrected lines are never touched.",
    )
    transcribe.add_argument("project", type=Path, metavar="PROJECT")
    _add_pages_option(transcribe)
    transcribe.add_argument(
        "--model",
        "-m",
        default=None,
        help="model name or path (default: the project's model, else auto: print and handwriting line by line)",
    )
    add_segmenter_option(
        transcribe,
        default=None,
        after="(learned where its model file is present); default: the project's line finder, which the app's "
        "Page → Line finder sets (auto in a new project)",
    )
    add_runtime_options(transcribe)
    transcribe.set_defaults(run=run_transcribe)

    export = commands.add_parser(
        "export",
        help="write the project's pages as page, alto, txt, hocr or pdf",
        description="page and alto give one file per page in OUT/page/ or OUT/alto/; txt, hocr and pdf "
        "one file for all pages, named after the project. What a format cannot keep is printed as a note.",
    )
    export.add_argument("project", type=Path, metavar="PROJECT")
    export.add_argument(
        "--to", nargs="+", required=True, choices=FORMATS, metavar="FORMAT", help="one or more of " + ", ".join(FORMATS)
    )
    export.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="output folder (created)")
    _add_pages_option(export)
    export.set_defaults(run=run_export)


def _add_pages_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pages",
        nargs="+",
        type=positive_int,
        default=None,
        metavar="N",
        help="page numbers, from 1 (default: transcribe, the pages not yet corrected; export, all)",
    )


def run_new(args: argparse.Namespace) -> int:
    from mspt_core.cli.common import print_error
    from mspt_core.project import Project
    from mspt_core.project.folder import Rejected

    project = Project.create(args.project, args.name)
    rejected: list[Rejected] = []
    try:
        added = project.add_files(args.pages, dpi=args.dpi, rejected=rejected) if args.pages else []
    finally:
        project.close()
    print(f"{project.root}\t{len(added)} pages")
    for problem in rejected:
        print_error(f"{problem.path}: not added: {problem.reason}")
    return 2 if rejected else 0


def run_transcribe(args: argparse.Namespace) -> int:
    from mspt_core.choose import reader_name
    from mspt_core.cli.common import line_reader, set_threads
    from mspt_core.project import Project
    from mspt_core.project.transcribe import page_numbers, transcribe_project

    set_threads(args.threads)
    project = Project.open(args.project)
    try:
        indices = page_numbers(project, args.pages) if args.pages else None
        args.model = args.model or project.model or None
        reader = line_reader(args)
        segmenter = args.segmenter or project.segmenter
        print(f"model: {reader_name(args.model)}")
        print(f"line finder: {segmenter}")

        def report(index: int, page) -> None:
            corrected, total = project.progress(index)
            print(f"page {index + 1}\t{total} lines\t{corrected} corrected\t{project.entries[index].image}")

        done = transcribe_project(project, reader, indices, segmenter, on_page=report)
    finally:
        project.close()
    print(f"{done.lines} lines read on {done.pages} pages")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from mspt_core.cli.common import check_output_folder, print_note
    from mspt_core.project import Project
    from mspt_core.project.transcribe import page_numbers

    project = Project.open(args.project)
    notes: list[str] = []
    try:
        indices = page_numbers(project, args.pages) if args.pages else list(range(len(project)))
        check_output_folder(args.out)
        written = [path for fmt in args.to for path in project.export(indices, fmt, args.out, notes)]
    finally:
        project.close()
    for note in dict.fromkeys(notes):
        print_note(note)
    for path in written:
        print(path)
    return 0

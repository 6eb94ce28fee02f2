"""mspt convert: PAGE / ALTO files (or folders of them) to PAGE, ALTO, text, hOCR or PDF."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    from mspt_core.formats import FORMATS

    p = subparsers.add_parser(
        "convert",
        help="convert PAGE/ALTO files to page, alto, txt, hocr or pdf",
        description="Read PAGE XML or ALTO files (a folder means every PAGE/ALTO file under it, "
        "e.g. a Transkribus or eScriptorium export) and write them in another format. "
        "page and alto give one file per page; txt, hocr and pdf one file for all inputs.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="IN", help="PAGE or ALTO files or folders")
    p.add_argument("--to", required=True, choices=FORMATS, help="output format")
    p.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    p.add_argument(
        "--name", default=None, help="file name (without extension) for txt/hocr/pdf; default: the input's name"
    )
    p.add_argument(
        "--max-image-side",
        type=int,
        default=None,
        help="pdf: downscale page images whose longer side exceeds this many pixels",
    )
    p.add_argument(
        "--allow-outside-images",
        action="store_true",
        help="pdf: embed page images that lie outside the input file's folder (by default refused, "
        "so that a file from elsewhere cannot pull other images into the PDF)",
    )
    p.set_defaults(run=run)


def _expand(inputs: list[Path]) -> list[tuple[Path, bool]]:
    """(file, named explicitly) for every input; folders give their XML files, sorted."""
    from mspt_core.errors import FormatError
    from mspt_core.inputs import XML_SUFFIX, file_problem, folder_files

    files = []
    for path in inputs:
        if path.is_dir():
            found = folder_files(path, {XML_SUFFIX})
            if not found:
                raise FormatError(f"{path}: folder holds no .xml files")
            files += [(p, False) for p in found]
        else:
            problem = file_problem(path)
            if problem:
                raise FormatError(f"{path}: {problem}")
            files.append((path, True))
    return files


def run(args: argparse.Namespace) -> int:
    from mspt_core.cli.common import check_output_folder, print_note
    from mspt_core.errors import FormatError
    from mspt_core.formats import (
        EXTENSIONS,
        XML_FORMATS,
        atomic_write,
        detect_format,
        read_pages,
        to_bytes,
        write_document,
    )
    from mspt_core.inputs import page_stem

    notes: list[str] = []
    sources: list[tuple[Path, list]] = []
    for path, explicit in _expand(args.inputs):
        if not explicit:
            try:
                detect_format(path)
            except FormatError as error:  # e.g. the METS file of a Transkribus export
                notes.append(f"{path}: skipped: {str(error).removeprefix(f'{path}: ')}")
                continue
        sources.append((path, read_pages(path, notes)))
    if not sources:
        raise FormatError("no PAGE or ALTO file among the inputs")
    if args.to == "pdf":
        _refuse_unfit_pages(sources)
    if args.to == "pdf" and not args.allow_outside_images:
        _refuse_images_outside(sources)
    check_output_folder(args.out)

    written: list[Path] = []
    if args.to in XML_FORMATS:
        # Build every file before writing any, so bad input leaves nothing half-converted.
        planned: dict[Path, bytes] = {}
        for path, pages in sources:
            for i, page in enumerate(pages):
                stem = page_stem(path, i, len(pages))
                target = args.out / (stem + EXTENSIONS[args.to])
                if target in planned:
                    raise FormatError(
                        f"{path}: would overwrite {target}, written for another input; convert the inputs separately"
                    )
                try:
                    planned[target] = to_bytes(page, target, args.to, notes)
                except FormatError as error:  # e.g. duplicate IDs: the input is what to fix
                    raise FormatError(f"{path}: cannot be converted: {error}") from error
        for target, data in planned.items():
            written.append(atomic_write(target, data))
    else:
        name = args.name or (sources[0][0].stem if len(sources) == 1 else _common_name(args.inputs))
        target = args.out / (name + EXTENSIONS[args.to])
        pages = [page for _, ps in sources for page in ps]
        written.append(write_document(pages, target, args.to, notes, max_image_side=args.max_image_side))
    for note in notes:
        print_note(note)
    for path in written:
        print(path)
    return 0


def _refuse_unfit_pages(sources: list[tuple[Path, list]]) -> None:
    """Pages whose size cannot make a PDF page, named by their input file."""
    from mspt_core.errors import FormatError
    from mspt_core.formats.pdf import page_problem

    for path, pages in sources:
        for page in pages:
            problem = page_problem(page)
            if problem:
                raise FormatError(f"{path}: {problem}")


def _refuse_images_outside(sources: list[tuple[Path, list]]) -> None:
    """The PDF embeds the images the inputs name: only those in each input's own folder."""
    from mspt_core.errors import FormatError
    from mspt_core.formats import image_folder, image_inside

    for path, pages in sources:
        for page in pages:
            if page.image_path is not None and not image_inside(page.image_path, path):
                raise FormatError(
                    f"{path}: its page image {page.image_path} lies outside {image_folder(path)}; "
                    "not embedded, in case the file came from someone else "
                    "(pass --allow-outside-images to embed it)"
                )


def _common_name(inputs: list[Path]) -> str:
    first = inputs[0].resolve()
    folder = first if first.is_dir() else first.parent
    if folder.name == "page":  # Transkribus: name the document, not its page/ folder
        folder = folder.parent
    return folder.name or "document"

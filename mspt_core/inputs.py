"""What every input file must be before mspt opens it: there, a regular file (not a folder, and
not a FIFO or device, which would block a read forever), and named in UTF-8 (a name that is not
cannot be written into PAGE/ALTO or printed). Each reader wraps the reason in its own error.

Also the one home of what counts as an input: which files are page images, how folders are
walked, where ground truth lies beside an image, and how the pages of a multi-page file are named."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or None when it can."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as error:
        return f"cannot read it ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return "it is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device); mspt reads only files"
    return name_problem(path)


def name_problem(path: Path) -> str | None:
    """Why the name of ``path`` is unusable, or None."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8 (e.g. Latin-1 from an old archive); rename it"
    return None


# --- which files are inputs, and where their companions are ------------------------------------

# Raster images mspt reads (a line image or a page scan) ...
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".jp2"})
PDF_SUFFIX = ".pdf"
# ... and the files that hold pages: those and PDFs.
PAGE_SUFFIXES = IMAGE_SUFFIXES | {PDF_SUFFIX}
XML_SUFFIX = ".xml"  # PAGE and ALTO files


def has_suffix(path: Path, suffixes: Iterable[str]) -> bool:
    """Whether ``path`` ends in one of ``suffixes`` (lower case, with the dot), in any case."""
    return path.suffix.lower() in suffixes


def folder_files(
    folder: Path,
    suffixes: Iterable[str] | None = None,
    recursive: bool = True,
    *,
    hidden: bool = True,
    skip: Iterable[Path] = (),
    regular: bool = True,
) -> list[Path]:
    """The files in ``folder`` (and below it, when ``recursive``), sorted by path; only those
    ending in one of ``suffixes`` when given. Links to folders are not followed.

    ``hidden=False`` leaves out names that start with a dot, files and folders alike (a partial
    download, ``.git``); folders in ``skip`` are not entered (an output folder inside the input).
    ``regular=False`` keeps entries that are not regular files either (a pipe, a broken link),
    for a caller that reports each input it cannot read rather than pass over it."""
    wanted = None if suffixes is None else frozenset(suffixes)
    pruned = {Path(path).resolve() for path in skip}
    found: list[Path] = []
    for top, subfolders, names in os.walk(folder):
        here = Path(top)
        subfolders[:] = [
            name
            for name in subfolders
            if recursive and (hidden or not name.startswith(".")) and not (pruned and (here / name).resolve() in pruned)
        ]
        for name in names:
            path = here / name
            if (hidden or not name.startswith(".")) and (wanted is None or has_suffix(path, wanted)):
                if not regular or path.is_file():
                    found.append(path)
    return sorted(found)


def expand_folders(
    paths: Iterable[str | Path], suffixes: Iterable[str] | None = None, recursive: bool = True
) -> list[Path]:
    """Every path as given, except folders, which become their files (see ``folder_files``)."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(folder_files(path, suffixes, recursive) if path.is_dir() else [path])
    return files


def ground_truth_candidates(image: Path) -> list[Path]:
    """Where a PAGE/ALTO file for the page image ``image`` may lie, most likely first: beside it
    with the same stem (``scan.jpg`` -> ``scan.xml``, eScriptorium's export) or in ``page/``
    beside it (Transkribus' export)."""
    image = Path(image)
    return [image.with_suffix(XML_SUFFIX), image.parent / "page" / f"{image.stem}{XML_SUFFIX}"]


def page_stem(source: Path, index: int, count: int) -> str:
    """The name (without suffix) of what is made of page ``index`` (from 0) of ``source``, a file
    of ``count`` pages: ``scan`` for a one-page ``scan.png``, ``book_p003`` for the third page of
    ``book.pdf``."""
    stem = Path(source).stem
    return stem if count == 1 else f"{stem}_p{index + 1:03d}"

"""Document files in and out: PAGE XML and ALTO (read + write), plain text, hOCR and searchable
PDF (write). One module per format; this module picks the right one.

    page = read_document("scan_001.xml")                 # PAGE or ALTO, by root namespace
    write_document(page, "out/scan_001.xml", "alto")     # one XML file per page
    write_document(pages, "out/book.pdf", "pdf")         # one file for a whole document

Readers and writers take an optional ``notes`` list: whatever a file held that the target
cannot keep is reported there, one line per kind of loss, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mspt_core.atomic import atomic_write
from mspt_core.document import Page
from mspt_core.errors import FormatError

from . import alto, hocr, pagexml, pdf, text
from ._common import image_folder, image_inside
from ._report import Report
from .xmlsafe import parse_file

# The output format names (the one list the CLI, the app and the writers take), their file
# endings, and those written as one XML file per page.
FORMATS = ("page", "alto", "txt", "hocr", "pdf")
EXTENSIONS = {"page": ".xml", "alto": ".xml", "txt": ".txt", "hocr": ".hocr", "pdf": ".pdf"}
XML_FORMATS = ("page", "alto")

__all__ = [
    "FORMATS",
    "EXTENSIONS",
    "XML_FORMATS",
    "detect_format",
    "read_document",
    "read_pages",
    "write_document",
    "to_bytes",
    "atomic_write",
    "image_folder",
    "image_inside",
]


def detect_format(path: str | Path) -> str:
    """ "page" or "alto", from the root element and its namespace."""
    return _detect(parse_file(path), path)


def _detect(root, path) -> str:
    if pagexml.is_page(root):
        return "page"
    if alto.is_alto(root):
        return "alto"
    raise FormatError(f"{path}: neither PAGE XML nor ALTO (root element {root.tag})")


def read_pages(path: str | Path, notes: list[str] | None = None) -> list[Page]:
    """Every page of a PAGE or ALTO file (an ALTO file may hold several)."""
    root = parse_file(path)  # parsed once, then handed to the reader
    if _detect(root, path) == "page":
        return [pagexml.read(path, notes, root)]
    return alto.read(path, notes, root)


def read_document(path: str | Path, notes: list[str] | None = None) -> Page:
    """The one page of a PAGE or ALTO file."""
    pages = read_pages(path, notes)
    if len(pages) != 1:
        raise FormatError(f"{path}: holds {len(pages)} pages; use read_pages()")
    return pages[0]


def _as_pages(page_or_pages: Page | Iterable[Page]) -> list[Page]:
    return [page_or_pages] if isinstance(page_or_pages, Page) else list(page_or_pages)


def to_bytes(page_or_pages: Page | Iterable[Page], path: str | Path, fmt: str, notes: list[str] | None = None) -> bytes:
    """The bytes ``write_document`` would write to ``path`` (which decides relative image
    paths), for formats other than pdf."""
    pages = _as_pages(page_or_pages)
    path = Path(path)
    report = Report()
    if fmt in XML_FORMATS:
        if len(pages) != 1:
            raise FormatError(f"{path}: {fmt} holds one page per file; got {len(pages)}")
        data = (pagexml if fmt == "page" else alto).to_bytes(pages[0], path, report)
    elif fmt == "txt":
        data = text.to_bytes(pages)
    elif fmt == "hocr":
        data = hocr.to_bytes(pages, path)
    else:
        raise FormatError(f"{path}: unknown output format {fmt!r}; one of {', '.join(FORMATS)}")
    report.flush(str(path), notes)
    return data


def write_document(
    page_or_pages: Page | Iterable[Page],
    path: str | Path,
    fmt: str,
    notes: list[str] | None = None,
    max_image_side: int | None = None,
    title: str | None = None,
) -> Path:
    """Write atomically to ``path`` in ``fmt`` (one of FORMATS): page / alto take one page;
    txt / hocr / pdf take a whole document. ``max_image_side`` downscales PDF page images;
    ``title`` is the PDF's title (default: the file name without its ending)."""
    path = Path(path)
    if fmt == "pdf":
        pdf.to_file(_as_pages(page_or_pages), path, max_image_side, title)
        return path
    return atomic_write(path, to_bytes(page_or_pages, path, fmt, notes))

"""Plain text: lines in reading order, one per line; pages separated by a form feed (the
convention of Tesseract and of `pdftotext`), so that one file holds a whole document."""

from __future__ import annotations

from mspt_core.document import Page

PAGE_SEPARATOR = "\f"


def to_text(pages: list[Page]) -> str:
    out = []
    for page in pages:
        # A line break inside a line's text would shift every later line: write it as a space.
        out.append("".join(line.text.replace("\r", " ").replace("\n", " ") + "\n" for line in page.lines()))
    return PAGE_SEPARATOR.join(out)


def to_bytes(pages: list[Page]) -> bytes:
    return to_text(pages).encode("utf-8")

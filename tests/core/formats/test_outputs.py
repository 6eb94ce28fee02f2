"""Text, hOCR and searchable-PDF output on real pages."""

from __future__ import annotations

import re

import pypdfium2 as pdfium
from lxml import html

from mspt_core.formats import read_document, to_bytes, write_document
from tests.conftest import split_xmls


def _squash(text: str) -> str:
    # pdfium reports a hyphen that ends a line as U+FFFE (a soft hyphen marker).
    return re.sub(r"\s+", " ", text.replace("\ufffe", "-")).strip()


def test_text_has_reading_order_lines_and_page_separators(fondue, tmp_path):
    pages = [read_document(p) for p in split_xmls(fondue, "test")[:2]]
    out = write_document(pages, tmp_path / "doc.txt", "txt")
    chunks = out.read_text(encoding="utf-8").split("\f")
    assert len(chunks) == 2
    for page, chunk in zip(pages, chunks, strict=True):
        assert chunk.split("\n")[:-1] == [ln.text for ln in page.lines()]


def test_hocr_lines_carry_text_and_boxes(cremma, tmp_path):
    page = read_document(split_xmls(cremma, "test")[0])
    doc = html.fromstring(to_bytes([page], tmp_path / "doc.hocr", "hocr"))
    lines = doc.xpath("//*[@class='ocr_line']")
    assert [ln.get("id") for ln in lines] == [ln.id for ln in page.lines()]
    for el, line in zip(lines, page.lines(), strict=True):
        assert el.text_content() == line.text
        x0, y0, x1, y1 = (int(v) for v in re.search(r"bbox (\d+) (\d+) (\d+) (\d+)", el.get("title")).groups())
        bx0, by0, bx1, by1 = line.bbox()
        assert x0 <= bx0 and y0 <= by0 and x1 >= bx1 and y1 >= by1
    assert doc.xpath("//*[@class='ocr_page']")[0].get("title").startswith('image "')


def _check_pdf_page(pdf_page, page) -> None:
    """The text layer reads back as the page's lines in reading order, and every character of
    a line lies inside that line's box."""
    tp = pdf_page.get_textpage()
    n = tp.count_chars()
    text = tp.get_text_range(0, n)
    lines = [ln for ln in page.lines() if ln.text.strip()]
    assert _squash(text) == _squash(" ".join(ln.text for ln in lines))
    sx = pdf_page.get_width() / page.width
    sy = pdf_page.get_height() / page.height
    # Walk the characters in order, assigning them to the lines they spell.
    i = 0
    for line in lines:
        want = _squash(line.text).replace(" ", "")
        got = ""
        x0, y0, x1, y1 = line.bbox()
        tol = 2.0  # pixels: glyph boxes are computed in floating point
        while len(got) < len(want):
            assert i < n, line.id
            ch = tp.get_text_range(i, 1).replace("\ufffe", "-")
            if ch.strip():
                left, bottom, right, top = tp.get_charbox(i)
                cx = (left + right) / 2 / sx
                cy = page.height - (bottom + top) / 2 / sy
                assert x0 - tol <= cx <= x1 + tol and y0 - tol <= cy <= y1 + tol, (line.id, ch, cx, cy)
                got += ch
            i += 1
        assert got == want, line.id


def test_searchable_pdf_text_layer(fondue, cremma, tmp_path):
    # One printed page with straight lines, one handwritten page with sloping baselines.
    pages = [read_document(split_xmls(fondue, "test")[0]), read_document(split_xmls(cremma, "test")[0])]
    assert any(ln.text.rstrip().endswith(("-", "¬")) for p in pages for ln in p.lines())
    out = write_document(pages, tmp_path / "doc.pdf", "pdf", max_image_side=1000)
    pdf = pdfium.PdfDocument(out)
    assert len(pdf) == 2
    for i, page in enumerate(pages):
        _check_pdf_page(pdf[i], page)
        assert abs(pdf[i].get_width() / pdf[i].get_height() - page.width / page.height) < 1e-3
    pdf.close()


def test_searchable_pdfs_of_different_pages_read_back_whole_in_one_process(fondue, cremma, tmp_path):
    # Two documents with different character sets once embedded fonts of the same internal
    # name, and the reader then took the second document's text through the first one's map.
    pages = [read_document(split_xmls(cremma, "test")[1]), read_document(split_xmls(fondue, "test")[0])]
    for i, page in enumerate(pages):
        pdf = pdfium.PdfDocument(write_document([page], tmp_path / f"doc{i}.pdf", "pdf", max_image_side=600))
        _check_pdf_page(pdf[0], page)
        pdf.close()

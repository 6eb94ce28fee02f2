"""Whole-page reading as the benchmarks score it: a page whose ground truth transcribes only some
lines (EHRI leaves handwritten margin notes out) is judged only near the lines it gives, for
mspt and Tesseract alike, and Tesseract's page is taken apart into its lines."""

from __future__ import annotations

import pytest

from mspt_core.document import box_polygon
from mspt_core.formats import read_document
from tests.conftest import REPO, split_xmls


@pytest.fixture
def reading(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # the scripts import their siblings by name
    import reading

    return reading


def test_a_partial_pages_text_keeps_lines_near_the_given_ones_and_drops_a_far_note(reading, typewritten):
    xml = split_xmls(typewritten, "val")[0]
    truth = list(read_document(xml).lines())
    given = reading.given_outlines([xml])[0]
    lines = [(line.polygon, line.text) for line in truth]
    _, y0, _, y1 = truth[0].bbox()
    height = y1 - y0
    right = max(line.bbox()[2] for line in truth)
    nudged = [(x + 0.5 * height, y) for x, y in lines[1][0]]  # the second line found a little off
    far = box_polygon(right + 3 * height, y0, right + 12 * height, y1)  # a note in the margin, right of all text
    found = [lines[0], (nudged, lines[1][1]), (far, "handwritten note"), *lines[2:]]
    text = reading._judged_text(found, given)
    assert text == "\n".join(line.text for line in truth)
    assert "handwritten note" in reading._judged_text(found, None)  # a fully transcribed set keeps every line


TSV = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
    "1\t1\t0\t0\t0\t0\t0\t0\t800\t600\t-1\t\n"
    "2\t1\t1\t0\t0\t0\t10\t10\t500\t80\t-1\t\n"
    "3\t1\t1\t1\t0\t0\t10\t10\t500\t80\t-1\t\n"
    "4\t1\t1\t1\t1\t0\t10\t10\t500\t30\t-1\t\n"
    "5\t1\t1\t1\t1\t1\t10\t10\t100\t30\t96.1\tDear\n"
    "5\t1\t1\t1\t1\t2\t120\t10\t100\t30\t95.0\tSir,\n"
    "4\t1\t1\t1\t2\t0\t10\t50\t500\t30\t-1\t\n"
    "5\t1\t1\t1\t2\t1\t10\t50\t60\t30\t12.0\t \n"
    "4\t1\t2\t1\t1\t0\t600\t10\t90\t30\t-1\t\n"
    "5\t1\t2\t1\t1\t1\t600\t10\t90\t30\t91.5\tLondon\n"
)


def test_tesseracts_page_comes_apart_into_its_lines_in_its_order(reading, monkeypatch):
    import tesseract

    monkeypatch.setattr(tesseract, "_tesseract", lambda *args, **kwargs: TSV)
    lines = tesseract.read_page(REPO / "page.png", "eng")
    assert lines == [((10, 10, 500, 30), "Dear Sir,"), ((600, 10, 90, 30), "London")]  # the empty line is not text
    assert tesseract.page_line_boxes(REPO / "page.png") == [(10, 10, 500, 30), (10, 50, 500, 30), (600, 10, 90, 30)]

"""Whole-page reading as the benchmarks score it: a page whose ground truth transcribes only some
lines (EHRI leaves handwritten margin notes out) is judged only near the lines it gives, for
mspt and Tesseract alike, and Tesseract's page is taken apart into its lines."""

from __future__ import annotations

import pytest

from mspt_core.document import Line, Page, Region, box_polygon
from mspt_core.formats import read_document
from tests.conftest import DATA, REPO, _require, split_xmls


@pytest.fixture
def reading(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # the scripts import their siblings by name
    import reading

    return reading


@pytest.fixture
def partial_page(typewritten):
    """An EHRI val page (its ground truth leaves handwritten margin notes out): its XML, its lines,
    the given outlines, and two notes in its left margin beside the first line, one a half and
    one one and a half line heights from the nearest text (the reach is one line height)."""
    xml = split_xmls(typewritten, "val")[0]
    truth = list(read_document(xml).lines())
    height = sorted(line.bbox()[3] - line.bbox()[1] for line in truth)[len(truth) // 2]
    left = min(line.bbox()[0] for line in truth)
    _, y0, _, y1 = truth[0].bbox()
    assert left > 2 * height  # the margin is wide enough for both notes
    near = box_polygon(left - 1.5 * height, y0, left - 0.5 * height, y1)
    far = box_polygon(0, y0, left - 1.5 * height - 1, y1)
    return xml, truth, near, far


def test_a_partial_pages_text_keeps_what_lies_near_the_given_lines_and_drops_a_far_note(reading, partial_page):
    xml, truth, near, far = partial_page
    given = reading.judged_near("ehri-typewritten-en-de", [xml])[0]
    found = [(line.polygon, line.text) for line in truth]
    found[1:1] = [(near, "near note"), (far, "far note")]
    expected = [truth[0].text, "near note", *(line.text for line in truth[1:])]
    assert reading._judged_texts([found], [given]) == ["\n".join(expected)]
    assert "far note" in reading._judged_texts([found], None)[0]  # a fully transcribed set keeps every line
    assert reading.judged_near("fondue-en-print-20", [xml]) is None


def test_tesseracts_lines_are_judged_by_their_boxes(reading, partial_page, monkeypatch):
    import tesseract

    xml, truth, _, far = partial_page

    def box(polygon):
        xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
        return round(min(xs)), round(min(ys)), round(max(xs) - min(xs)), round(max(ys) - min(ys))

    lines = [(box(far), "Eingang 12.3.")] + [(box(line.polygon), line.text) for line in truth]
    monkeypatch.setattr(tesseract, "read_page", lambda *args, **kwargs: lines)
    reference = "\n".join(line.text for line in truth)
    judged = reading.tesseract_pages([xml], [reference], near=reading.judged_near("ehri-typewritten-en-de", [xml]))
    in_full = reading.tesseract_pages([xml], [reference])
    assert judged.cer == 0 and in_full.cer > 0


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

    calls = []
    monkeypatch.setattr(tesseract, "_tesseract", lambda *args, **kwargs: calls.append(args) or TSV)
    lines = tesseract.read_page(REPO / "page.png", "eng")
    assert lines == [((10, 10, 500, 30), "Dear Sir,"), ((600, 10, 90, 30), "London")]  # the empty line is not text
    assert calls[-1][1:] == ("-l", "eng", "--psm", "3", "tsv")  # the page read as --psm 3 does
    assert tesseract.page_line_boxes(REPO / "page.png") == [(10, 10, 500, 30), (10, 50, 500, 30), (600, 10, 90, 30)]


def _shared_page(name: str, split: str, stem: str):
    return read_document(next(x for x in split_xmls(_require(DATA / name), split) if x.stem == stem))


def test_the_ground_truths_own_order_is_put_right_where_it_lists_a_line_before_one_above_it(reading):
    # OCR-D's file lists a paragraph's short last line right after its first two (a train page)
    page = _shared_page("ocrd-print-de", "train", "clauren_mimil_1815_0146")
    texts = [line.text for line in page.lines()]
    last = next(t for t in texts if t.startswith("auch gar zu wild"))
    assert texts.index(last) == 3
    lines, swaps = reading.in_page_order(page)
    assert swaps > 0 and sorted(line.text for line in lines) == sorted(texts)  # every line kept, once
    put_right = [line.text for line in lines]
    assert put_right[put_right.index(last) - 1].startswith("zu paſſe kommen")  # now after the line above it
    for region in page.regions:
        mine = [line for line in lines if any(line is own for own in region.lines)]
        middles = [(line.bbox()[1] + line.bbox()[3]) / 2 for line in mine]
        assert middles == sorted(middles)  # each one-column block top to bottom


def test_a_ground_truth_in_page_order_and_lines_side_by_side_stay_as_they_are(reading, typewritten):
    page = read_document(split_xmls(typewritten, "val")[0])
    lines, swaps = reading.in_page_order(page)
    assert swaps == 0 and [line.text for line in lines] == [line.text for line in page.lines()]
    # a marginal note listed after the line it stands beside, a little higher, is not moved
    body = Line("body", polygon=box_polygon(300, 100, 900, 140), text="body")
    note = Line("note", polygon=box_polygon(20, 90, 200, 125), text="note")
    lines, swaps = reading.in_page_order(Page(1000, 1000, regions=[Region("r", lines=[body, note])]))
    assert swaps == 0 and [line.text for line in lines] == ["body", "note"]

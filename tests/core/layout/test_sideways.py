"""Lines written sideways: cut upright for reading, their words boxed where they lie, found by
the segmenter, and written out in every format, on real pages turned a quarter and on real
pages with text up the margin."""

from __future__ import annotations

import numpy as np
import pypdfium2 as pdfium
import pytest
from lxml import html

from mspt_core.document import Line, Page, Region
from mspt_core.formats import read_document, to_bytes, write_document
from mspt_core.images import load_grey
from mspt_core.layout.crop import crop_box, crop_line
from mspt_core.layout.evaluate import match_lines
from mspt_core.layout.segment import segment
from mspt_core.layout.sideways import sideways_areas
from mspt_core.layout.turn import DOWNWARD, UPRIGHT, UPWARD, line_turn, turn_points, turned_line, unturn_points
from mspt_core.metrics import char_errors
from mspt_core.pipeline import PageJob, recognize_pages
from mspt_core.recognize import open_reader
from tests.conftest import DATA, _require, split_xmls

TURNS = [(1, UPWARD), (3, DOWNWARD)]  # np.rot90's k on an upright page, and the turn its lines then need


@pytest.fixture(scope="module")
def page_17th_c_letters():
    """A 17th-c. letter's outer leaf (cremma-mss-17 train f430): the address written across the
    fold, sideways, in five lines, with ground truth whose baselines run down the page."""
    dataset = _require(DATA / "cremma-mss-17-handwritten-fr")
    return read_document(next(x for x in split_xmls(dataset, "train") if x.stem == "f430"))


@pytest.fixture(scope="module")
def upright_page(fondue):
    doc = read_document(split_xmls(fondue, "val")[0])
    return doc, load_grey(doc.image_path)


def test_the_turn_follows_the_baseline_down_or_up_the_page():
    assert line_turn(Line("a", baseline=[(10, 50), (300, 60)])) == UPRIGHT
    assert line_turn(Line("b", baseline=[(300, 50), (10, 40)])) == UPRIGHT  # right to left
    assert line_turn(Line("c", baseline=[(40, 10), (45, 300)])) == DOWNWARD
    assert line_turn(Line("d", baseline=[(40, 300), (38, 10)])) == UPWARD
    assert line_turn(Line("e", polygon=[(0, 0), (5, 0), (5, 90)])) == UPRIGHT  # no baseline
    points = [(3.0, 7.0), (120.5, 40.0)]
    for k in range(4):
        assert unturn_points(turn_points(points, k, (200, 150)), k, (200, 150)) == points
    page = np.arange(200 * 150).reshape(200, 150)  # each pixel its own value
    for k in range(4):
        (x, y), (tx, ty) = (17, 93), turn_points([(17, 93)], k, page.shape)[0]
        assert np.rot90(page, k)[int(ty), int(tx)] == page[y, x]


@pytest.mark.parametrize(("k", "turn"), TURNS)
def test_a_line_on_a_page_turned_a_quarter_is_cut_exactly_as_upright(upright_page, k, turn):
    doc, grey = upright_page
    turned = np.rot90(grey, k)
    for line in list(doc.lines())[:8]:
        sideways = turned_line(line, k, grey.shape)
        assert line_turn(sideways) == turn
        assert np.array_equal(crop_line(turned, sideways), crop_line(grey, line))
        assert np.array_equal(crop_box(turned, sideways), crop_box(grey, line))


def _page_of(lines: list[Line], shape: tuple[int, int]) -> Page:
    return Page(width=shape[1], height=shape[0], regions=[Region(id="r1", lines=lines)])


def test_words_of_a_sideways_line_are_boxed_where_they_lie_on_the_page(upright_page):
    doc, grey = upright_page
    reader = open_reader("default")
    lines = list(doc.lines())[:6]
    upright = _page_of([turned_line(ln, 0, grey.shape) for ln in lines], grey.shape)
    recognize_pages([PageJob(upright, grey, doc.image_path)], reader)
    turned = np.rot90(grey, 1)
    sideways = _page_of([turned_line(ln, 1, grey.shape) for ln in lines], turned.shape)
    recognize_pages([PageJob(sideways, turned, doc.image_path)], reader)
    for up, side in zip(upright.lines(), sideways.lines(), strict=True):
        assert side.text == up.text and len(side.words) == len(up.words) > 0
        for a, b in zip(up.words, side.words, strict=True):
            # the upright word's box, its edges turned with the page's: (x, y) -> (y, width - x)
            edges = [(y, grey.shape[1] - x) for x, y in a.polygon]
            assert sorted(b.polygon) == sorted(edges), a.text


@pytest.mark.parametrize(("k", "turn"), TURNS)
def test_a_page_scanned_sideways_has_its_lines_found_running_down_or_up(upright_page, k, turn):
    doc, grey = upright_page
    truth = [turned_line(ln, k, grey.shape).polygon for ln in doc.lines()]
    found = list(segment(np.ascontiguousarray(np.rot90(grey, k))).lines())
    match = match_lines(truth, [ln.polygon for ln in found], (grey.shape[1], grey.shape[0]))
    assert match.f1 >= 0.95, match
    assert sum(line_turn(ln) == turn for ln in found) >= 0.95 * len(found)


def test_an_upright_page_has_no_sideways_lines(upright_page):
    _, grey = upright_page
    assert all(line_turn(ln) == UPRIGHT for ln in segment(grey).lines())


def test_a_searched_column_of_ordinary_handwriting_adds_nothing(cremma):
    # A 19th-c. letter (cremma-mss-19 val f392) whose loose ink at a margin makes a column that
    # is searched: what the turned finder sees there is ordinary lines' ends, and is dropped.
    doc = read_document(next(x for x in split_xmls(cremma, "val") if x.stem == "f392"))
    grey = load_grey(doc.image_path)
    upright = list(segment(grey, sideways=False).lines())
    boxes = [ln.bbox() for ln in upright]
    height = float(np.median([y1 - y0 for x0, y0, x1, y1 in boxes if x1 - x0 >= 2 * (y1 - y0)]))
    areas, whole_page = sideways_areas(grey, upright, height)
    assert areas and not whole_page  # the search does run here
    assert [ln.polygon for ln in segment(grey).lines()] == [ln.polygon for ln in upright]


def test_a_stamp_turned_on_its_side_is_found_and_reads(upright_page):
    # A typewritten letter of 1939 (ehri train) with a file number stamped up its right margin,
    # which the upright pass breaks into single letters.
    dataset = _require(DATA / "ehri-typewritten-en-de")
    doc = read_document(next(x for x in split_xmls(dataset, "train") if x.stem == "EHRI-DR-19390125-US_01"))
    grey = load_grey(doc.image_path)
    page = segment(grey)
    stamps = [ln for ln in page.lines() if line_turn(ln) != UPRIGHT and ln.bbox()[0] > 0.8 * grey.shape[1]]
    assert len(stamps) == 1
    (stamp,) = stamps
    x0, y0, x1, y1 = stamp.bbox()
    assert y1 - y0 > 8 * (x1 - x0)  # the whole file number, not a piece of it
    # no upright pieces of it are left
    assert not [ln for ln in page.lines() if line_turn(ln) == UPRIGHT and x0 <= ln.bbox()[0] and ln.bbox()[2] <= x1]
    text = open_reader("default").read([crop_line(grey, stamp)])[0].text
    # Worn, and read by the print model: at most 8 of its 17 characters wrong, what it read when
    # this test was written ("BIT.4OIS OENS/119"; "87.40I6 CENS/11g", 5, since line outlines take
    # in the marks they cut through).
    assert char_errors("871.4016 JEWS/119", text) <= 8, text


def test_sideways_lines_of_a_letter_go_out_in_hocr_and_pdf(page_17th_c_letters, tmp_path):
    page = page_17th_c_letters
    sideways = [ln for ln in page.lines() if line_turn(ln) != UPRIGHT]
    assert len(sideways) == 5
    doc = html.fromstring(to_bytes([page], tmp_path / "doc.hocr", "hocr"))
    angles = {el.get("id"): el.get("title") for el in doc.xpath("//*[@class='ocr_line']")}
    assert all("textangle 270" in angles[ln.id] for ln in sideways)
    assert not any("textangle" in angles[ln.id] for ln in page.lines() if line_turn(ln) == UPRIGHT)
    pdf = pdfium.PdfDocument(write_document([page], tmp_path / "doc.pdf", "pdf", max_image_side=1000))
    text_page = pdf[0].get_textpage()
    sx, sy = pdf[0].get_width() / page.width, pdf[0].get_height() / page.height
    chars = []  # (character, x, y on the page)
    for i in range(text_page.count_chars()):
        ch = text_page.get_text_range(i, 1)
        if ch.strip():
            left, bottom, right, top = text_page.get_charbox(i)
            chars.append((ch, (left + right) / 2 / sx, page.height - (bottom + top) / 2 / sy))
    pdf.close()
    spelled = "".join(ch for ch, _, _ in chars)
    for line in sideways:  # its letters come in one run, each inside the line's box
        want = line.text.replace(" ", "")
        start = spelled.find(want)
        assert start >= 0, line.text
        x0, y0, x1, y1 = line.bbox()
        run = chars[start : start + len(want)]
        for ch, x, y in run:
            assert x0 - 2 <= x <= x1 + 2 and y0 - 2 <= y <= y1 + 2, (line.text, ch, x, y)
        down = [y for _, _, y in run]  # and they go down the page, along the whole line
        assert down == sorted(down) and down[-1] - down[0] > 0.6 * (y1 - y0), line.text

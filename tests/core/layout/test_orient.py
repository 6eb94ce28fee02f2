"""Pages scanned sideways or upside down: the way up is told, the lines are found on the righted
page and carried back, and they read and go out as on the upright page (real val pages)."""

from __future__ import annotations

import numpy as np
import pytest
from lxml import html

from mspt_core.document import Line, Page, Region
from mspt_core.errors import ModelFileError
from mspt_core.formats import read_document, to_bytes
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import match_lines
from mspt_core.layout.orient import bundled, load_upright, looked_at, page_turn, save_upright
from mspt_core.layout.segment import _turned_back, segment
from mspt_core.layout.turn import UPRIGHT, UPSIDE_DOWN, line_turn, turned_line
from mspt_core.metrics import cer
from mspt_core.pipeline import PageJob, recognize_pages
from mspt_core.recognize import open_reader
from mspt_core.resources import line_kinds
from tests.conftest import DATA, _require, split_xmls


def _val_page(name: str, stem: str | None = None):
    dataset = _require(DATA / name)
    xmls = split_xmls(dataset, "val")
    doc = read_document(next(x for x in xmls if x.stem == stem) if stem else xmls[0])
    return doc, load_grey(doc.image_path)


def test_upside_down_text_is_told_from_right_to_left_script():
    body_above = [(300, 20), (10, 20), (10, 50), (300, 50)]  # Hebrew, Arabic: letters above the baseline
    body_below = [(300, 50), (10, 50), (10, 80), (300, 80)]  # a line of a page scanned upside down
    assert line_turn(Line("rtl", polygon=body_above, baseline=[(300, 50), (10, 50)])) == UPRIGHT
    assert line_turn(Line("flip", polygon=body_below, baseline=[(300, 50), (10, 50)])) == UPSIDE_DOWN
    assert line_turn(Line("ltr", polygon=body_above, baseline=[(10, 50), (300, 50)])) == UPRIGHT


def test_a_printed_page_scanned_upside_down_is_righted_and_reads_as_upright(tmp_path):
    doc, grey = _val_page("fondue-en-print-20")
    turned = np.ascontiguousarray(np.rot90(grey, 2))
    page = segment(turned)
    assert page.metadata["page_turn"] == "180"
    lines = list(page.lines())
    truth = [turned_line(ln, 2, grey.shape).polygon for ln in doc.lines()]
    assert match_lines(truth, [ln.polygon for ln in lines], turned.shape).f1 >= 0.95
    assert all(line_turn(ln) == UPSIDE_DOWN for ln in lines)
    recognize_pages([PageJob(page, turned, doc.image_path)], open_reader("default"))
    want = "\n".join(ln.text for ln in doc.lines())
    assert cer([want], ["\n".join(ln.text for ln in page.lines())]) < 0.03
    hocr = html.fromstring(to_bytes([page], tmp_path / "page.hocr", "hocr"))
    titles = [el.get("title") for el in hocr.xpath("//*[@class='ocr_line']")]
    assert titles and all("textangle 180" in t for t in titles)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_handwritten_page_scanned_turned_has_its_lines_found_the_right_way(k):
    doc, grey = _val_page("cremma-mss-19-handwritten-fr", "f392")
    righting = (4 - k) % 4
    turned = np.ascontiguousarray(np.rot90(grey, k))
    page = segment(turned)
    assert page.metadata.get("page_turn") == str(90 * righting)
    lines = list(page.lines())
    truth = [turned_line(ln, k, grey.shape).polygon for ln in doc.lines()]
    upright = [ln.polygon for ln in segment(grey).lines()]
    f1 = match_lines(truth, [ln.polygon for ln in lines], turned.shape).f1
    assert f1 >= match_lines([ln.polygon for ln in doc.lines()], upright, grey.shape).f1 - 0.03
    assert sum(line_turn(ln) == righting for ln in lines) >= 0.95 * len(lines)


@pytest.mark.parametrize(
    "name",
    ["fondue-en-print-20", "ehri-typewritten-en-de", "gallicorpora-print-16-fr", "htromance-mss-16-18-handwritten-fr"],
)
def test_an_upright_page_stays_as_it_is(name):
    _, grey = _val_page(name)
    page = segment(grey)
    assert "page_turn" not in page.metadata
    assert sum(line_turn(ln) == UPRIGHT for ln in page.lines()) >= 0.9 * len(list(page.lines()))


def test_the_classifier_file_round_trips_and_other_files_are_refused(tmp_path):
    classifier = bundled()
    assert classifier is not None, "the bundled orientation classifier is missing"
    doc, grey = _val_page("tapuscorpus-typewritten-fr")
    crops = looked_at(grey, list(doc.lines()))
    again = load_upright(save_upright(tmp_path / "upright.safetensors", classifier))
    assert again.flip_margin(crops) == pytest.approx(classifier.flip_margin(crops))
    assert classifier.flip_margin(crops) > 0
    # the page upside down, its lines as the finder finds them there (not the crops turned)
    turned = np.ascontiguousarray(np.rot90(grey, 2))
    assert classifier.flip_margin(looked_at(turned, list(segment(turned, orientation=False).lines()))) < 0
    with pytest.raises(ModelFileError, match="not an mspt orientation classifier"):
        load_upright(line_kinds())


class _Says:
    """A classifier that finds every page's lines upright (margin > 0) or upside down."""

    def __init__(self, margin: float) -> None:
        self.margin = margin

    def flip_margin(self, crops) -> float:
        return self.margin if crops else 0.0


def _lines(count: int, length: float, thickness: float = 20.0) -> list[Line]:
    return [
        Line(
            f"l{i}",
            polygon=[(10, 30 * i), (10 + length, 30 * i), (10 + length, 30 * i + thickness), (10, 30 * i + thickness)],
            baseline=[(10, 30 * i + thickness), (10 + length, 30 * i + thickness)],
        )
        for i in range(count)
    ]


def test_a_page_is_turned_only_on_what_several_lines_say():
    grey = np.full((400, 300), 255, np.uint8)
    grey[::30, 20:250] = 0  # some ink, so that crops can be cut
    never = lambda image: pytest.fail("a page of long lines needs no quarter-turned search")  # noqa: E731
    assert page_turn(grey, _lines(8, 230), never, _Says(5.0)) == 0
    assert page_turn(grey, _lines(8, 230), never, _Says(-5.0)) == 2
    assert page_turn(grey, _lines(2, 230), never, _Says(-5.0)) == 0  # two lines are too few to turn on
    # short lines: the page turned a quarter is searched; one long blob there is not enough
    assert page_turn(grey, [], lambda image: _lines(1, 200), _Says(5.0)) == 0
    assert page_turn(grey, _lines(6, 40), lambda image: _lines(6, 200), _Says(5.0)) == 1
    assert page_turn(grey, _lines(6, 40), lambda image: _lines(6, 200), _Says(-5.0)) == 3


@pytest.mark.parametrize("k", [1, 2, 3])
def test_lines_found_on_the_righted_page_are_carried_back_onto_the_scan(k):
    scan = np.arange(120 * 200).reshape(120, 200)  # not square, each pixel its own value
    righted = np.rot90(scan, k)
    points = [(3.0, 5.0), (60.0, 17.0), (25.0, 40.0)]
    line = Line("l", polygon=list(points), baseline=points[:2])
    page = Page(
        width=righted.shape[1], height=righted.shape[0], regions=[Region("r", polygon=list(points), lines=[line])]
    )
    back = _turned_back(page, k, scan.shape)
    assert (back.height, back.width) == scan.shape
    for (x, y), (bx, by) in zip(points, back.regions[0].lines[0].polygon, strict=True):
        assert scan[int(round(by)), int(round(bx))] == righted[int(y), int(x)]

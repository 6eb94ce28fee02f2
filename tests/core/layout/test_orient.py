"""Pages scanned sideways or upside down: the way up is told, the lines are found on the righted
page and carried back, and they read and go out as on the upright page (real val pages)."""

from __future__ import annotations

import numpy as np
import pytest
from lxml import html

from mspt_core.document import Line
from mspt_core.errors import ModelFileError
from mspt_core.formats import read_document, to_bytes
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import match_lines
from mspt_core.layout.orient import bundled, load_upright, looked_at, save_upright
from mspt_core.layout.segment import segment
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
    assert classifier.flip_margin(crops) > 0 > classifier.flip_margin([np.rot90(c, 2) for c in crops])
    with pytest.raises(ModelFileError, match="not an mspt orientation classifier"):
        load_upright(line_kinds())

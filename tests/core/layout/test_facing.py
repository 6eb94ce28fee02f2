"""The facing page's edge: stubs of the neighbouring page's lines, cut off by the image's side,
are not found as lines; a page's own line that reaches the side is kept (real val pages)."""

from __future__ import annotations

import importlib

import pytest

from mspt_core.document import bbox
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import match_lines
from mspt_core.layout.facing import facing_page_stubs
from mspt_core.layout.segment import segment
from tests.conftest import DATA, _require, split_xmls

segment_module = importlib.import_module("mspt_core.layout.segment")  # the package's ``segment`` is the function


def _val_page(name: str, stem: str):
    doc = read_document(next(x for x in split_xmls(_require(DATA / name), "val") if x.stem == stem))
    return doc, load_grey(doc.image_path)


def _touching_left(lines, width: int) -> list:
    return [line for line in lines if bbox(line.polygon)[0] <= 0.005 * width]


def test_the_facing_pages_cut_lines_down_the_left_edge_are_left_out(monkeypatch):
    # a TIMEUS register photographed open: a strip of the left-hand page's lines at the image's edge
    doc, grey = _val_page("timeus-19-handwritten-fr", "PH_1858-532")
    width = grey.shape[1]
    with monkeypatch.context() as patch:
        patch.setattr(segment_module, "facing_page_stubs", lambda boxes, width: set())
        unaware = list(segment(grey).lines())
    page = list(segment(grey).lines())
    assert len(_touching_left(unaware, width)) >= 20  # the finder alone takes the stubs for lines
    assert _touching_left(page, width) == []
    assert len(page) <= len(unaware) - 20
    truth = [line.polygon for line in doc.lines()]
    before = match_lines(truth, [ln.polygon for ln in unaware], grey.shape, partial=True)
    after = match_lines(truth, [ln.polygon for ln in page], grey.shape, partial=True)
    assert after.matched == before.matched  # no transcribed line lost


def test_a_pages_own_line_reaching_the_edge_is_kept():
    # a cremma-mss-19 val page whose ground truth has a short line running up to the right edge
    doc, grey = _val_page("cremma-mss-19-handwritten-fr", "f392")
    width = grey.shape[1]
    truth = [line.polygon for line in doc.lines()]
    at_edge = [p for p in truth if bbox(p)[2] >= width - 1 - 0.005 * width]
    assert at_edge
    found = [line.polygon for line in segment(grey, sideways=False).lines()]
    assert match_lines(at_edge, found, grey.shape).matched == len(at_edge)


@pytest.mark.parametrize(
    ("boxes", "stubs"),
    [
        ([(0, 10, 60, 40), (0, 50, 70, 80), (0, 90, 50, 120), (300, 10, 900, 40)], {0, 1, 2}),  # three stubs
        ([(0, 10, 60, 40), (0, 50, 70, 80), (300, 10, 900, 40)], set()),  # two: a page's own lines may do that
        ([(0, 10, 600, 40), (0, 50, 700, 80), (0, 90, 500, 120)], set()),  # long lines: the page's own
        # a page cropped tight on the left: its block's long lines touch the side as its short ones do
        (
            [
                (0, 10, 600, 40),
                (0, 50, 60, 80),
                (0, 90, 600, 120),
                (0, 130, 70, 160),
                (0, 170, 600, 200),
                (0, 210, 50, 240),
                (0, 250, 600, 280),
            ],
            set(),
        ),
        ([(0, 10, 60, 40), (0, 50, 70, 80), (0, 90, 50, 120)], set()),  # every line at the side: a list
        ([(0, 10, 60, 40), (0, 50, 70, 80), (960, 90, 999, 120), (300, 10, 900, 40)], set()),  # 2 + 1: no column
        ([(940, 10, 999, 40), (950, 50, 999, 80), (960, 90, 999, 120), (300, 10, 900, 40)], {0, 1, 2}),
        ([], set()),
    ],
)
def test_stubs_are_short_lines_in_a_column_along_one_side(boxes, stubs):
    assert facing_page_stubs(boxes, 1000) == stubs

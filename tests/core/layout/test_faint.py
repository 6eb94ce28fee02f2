"""Lines far fainter than the page's writing (a sheet beneath seen through the paper, a
digitizer's pale mark, specks) are not taken for the page's lines; pale writing of the page's
own stays (real val pages)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mspt_core.formats import read_document, to_bytes
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import pair_lines
from mspt_core.layout.faint import FAINT_SHARE, faint_lines
from mspt_core.layout.segment import segment
from tests.conftest import DATA, _require, split_xmls

# A letter on a sheet laid over another: three lines of the sheet beneath show through and below it.
SEEN_THROUGH = ("cremma-mss-19-handwritten-fr", "f392")


def _val_page(name: str, stem: str):
    doc = read_document(next(x for x in split_xmls(_require(DATA / name), "val") if x.stem == stem))
    return doc, load_grey(doc.image_path)


def _polygons(page) -> list:
    return [line.polygon for line in page.lines()]


def test_lines_seen_through_the_paper_are_left_out_and_the_page_says_how_many(tmp_path):
    doc, grey = _val_page(*SEEN_THROUGH)
    truth = _polygons(doc)
    unaware = segment(grey, method="learned", faint=False)
    page = segment(grey, method="learned")
    kept = {tuple(map(tuple, polygon)) for polygon in _polygons(page)}
    left_out = [polygon for polygon in _polygons(unaware) if tuple(map(tuple, polygon)) not in kept]
    assert len(left_out) == int(page.metadata["faint_lines"]) >= 2
    assert "faint_lines" not in unaware.metadata
    # none of them is a line the transcriber gave, and every line found before is found still
    assert pair_lines(truth, left_out, grey.shape) == []
    assert len(pair_lines(truth, _polygons(page), grey.shape)) == len(pair_lines(truth, _polygons(unaware), grey.shape))

    (tmp_path / "page.xml").write_bytes(to_bytes([page], tmp_path / "page.xml", "page"))
    assert read_document(tmp_path / "page.xml").metadata["faint_lines"] == page.metadata["faint_lines"]


def _written(darkness: list[int]) -> tuple[np.ndarray, list]:
    """A white page with one line of text per darkness (grey 255 - darkness), and their outlines."""
    grey = np.full((120 + 80 * len(darkness), 900), 255, np.uint8)
    outlines = []
    for i, dark in enumerate(darkness):
        y = 100 + 80 * i
        cv2.putText(grey, "the quick brown fox jumps", (40, y), cv2.FONT_HERSHEY_SIMPLEX, 1.4, 255 - dark, 3)
        outlines.append([(30, y - 45), (860, y - 45), (860, y + 15), (30, y + 15)])
    return grey, outlines


@pytest.mark.parametrize(
    ("darkness", "left_out"),
    [
        ([230, 220, 40, 235, 225], [2]),  # one faint line among dark ones
        ([230, 220, 240, 235, round(FAINT_SHARE * 230) + 25], []),  # faint, but not that faint
        ([60, 55, 50, 58], []),  # a page written all in pale ink keeps every line
        ([40], []),  # a line alone is its page's own writing
    ],
)
def test_only_lines_far_fainter_than_the_pages_own_writing_are_left_out(darkness, left_out):
    grey, outlines = _written(darkness)
    assert faint_lines(grey, outlines) == left_out


def test_paper_darkening_down_the_page_does_not_make_its_lines_faint():
    """A shadow darkens the page towards its foot, ink and paper alike: the pale line in the
    shadow, darker there than the page's writing is on white paper, is told by the paper around
    it, and the lines in the shadow stay."""
    grey, outlines = _written([230, 225, 235, 230, 228, 40])
    light = np.linspace(1.0, 0.5, grey.shape[0])[:, None]  # white paper at the top, mid grey at the foot
    shaded = np.round(grey * light).astype(np.uint8)
    assert faint_lines(shaded, outlines) == [5]


def test_an_outline_off_the_page_is_kept_and_not_measured():
    grey, outlines = _written([230, 220, 40])
    off = [(2000, 2000), (2100, 2000), (2100, 2050)]
    assert faint_lines(grey, [*outlines, off, []]) == [2]

"""Line matching where the ground truth transcribes only some of a page's lines."""

from __future__ import annotations

import numpy as np

from mspt_core.document import bbox, box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import judged_lines, match_lines, pair_lines
from mspt_core.layout.segment import segment
from tests.conftest import DATA, _require, split_xmls


def _gap(a, b) -> float:
    """The white between two boxes, the larger of across and down (0 where they overlap)."""
    return max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3], 0.0)


def test_a_line_far_from_every_given_line_is_not_judged_and_a_near_one_is():
    given = [box_polygon(100, 100, 500, 140), box_polygon(100, 150, 500, 190)]  # lines 40 px high
    found = [
        box_polygon(100, 100, 500, 140),  # the first line
        box_polygon(510, 150, 560, 190),  # a word just right of the second: judged (a wrong line)
        box_polygon(100, 231, 300, 270),  # 41 px below the last line: more than a line height away
        box_polygon(900, 20, 950, 60),  # a folio number the source leaves out
    ]
    assert judged_lines(given, found) == [0, 1]
    whole = match_lines(given, found, (1000, 1000))
    judged = match_lines(given, found, (1000, 1000), partial=True)
    assert (whole.ground_truth, whole.found, whole.matched) == (2, 4, 1)
    assert (judged.ground_truth, judged.found, judged.matched) == (2, 2, 1)  # recall as before
    assert judged_lines([], found) == [] and match_lines([], found, (1000, 1000), partial=True).found == 0


def test_on_a_real_partly_transcribed_page_only_what_lies_far_from_its_lines_is_left_out():
    """A Poilus will (val) whose ground truth leaves its archive marks out: the finder's lines
    there no longer count against precision, every line it matched still counts, and each line
    left out lies more than a line height from every transcribed line."""
    pages = split_xmls(_require(DATA / "testaments-poilus-handwritten-fr"), "val")
    (xml,) = [p for p in pages if p.name == "TestamentsDePoilus_will_AD78_0034-1.xml"]
    truth = read_document(xml)
    grey = load_grey(truth.image_path)
    given = [ln.polygon for ln in truth.lines()]
    found = [ln.polygon for ln in segment(grey, method="learned").lines()]
    kept = judged_lines(given, found)
    whole = match_lines(given, found, grey.shape)
    judged = match_lines(given, found, grey.shape, partial=True)
    assert len(kept) < len(found) and judged.found == len(kept)
    assert judged.matched == whole.matched and judged.precision > whole.precision
    assert {j for _, j in pair_lines(given, found, grey.shape)} <= set(kept)
    height = float(np.median([bbox(p)[3] - bbox(p)[1] for p in given]))
    for j in set(range(len(found))) - set(kept):
        assert min(_gap(bbox(found[j]), bbox(p)) for p in given) > height

"""Line matching where the ground truth transcribes only some of a page's lines."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np

from mspt_core.document import bbox, box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.evaluate import (
    MISSED_KINDS,
    found_line_kinds,
    judged_lines,
    match_lines,
    pair_lines,
    unmatched_kinds,
)
from mspt_core.layout.evaluate import judged as judged_items
from mspt_core.layout.segment import segment
from tests.conftest import DATA, _require, split_xmls


def test_a_line_far_from_every_given_line_is_not_judged_and_a_near_one_is():
    # Two given lines far apart, 40 and 60 px high (median 50), and a mark of two points.
    given = [box_polygon(100, 100, 500, 140), box_polygon(100, 600, 500, 660), [(0, 0), (900, 900)]]
    found = [
        box_polygon(100, 100, 500, 140),  # the first line
        box_polygon(100, 189, 300, 229),  # 49 px under it: near the first line only, judged
        box_polygon(540, 700, 600, 740),  # 40 px right of and 40 under the second: judged
        box_polygon(100, 380, 500, 420),  # halfway: 240 px from either
        box_polygon(551, 711, 600, 740),  # 51 px right of and 51 under the second
        box_polygon(900, 20, 950, 60),  # a folio number the source leaves out
    ]
    assert judged_lines(given, found) == [0, 1, 2]
    whole = match_lines(given, found, (1000, 1000))
    judged = match_lines(given, found, (1000, 1000), partial=True)
    assert (whole.ground_truth, whole.found, whole.matched) == (2, 6, 1)
    assert (judged.ground_truth, judged.found, judged.matched) == (2, 3, 1)  # recall as before
    by_polygon = match_lines(given, found, (1000, 1000), kind="polygon", partial=True)
    assert (by_polygon.found, by_polygon.matched) == (3, 1)
    assert judged_lines([], found) == [] and match_lines([], found, (1000, 1000), partial=True).found == 0
    assert judged_lines(given, []) == []
    # Lines (here: outline and text) keep their order; one without an outline cannot be placed and stays.
    lines = [(found[5], "folio"), (found[1], "near"), ([], "unplaced"), (found[0], "first")]
    assert [t for _, t in judged_items(given, lines, outline=lambda line: line[0])] == ["near", "unplaced", "first"]


def test_on_a_real_partly_transcribed_page_only_what_lies_far_from_its_lines_is_left_out():
    """A Poilus will (val) whose ground truth leaves its archive marks out: what the finder finds
    there no longer counts against precision, every line it matched still counts, and every line
    left out lies wholly where line-finder training leaves the page out of its loss (further than
    a line height from the given lines' outlines)."""
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
    reach = round(float(np.median([bbox(p)[3] - bbox(p)[1] for p in given])))
    known = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(known, [np.round(np.asarray(p)).astype(np.int32) for p in given], 1)
    known = cv2.dilate(known, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    for j in set(range(len(found))) - set(kept):
        x0, y0, x1, y1 = (round(v) for v in bbox(found[j]))
        assert not known[y0 : y1 + 1, x0 : x1 + 1].any()


def test_each_unmatched_line_is_told_why():
    b = box_polygon
    truth = [
        b(100, 100, 500, 140),  # found
        b(100, 200, 500, 240),  # nothing over it
        b(100, 300, 500, 340),  # found in two pieces
        b(100, 400, 300, 440),  # found with the next one joined to it...
        b(320, 400, 500, 440),  # ...which is missed, joined
        b(100, 500, 300, 540),  # found far too wide
        b(100, 600, 500, 640),  # too narrow
        b(100, 700, 500, 730),  # too tall
        b(100, 800, 500, 860),  # too short
        b(100, 900, 500, 940),  # off, lower down
        [(0.0, 0.0), (990.0, 1190.0)],  # a mark of two points: no line
        b(100, 1000, 900, 1040),  # found, with its page number...
        b(905, 1000, 935, 1040),  # ...joined to it (box IoU 0.04)
        b(100, 1100, 150, 1140),  # found six times too wide
    ]
    found = [
        b(100, 100, 500, 140),
        b(100, 300, 290, 340),
        b(310, 300, 500, 340),
        b(100, 400, 500, 440),
        b(100, 500, 520, 540),
        b(100, 600, 250, 640),
        b(100, 690, 500, 760),
        b(100, 800, 500, 825),
        b(100, 915, 500, 955),
        b(700, 100, 800, 140),  # where the ground truth has no line
        b(400, 100, 500, 140),  # over the first line, which was found
        b(100, 1000, 940, 1040),
        b(100, 1100, 400, 1140),
    ][::-1]  # in another order than the lines they match
    shape = (1200, 1000)
    missed, extra = unmatched_kinds(truth, found, shape)
    assert dict(missed) == {kind: 2 if kind in ("joined", "too wide") else 1 for kind in MISSED_KINDS}
    assert dict(extra) == {"where no line is": 1, "over a line found": 1, "over a line missed": 8}
    assert sum(missed.values()) == 13 - match_lines(truth, found, shape).matched
    assert sum(extra.values()) == len(found) - match_lines(truth, found, shape).matched
    _, judged = unmatched_kinds(truth, found, shape, partial=True)
    assert dict(judged) == {"over a line found": 1, "over a line missed": 8}  # the far one not judged
    assert unmatched_kinds([], found, shape) == ({}, {"where no line is": len(found)})
    kinds = found_line_kinds(truth, found, shape)  # line by line, as the counts add up
    assert Counter(kind for kind in kinds if kind) == extra and kinds.count("") == len(found) - sum(extra.values())
    assert unmatched_kinds(truth, [], shape) == ({"not found": 13}, {})

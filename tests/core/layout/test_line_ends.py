"""Line ends lengthened over the faint marks the line finder's maps miss (``layout.ends``): on
the bundled sample page every closing quotation mark ends up inside its line, and on drawn
pages a line takes in what is its own and nothing that is another line's or too far away."""

from __future__ import annotations

import cv2
import numpy as np

from mspt_core.formats import read_document
from mspt_core.layout import segment
from mspt_core.layout.clean import sauvola
from mspt_core.layout.ends import extend_line_ends
from mspt_core.layout.evaluate import pair_lines
from mspt_core.resources import sample_page


def box(x0, y0, x1, y1) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)


def test_the_sample_pages_closing_quotation_marks_are_inside_our_lines():
    truth = read_document(sample_page().with_suffix(".xml"))
    grey = cv2.imread(str(sample_page()), cv2.IMREAD_GRAYSCALE)
    found = list(segment(grey).lines())
    quoted = [line for line in truth.lines() if line.text.endswith('"')]
    assert len(quoted) >= 8
    ink = sauvola(grey)
    pairs = dict(pair_lines([ln.polygon for ln in quoted], [ln.polygon for ln in found], grey.shape))
    assert len(pairs) == len(quoted), "every quoted line is found"
    for index, line in enumerate(quoted):
        x0, y0, x1, y1 = (int(round(v)) for v in line.bbox())
        last_ink = x0 + int(np.flatnonzero(ink[y0 : y1 + 1, x0 : x1 + 1].any(axis=0))[-1])
        ours = max(x for x, _ in found[pairs[index]].polygon)
        assert ours >= last_ink, f"{line.text!r}: our line ends at x {ours}, its last ink (the quote) at {last_ink}"


def test_a_line_takes_in_its_own_marks_but_not_another_lines_or_far_ink():
    ink = np.zeros((200, 400), bool)
    ink[40:60, 50:200] = True  # the line's letters
    ink[38:44, 206:208] = True  # a closing quote just beyond where the finder stopped
    ink[40:60, 330:340] = True  # a word far beyond a word gap
    ink[100:120, 50:200] = True  # the next line's letters...
    ink[100:120, 204:210] = True  # ...and its last letter, which the finder gave to it
    line = (box(50, 36, 200, 62), np.array([[50.0, 60.0], [200.0, 60.0]]))
    below = (box(50, 96, 212, 122), np.array([[50.0, 120.0], [212.0, 120.0]]))
    (polygon, baseline), (other, _) = extend_line_ends([line, below], ink)
    assert polygon[:, 0].max() >= 207, "the quote is taken in"
    assert polygon[:, 0].max() < 330, "the far word is not"
    assert baseline[-1, 0] == polygon[:, 0].max() and baseline[-1, 1] == 60.0  # carried level
    assert polygon[:, 0].min() < 50, "a margin of paper at the start"
    assert other[:, 0].max() >= 212 and other[:, 1].min() >= 90  # the other line keeps its own letter

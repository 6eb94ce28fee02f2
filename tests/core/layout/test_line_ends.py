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


def inside_of(polygon, shape) -> np.ndarray:
    """Which pixels of an image of ``shape`` the polygon covers."""
    inside = np.zeros(shape, np.uint8)
    cv2.fillPoly(inside, [np.round(np.asarray(polygon)).astype(np.int32)], 1)
    return inside.astype(bool)


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
        # All of the quote, not only its outer stroke: the ink of the line's last columns.
        inside = inside_of(found[pairs[index]].polygon, grey.shape)
        # (A few pixels at an edge may fall out: the lines are drawn on a reduced copy.)
        tail = ink[y0 : y1 + 1, last_ink - 12 : last_ink + 1]
        outside = tail & ~inside[y0 : y1 + 1, last_ink - 12 : last_ink + 1]
        assert outside.sum() <= 0.2 * tail.sum(), (
            f"{line.text!r}: {int(outside.sum())} of its last marks' {int(tail.sum())} ink pixels are outside our line"
        )


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


def test_both_strokes_of_a_closing_quote_above_the_lines_end_are_taken_in():
    # The polygon's last columns hold only the x-height band (as the finder's envelope draws a
    # line ending in "m."); the quote's two strokes sit above it, clear of each other.
    ink = np.zeros((120, 300), bool)
    ink[40:60, 50:186] = True  # the line's letters
    ink[52:60, 190:194] = True  # the full stop
    ink[36:43, 197:199] = True  # the quote's first stroke
    ink[36:43, 202:204] = True  # and its second
    polygon = np.array([[50, 34], [186, 34], [186, 48], [195, 48], [195, 64], [50, 64]], np.float64)
    ((grown, _),) = extend_line_ends([(polygon, np.array([[50.0, 60.0], [195.0, 60.0]]))], ink)
    inside = inside_of(grown, ink.shape)
    assert inside[36:43, 197:199].all(), "the first stroke is inside"
    assert inside[36:43, 202:204].all(), "the second stroke is inside"
    assert inside[ink].all(), "no ink of the line is left out"


def test_a_lines_end_grows_over_its_marks_only_not_over_the_line_above():
    # A full stop beyond the end of a line whose last columns hold only its lower band, and a
    # descender of the line above (inside that line's polygon) just beyond the end, higher up.
    ink = np.zeros((120, 300), bool)
    ink[40:60, 50:186] = True  # the line's letters
    ink[52:60, 190:194] = True  # its full stop
    ink[20:45, 197:199] = True  # the descender from the line above
    ours = np.array([[50, 34], [186, 34], [186, 48], [195, 48], [195, 64], [50, 64]], np.float64)
    above = np.array([[50, 0], [260, 0], [260, 46], [50, 30]], np.float64)
    (grown, _), _ = extend_line_ends(
        [(ours, np.array([[50.0, 60.0], [195.0, 60.0]])), (above, np.array([[50.0, 25.0], [260.0, 25.0]]))], ink
    )
    inside = inside_of(grown, ink.shape)
    assert inside[52:60, 190:194].all(), "the full stop is inside"
    assert not inside[20:45, 197:199].any(), "the descender above is not"


def test_a_first_letter_cut_by_the_polygon_is_taken_in_at_its_own_end_only():
    ink = np.zeros((160, 400), bool)
    ink[40:60, 96:104] = True  # the first letter, which the polygon cuts through
    for x in range(110, 300, 10):  # the rest of a steeply sloping line
        y = 40 + (x - 100) * 44 // 200
        ink[y : y + 20, x : x + 7] = True
    ink[84:104, 330:340] = True  # a word beyond the gap on the right
    polygon = np.array([[100, 36], [300, 80], [300, 106], [100, 62]], np.float64)
    line = (polygon, np.array([[100.0, 60.0], [300.0, 104.0]]))
    ((grown, baseline),) = extend_line_ends([line], ink)
    assert grown[:, 0].min() <= 96, "the whole first letter is inside"
    assert 300 <= grown[:, 0].max() < 330, "the far word is not"
    contour = grown.astype(np.float32).reshape(-1, 1, 2)
    assert cv2.pointPolygonTest(contour, (130.0, 95.0), False) < 0, "nothing filled in below the line's start"
    assert baseline[0, 0] == grown[:, 0].min()


def test_ink_of_another_line_or_taken_by_one_is_not_taken_again():
    ink = np.zeros((120, 400), bool)
    ink[40:60, 50:150] = True  # line A
    ink[40:60, 157:161] = True  # a mark between A's end and B's start, near both, in both bands
    ink[40:60, 168:300] = True  # line B
    a = (box(50, 36, 150, 62), np.array([[50.0, 60.0], [150.0, 60.0]]))
    b = (box(168, 36, 300, 62), np.array([[168.0, 60.0], [300.0, 60.0]]))
    (first, _), (second, _) = extend_line_ends([a, b], ink)
    assert first[:, 0].max() >= 160, "A takes the mark"
    assert second[:, 0].min() > 161, "B, facing it, does not take it too"
    owned = (box(155, 36, 162, 62), np.array([[155.0, 60.0], [162.0, 60.0]]))  # now a line of its own
    (first, _), _, _ = extend_line_ends([a, owned, b], ink)
    assert first[:, 0].max() < 157, "a line's own ink is not taken by its neighbour"


def test_a_raised_mark_the_outline_cuts_through_is_taken_in_whole_anywhere_along_the_line():
    # The finder's outline follows the letters' band; a quotation mark raised above it mid-line
    # (`said, "have`) has only its foot inside, and would be read as a comma or not at all.
    ink = np.zeros((140, 400), bool)
    ink[50:70, 50:150] = True  # words before the quote
    ink[42:50, 156:158] = True  # the quote's two strokes, their feet inside the outline
    ink[42:50, 161:163] = True
    ink[50:70, 168:300] = True  # words after it
    ink[106:124, 50:300] = True  # the next line
    ink[96:104, 230:233] = True  # an accent of the next line, its top inside our outline
    ours = box(50, 44, 300, 98)  # the quote's lower six rows of eight inside
    below = box(50, 100, 300, 126)
    (grown, _), (other, _) = extend_line_ends(
        [(ours, np.array([[50.0, 70.0], [300.0, 70.0]])), (below, np.array([[50.0, 124.0], [300.0, 124.0]]))], ink
    )
    inside = inside_of(grown, ink.shape)
    quote = ink.copy()
    quote[50:, :] = quote[:, :150] = quote[:, 165:] = False
    # (Simplifying the outline may cut a corner pixel; a pixel of paper round every mark read
    # worse on the printed val pages, benchmarks/RESULTS.md.)
    assert np.count_nonzero(quote & ~inside) <= 2, "the whole quote is inside"
    assert grown[:, 1].max() <= 99, "the next line's accent is not taken in"
    assert other[:, 1].min() >= 99, "the next line does not grow up into ours"


def test_a_large_component_the_outline_cuts_is_left_as_the_finder_drew_it():
    ink = np.zeros((140, 400), bool)
    ink[50:70, 50:110] = True  # the line's letters...
    ink[50:70, 140:300] = True
    ink[30:70, 120:128] = True  # ...and between them something tall (a flourish's stroke), 24 of 40 rows inside
    line = box(50, 46, 300, 74)
    ((grown, _),) = extend_line_ends([(line, np.array([[50.0, 70.0], [300.0, 70.0]]))], ink)
    assert grown[:, 1].min() >= 44, "the outline does not grow up over it"

"""Line geometry for segmentation editing: splitting, merging, reading order."""

from __future__ import annotations

import pytest

from mspt_core.document import Line, LineStatus, Page, Region
from mspt_core.layout.turn import line_turn, turned_line
from mspt_core.project import geometry


def test_split_then_merge_gives_back_the_line():
    line = Line(
        "l1",
        polygon=[(0, 0), (100, 0), (100, 20), (0, 20)],
        baseline=[(0, 16), (100, 16)],
        text="ab cd",
        char_confidences=[0.9, 0.8, 1.0, 0.7, 0.6],
        status=LineStatus.RECOGNIZED,
    )
    right = geometry.split(line, 2, "l2")
    assert (line.text, right.text) == ("ab", "cd")
    assert right.char_confidences == [0.7, 0.6] and right.confidence == 0.6
    assert geometry.bbox(line.polygon)[2] == geometry.bbox(right.polygon)[0] == 40
    geometry.merge_into(line, right)
    assert line.text == "ab cd" and line.char_confidences == [0.9, 0.8, 1.0, 0.7, 0.6]
    assert geometry.bbox(line.polygon) == (0, 0, 100, 20)


def test_merging_a_corrected_line_keeps_it_from_recognition():
    a = Line("a", polygon=[(0, 0), (10, 0), (10, 10), (0, 10)], text="x", status=LineStatus.CORRECTED)
    b = Line("b", polygon=[(30, 0), (40, 0), (40, 10), (30, 10)], text="y", status=LineStatus.RECOGNIZED)
    geometry.merge_into(a, b)
    assert a.status == LineStatus.CORRECTED and geometry.bbox(a.polygon) == (0, 0, 40, 10)


def test_moving_a_line_crosses_region_boundaries():
    page = Page(100, 100, regions=[Region("r1", lines=[Line("a"), Line("b")]), Region("r2", lines=[Line("c")])])
    geometry.move_in_order(page, "b", 1)
    assert [[line.id for line in r.lines] for r in page.regions] == [["a"], ["c", "b"]]
    geometry.move_in_order(page, "c", -1)
    assert [line.id for line in page.lines()] == ["c", "a", "b"]


@pytest.mark.parametrize("k", [1, 2, 3])
def test_a_line_read_turned_is_split_and_merged_along_its_reading_direction(k):
    # The line of the first test as found on a page turned by np.rot90(page, k) (a page scanned
    # sideways or upside down, righted by the segmenter): its text starts where its baseline does.
    upright = Line("l1", polygon=[(0, 0), (100, 0), (100, 20), (0, 20)], baseline=[(0, 16), (100, 16)], text="ab cd")
    size = (20, 101)
    line = turned_line(upright, k, size)
    line.text = upright.text
    turn = line_turn(line)
    assert turn == (4 - k) % 4
    start = line.baseline[0]
    right = geometry.split(line, 2, "l2")
    assert (line.text, right.text) == ("ab", "cd")
    assert line_turn(line) == line_turn(right) == turn
    first = geometry.bbox(line.polygon)
    assert first[0] - 1 <= start[0] <= first[2] + 1 and first[1] - 1 <= start[1] <= first[3] + 1  # "ab" holds the start
    geometry.merge_into(line, right)
    assert line.text == "ab cd" and line_turn(line) == turn
    assert geometry.bbox(line.polygon) == geometry.bbox(turned_line(upright, k, size).polygon)

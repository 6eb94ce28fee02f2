"""The geometry helpers of the data model: the box around points and a box as a polygon."""

import pytest

from mspt_core.document import Line, bbox, box_polygon


def test_bbox_and_box_polygon_are_inverse():
    points = [(10, 5), (3, 8), (7, 20), (12.5, 6)]
    assert bbox(points) == (3, 5, 12.5, 20)
    assert box_polygon(3, 5, 12.5, 20) == [(3, 5), (12.5, 5), (12.5, 20), (3, 20)]
    assert bbox(box_polygon(*bbox(points))) == bbox(points)


def test_a_line_box_falls_back_to_its_baseline():
    assert Line("l1", polygon=[(0, 0), (4, 2)], baseline=[(9, 9), (10, 10)]).bbox() == (0, 0, 4, 2)
    assert Line("l2", baseline=[(1, 7), (30, 9)]).bbox() == (1, 7, 30, 9)
    with pytest.raises(ValueError, match="neither polygon nor baseline"):
        Line("l3").bbox()

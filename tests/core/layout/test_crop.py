"""crop_line on real ground-truth lines: the recognizer's input must hold the line's ink,
straight, at the model height, with nothing from outside the polygon."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mspt_core.document import Line
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.crop import crop_line, place_line
from tests.conftest import split_xmls


def _first_lines(dataset, count=6):
    page = read_document(split_xmls(dataset, "train")[0])
    return load_grey(page.image_path), list(page.lines())[:count]


@pytest.mark.parametrize("which", ["fondue", "cremma"])
def test_crop_has_model_height_and_the_lines_ink(which, request):
    image, lines = _first_lines(request.getfixturevalue(which))
    for line in lines:
        crop = crop_line(image, line, height=40)
        assert crop.dtype == np.uint8 and crop.ndim == 2 and crop.shape[0] == 40
        x0, y0, x1, y1 = line.bbox()
        # Width follows the polygon's aspect ratio (height may grow a little when straightened,
        # or lose the rows that only a few columns of the polygon reach).
        assert crop.shape[1] <= 40 * (x1 - x0) / max(y1 - y0, 1) * 1.25 + 2
        assert crop.shape[1] >= 40 * (x1 - x0) / (y1 - y0 + 4 + 0.5 * (y1 - y0)) - 2
        # Dark text on light paper, and real ink in it.
        paper = np.median(crop)
        assert paper > 150
        assert (crop < paper - 50).mean() > 0.01


def test_crop_ignores_everything_outside_the_polygon(cremma):
    image, lines = _first_lines(cremma, count=4)
    line = lines[2]
    mask = np.zeros(image.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(line.polygon)).astype(np.int32)], 255)
    # Blacken every pixel outside the polygon: neighbours' ascenders must not reach the crop.
    hostile = np.where(mask > 0, image, 0).astype(np.uint8)
    clean = crop_line(image, line).astype(np.float64)
    dirty = crop_line(hostile, line).astype(np.float64)
    assert clean.shape == dirty.shape
    assert np.abs(clean - dirty).mean() < 3.0


def test_crop_straightens_a_sloped_baseline(fondue):
    image, lines = _first_lines(fondue, count=3)
    line = lines[1]
    flat = crop_line(image, line, height=48)
    # Shear the page so this line slopes by 3 degrees, with its polygon and baseline sheared too.
    h, w = image.shape
    slope = np.tan(np.radians(3.0))
    sheared = cv2.warpAffine(
        image,
        np.float32([[1, 0, 0], [slope, 1, 0]]),
        (w, h + int(w * slope) + 1),
        flags=cv2.INTER_LINEAR,
        borderValue=255,
    )
    moved = Line(
        id="sheared",
        polygon=[(x, y + slope * x) for x, y in line.polygon],
        baseline=[(x, y + slope * x) for x, y in line.baseline],
    )
    straight = crop_line(sheared, moved, height=48)
    assert abs(straight.shape[1] - flat.shape[1]) <= 0.04 * flat.shape[1]
    width = min(straight.shape[1], flat.shape[1])
    a = flat[:, :width].astype(np.float64).ravel()
    b = straight[:, :width].astype(np.float64).ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8
    # Without baseline straightening the same sheared crop is much less alike.
    unstraight = crop_line(sheared, Line(id="u", polygon=moved.polygon), height=48)
    width = min(unstraight.shape[1], flat.shape[1])
    c = unstraight[:, :width].astype(np.float64).ravel()
    assert np.corrcoef(flat[:, :width].astype(np.float64).ravel(), c)[0, 1] < 0.6


def test_a_bulge_of_bare_paper_in_a_few_columns_does_not_shrink_the_line(fondue):
    # A wavy outline or a flourish's envelope reaching far below the line in a few columns, over
    # bare paper: the crop keeps the line's letters at the size they had, so they read as before.
    image, lines = _first_lines(fondue, count=3)
    line = lines[1]
    x0, y0, x1, y1 = line.bbox()
    plain = crop_line(image, line, height=40)
    middle, depth = (x0 + x1) / 2, y1 + 0.8 * (y1 - y0)
    bottom = [p for p in line.polygon if p[1] > (y0 + y1) / 2]
    at = min(
        range(len(line.polygon)), key=lambda i: abs(line.polygon[i][0] - middle) + 1e6 * (line.polygon[i] not in bottom)
    )
    px, py = line.polygon[at]
    spiked = line.polygon[:at] + [(px - 3, py), (px, depth), (px + 3, py)] + line.polygon[at + 1 :]
    page = image.copy()
    page[int(py) + 1 : int(depth) + 2, int(px) - 4 : int(px) + 5] = 255  # paper under the spike
    bulged = crop_line(page, Line(id="bulged", polygon=spiked, baseline=line.baseline), height=40)
    assert abs(bulged.shape[1] - plain.shape[1]) <= 2, "the letters keep their size"
    assert np.abs(bulged[:, : plain.shape[1]].astype(float) - plain[:, : bulged.shape[1]].astype(float)).mean() < 3


def test_a_polygon_drawn_close_around_tall_letters_keeps_them_whole():
    # Ascenders that only a few columns of a close polygon reach are ink, not a bulge: kept.
    page = np.full((100, 400), 255, np.uint8)
    page[40:60, 20:380:6] = 0  # the x-height letters' strokes
    page[16:40, 100:104] = 0  # two tall letters
    page[16:40, 250:254] = 0
    polygon = [(18, 38), (98, 38), (98, 14), (106, 14), (106, 38), (248, 38), (248, 14), (256, 14), (256, 38)]
    polygon += [(382, 38), (382, 62), (18, 62)]
    placed = place_line(page, Line(id="close", polygon=polygon, baseline=[(18, 60), (382, 60)]), height=40)
    # the crop spans the tall letters' rows (16..62), not only the body (38..62), and not the bare
    # rows above them (14..15) either
    kept_rows = 40 / placed.scale
    assert 45 <= kept_rows <= 48, kept_rows
    ink = placed.image < 128
    assert ink[:8].any(axis=1).sum() >= 4, "the tall letters reach the crop's top rows"


def test_a_bare_bulge_on_noisy_paper_of_a_faint_sparse_line_is_still_trimmed():
    # Little ink (a thin hand): the darkest per cent of the polygon is then near paper, and the
    # paper's noise must not pass for ink in the bulge's rows.
    rng = np.random.default_rng(0)
    page = np.clip(rng.normal(200, 6, (120, 400)), 0, 255).astype(np.uint8)
    page[30:50, 20:380:24] = 90  # thin strokes, a small share of the polygon
    polygon = [(18, 28), (382, 28), (382, 52), (210, 52), (210, 90), (190, 90), (190, 52), (18, 52)]
    placed = place_line(page, Line(id="faint", polygon=polygon, baseline=[(18, 50), (382, 50)]), height=40)
    assert 40 / placed.scale <= 30, "the bulge's bare rows (53..90) are gone"


def test_crop_rejects_a_line_without_polygon(fondue):
    image, lines = _first_lines(fondue, count=1)
    with pytest.raises(ValueError, match="no polygon"):
        crop_line(image, Line(id="l1", baseline=lines[0].baseline))


def test_box_crop_is_the_rectangle_with_its_margin_and_the_neighbours_ink(cremma):
    from mspt_core.layout.crop import crop_box

    image, lines = _first_lines(cremma, count=4)
    line = lines[2]
    x0, y0, x1, y1 = line.bbox()
    for margin in (0, 4, 10):
        box = crop_box(image, line, height=None, margin=margin)
        # Unscaled, the crop is the page's rectangle, unmasked.
        top, left = max(int(np.floor(y0)) - margin, 0), max(int(np.floor(x0)) - margin, 0)
        assert np.array_equal(box, image[top : top + box.shape[0], left : left + box.shape[1]])
    # Unlike the polygon crop, ink outside the line's polygon (the neighbours' ascenders and
    # descenders) stays in the box.
    margin = 4
    box = crop_box(image, line, height=None, margin=margin)
    top, left = max(int(np.floor(y0)) - margin, 0), max(int(np.floor(x0)) - margin, 0)
    inside = np.zeros(box.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(np.asarray(line.polygon) - (left, top)).astype(np.int32)], 1)
    outside = box[inside == 0]
    assert (outside < np.median(box) - 80).sum() > 20


def test_box_crop_stops_at_the_page_edge(fondue):
    from mspt_core.layout.crop import crop_box

    image, lines = _first_lines(fondue, count=1)
    h, w = image.shape
    edge = Line(id="edge", polygon=[(0, 0), (300, 0), (300, 30), (0, 30)])
    assert crop_box(image, edge, height=None, margin=6).shape == (37, 307)  # the margin only below and right
    with pytest.raises(ValueError, match="outside"):
        crop_box(image, Line(id="out", polygon=[(w + 5, h + 5), (w + 50, h + 5), (w + 50, h + 40)]), 40)

"""Segmentation on real printed and handwritten pages, reading order, and ``mspt segment``."""

from __future__ import annotations

import importlib
import shutil

import cv2
import numpy as np
import pytest

from mspt_core.cli import main
from mspt_core.document import Line, Region, box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout import order_regions, segment, xy_cut_order
from mspt_core.layout.evaluate import match_lines
from mspt_core.layout.linefinder import group_into_blocks
from tests.conftest import split_xmls


def _find(dataset, name):
    return next(x for x in split_xmls(dataset, "train") if x.name == name)


def _check_lines(page, shape):
    h, w = shape
    for line in page.lines():
        assert len(line.polygon) >= 3 and len(line.baseline) >= 2
        x0, y0, x1, y1 = line.bbox()
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        bx = [p[0] for p in line.baseline]
        by = [p[1] for p in line.baseline]
        assert bx == sorted(bx)
        assert min(by) >= y0 - 2 and max(by) <= y1 + 2


@pytest.mark.parametrize("method", ["learned", "classical"])
@pytest.mark.parametrize(
    "which, name, minimum",
    [
        ("fondue", "05dracula.pdf_page_51.xml", 0.9),
        ("cremma", "01R_P1S3SS1P019_002.xml", 0.8),
    ],
)
def test_segmentation_finds_the_lines_of_a_real_page(which, name, minimum, method, request):
    gt = read_document(_find(request.getfixturevalue(which), name))
    grey = load_grey(gt.image_path)
    page = segment(grey, method=method)
    assert page.metadata["segmentation"] == f"mspt {method}"
    _check_lines(page, grey.shape)
    truth = [ln.polygon for ln in gt.lines()]
    found = [ln.polygon for ln in page.lines()]
    matched = match_lines(truth, found, grey.shape, kind="polygon").matched
    assert matched >= minimum * len(truth)
    assert matched >= minimum * len(found)
    # Reading order: within each region, lines go down the page.
    for region in page.regions:
        tops = [np.mean([p[1] for p in ln.baseline]) for ln in region.lines]
        assert tops == sorted(tops)


def test_segmentation_of_a_skewed_scan(fondue):
    gt = read_document(_find(fondue, "05dracula.pdf_page_52.xml"))
    grey = load_grey(gt.image_path)
    h, w = grey.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 6.0, 1.0)
    tilted = cv2.warpAffine(grey, m, (w, h), borderValue=255)
    noise = np.random.default_rng(0).normal(0, 12, tilted.shape)
    tilted = np.clip(tilted + noise, 0, 255).astype(np.uint8)
    page = segment(tilted)
    assert abs(float(page.metadata["skew_degrees"]) - 6.0) < 0.3
    truth = [[tuple(m[:, :2] @ p + m[:, 2]) for p in ln.polygon] for ln in gt.lines()]
    matched = match_lines(truth, [ln.polygon for ln in page.lines()], tilted.shape, kind="polygon").matched
    assert matched >= 0.9 * len(truth)


def _two_columns(fondue):
    """A real two-column layout: the text blocks of two printed pages side by side."""
    blocks = []
    for name in ("05dracula.pdf_page_51.xml", "05dracula.pdf_page_53.xml"):
        gt = read_document(_find(fondue, name))
        grey = load_grey(gt.image_path)
        x0, y0, x1, y1 = gt.regions[0].lines[0].bbox()
        lines = list(gt.lines())
        top, bottom = int(lines[0].bbox()[1]), int(lines[9].bbox()[3])
        left, right = int(min(ln.bbox()[0] for ln in lines)), int(max(ln.bbox()[2] for ln in lines))
        blocks.append(grey[top:bottom, left:right])
    h = max(b.shape[0] for b in blocks)
    gap = np.full((h, 150), 255, np.uint8)

    def pad(b):
        return np.vstack([b, np.full((h - b.shape[0], b.shape[1]), 255, np.uint8)])

    page = np.hstack([gap, pad(blocks[0]), gap, pad(blocks[1]), gap])
    return np.vstack(
        [np.full((150, page.shape[1]), 255, np.uint8), page, np.full((150, page.shape[1]), 255, np.uint8)]
    ), 150 + blocks[0].shape[1] + 75


@pytest.mark.parametrize("rtl", [False, True])
def test_columns_are_read_in_script_direction(fondue, rtl):
    image, middle = _two_columns(fondue)
    page = segment(image, rtl=rtl)
    sides = ["left" if np.mean([p[0] for p in ln.baseline]) < middle else "right" for ln in page.lines()]
    assert sides.count("left") >= 9 and sides.count("right") >= 9
    first, second = ("right", "left") if rtl else ("left", "right")
    assert sides == [first] * sides.count(first) + [second] * sides.count(second)


def test_xy_cut_reads_heading_then_columns():
    heading, left_a, left_b, right_a = (0, 0, 100, 10), (0, 20, 45, 40), (0, 45, 45, 90), (55, 20, 100, 90)
    boxes = [right_a, left_b, heading, left_a]
    assert xy_cut_order(boxes) == [2, 3, 1, 0]
    assert xy_cut_order(boxes, rtl=True) == [2, 0, 3, 1]


def test_xy_cut_reads_a_line_broken_at_a_wide_space_left_piece_first():
    # Boxes of one block of a 1548 print (ocrd-print-de val, aepinus_bekentnis_1548_0006) as the
    # line finder found them, in page pixels: three lines came out in two pieces each. Where a
    # right-hand piece reaches higher than its left-hand one (a capital; the second's top is
    # raised by 10 px here, as it lay on the deskewed working copy), reading by top edge put it
    # first.
    whole_a = (441, 627, 1477, 689)
    left_1, right_1 = (360, 675, 652, 717), (673, 682, 1481, 733)
    right_2, left_2 = (845, 712, 1484, 773), (367, 719, 788, 761)
    whole_b = (366, 757, 1480, 813)
    right_3, left_3 = (501, 802, 1483, 855), (363, 803, 448, 839)
    whole_c = (358, 839, 1479, 896)
    boxes = [whole_a, left_1, right_1, right_2, left_2, whole_b, right_3, left_3, whole_c]
    assert xy_cut_order(boxes) == [0, 1, 2, 4, 3, 5, 7, 6, 8]
    assert xy_cut_order(boxes, rtl=True) == [0, 2, 1, 3, 4, 5, 6, 7, 8]
    # the line finder's blocks, as segment() orders them (rtl: a right-to-left page's pieces)
    assert group_into_blocks(boxes, pitch=45) == [[0, 1, 2, 4, 3, 5, 7, 6, 8]]
    assert group_into_blocks(boxes, pitch=45, rtl=True) == [[0, 2, 1, 3, 4, 5, 6, 7, 8]]


def test_xy_cut_reads_the_left_page_of_a_spread_first_where_their_blocks_overlap():
    # A spread (cremma-mss-19 val, f120): the two pages' blocks overlap by a hundred pixels at
    # the fold, so no gutter splits them into columns; the right page's block starts a little
    # higher. Its folio number sits above both, in a band of white of its own: cut off first.
    left_page, right_page, folio = (2262, 486, 4220, 3298), (4096, 478, 6117, 3196), (5886, 382, 6006, 457)
    assert xy_cut_order([right_page, folio, left_page]) == [1, 2, 0]
    assert xy_cut_order([right_page, folio, left_page], rtl=True) == [1, 0, 2]


def test_xy_cut_reads_each_page_of_a_spread_written_into_its_fold_to_its_end():
    # Two facing pages whose lines reach 20 px (under half a line height) past the fold, rows
    # offset by half a line, and one line at the bottom the line finder joined across the fold:
    # no gutter and no band of white cut anything, so the lines used to be read row by row
    # across both pages.
    left = [(0, 40 * i, 500 - (60 if i % 3 == 2 else 0), 40 * i + 50) for i in range(6)]
    right = [(480, 20 + 40 * i, 1000, 70 + 40 * i) for i in range(6)]
    joined = (200, 250, 900, 300)
    boxes = [right[2], left[4], joined, left[0], right[0], left[1], right[5], left[2], right[1], left[3]]
    boxes += [right[3], left[5], right[4]]
    names = {**{box: f"L{k}" for k, box in enumerate(left)}, **{box: f"R{k}" for k, box in enumerate(right)}}
    names[joined] = "joined"
    in_order = [f"L{k}" for k in range(6)] + [f"R{k}" for k in range(6)] + ["joined"]
    assert [names[boxes[i]] for i in xy_cut_order(boxes)] == in_order
    rtl = [f"R{k}" for k in range(6)] + ["joined"] + [f"L{k}" for k in range(6)]
    assert [names[boxes[i]] for i in xy_cut_order(boxes, rtl=True)] == rtl


def test_xy_cut_reads_a_table_of_short_cells_row_by_row():
    # Two columns of one- or two-word cells whose rows line up and whose boxes touch: a
    # register's table, read across each row as before, not column by column like a spread.
    cells = [(0, 40 * i, 80, 40 * i + 50) for i in range(6)] + [(75, 5 + 40 * i, 160, 40 * i + 55) for i in range(6)]
    assert xy_cut_order(cells) == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]


def test_xy_cut_reads_side_headings_where_they_stand_beside_the_text():
    # A form's headings set out left of its text, each reaching a little into it: three lines of
    # text length on the left, but far apart, so not a page of a spread; each heading is read
    # before the text beside it, as before.
    text = [(300, 40 * i, 1000, 40 * i + 50) for i in range(20)]
    headings = [(0, 0, 310, 50), (0, 320, 310, 370), (0, 600, 310, 650)]
    order = xy_cut_order(headings + text)
    assert order.index(1) == order.index(3 + 8) - 1 and order.index(2) == order.index(3 + 15) - 1


def _region(box, lines):
    region = Region(id="", polygon=box_polygon(*box))
    region.lines = [Line(id="", polygon=box_polygon(*line)) for line in lines]
    return region


def test_a_spreads_blocks_are_read_page_by_page_where_they_overlap_at_the_fold():
    # The left page's heading and text, and the right page, whose text starts higher: the
    # blocks overlap 5 px at the fold and by height, so no cut parts them, and the right page
    # used to be read first. Their lines tell the two pages apart.
    left = [(0, 100 + 40 * i, 505, 150 + 40 * i) for i in range(10)]
    right = [(500, 10 + 40 * i, 1000, 60 + 40 * i) for i in range(10)]
    heading = (50, 20, 450, 70)
    regions = [_region((500, 10, 1000, 460), right), _region(heading, [heading]), _region((0, 100, 505, 550), left)]
    assert order_regions(regions) == [regions[1], regions[2], regions[0]]
    assert order_regions(regions, rtl=True) == [regions[0], regions[1], regions[2]]


def test_a_title_over_two_columns_is_read_before_both():
    # The title is the one line crossing the columns' gutter; a band of white below it is cut
    # first, as before.
    left = [(100, 100 + 30 * i, 480, 125 + 30 * i) for i in range(20)]
    right = [(520, 100 + 30 * i, 900, 125 + 30 * i) for i in range(20)]
    title = (200, 0, 800, 40)
    regions = [_region((520, 100, 900, 695), right), _region(title, [title]), _region((100, 100, 480, 695), left)]
    assert order_regions(regions) == [regions[1], regions[2], regions[0]]
    assert order_regions(regions, rtl=True) == [regions[1], regions[0], regions[2]]


def test_xy_cut_keeps_a_note_written_above_the_line_beside_it_first():
    # peraire-20 val (B.18.chine4_0003), the boxes of the lines the finder found: a title across
    # the page's top and a note written right of it and a little higher, which the ground truth
    # reads first. Handwritten boxes are tall, so each one's middle lies within the other box;
    # they are still two rows. Below them, "Fini" and its date, two pieces of one row.
    title, note = (54, 55, 791, 108), (826, 34, 1105, 93)
    finished, date = (280, 129, 359, 170), (603, 101, 1040, 167)
    assert xy_cut_order([title, note, finished, date]) == [1, 0, 2, 3]


def test_segmentation_reads_a_spread_left_page_first(cremma):
    xml = next(x for x in split_xmls(cremma, "val") if x.name == "f120.xml")
    gt = read_document(xml)
    grey = load_grey(gt.image_path)
    page = segment(grey)
    fold = grey.shape[1] * 0.57  # the spread's fold on this scan
    pages = [r for r in page.regions if len(r.lines) >= 10]
    assert len(pages) == 2
    left, right = (sum(ln.bbox()[0] + ln.bbox()[2] for ln in r.lines) / (2 * len(r.lines)) for r in pages)
    assert left < fold < right


def test_mspt_segment_writes_page_xml_and_reuses_ground_truth(tmp_path, cremma, capsys):
    from mspt_core.formats import read_document

    xml = _find(cremma, "01R_P1S3SS1P019_003.xml")
    gt = read_document(xml)
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(gt.image_path, bare / "scan.jpg")
    assert main(["segment", str(bare / "scan.jpg"), "--out", str(tmp_path / "out")]) == 0
    found = read_document(tmp_path / "out" / "scan.xml")
    assert len(list(found.lines())) >= 0.8 * len(list(gt.lines()))
    assert all(ln.baseline and len(ln.polygon) >= 3 for ln in found.lines())
    assert capsys.readouterr().out.rstrip().endswith("mspt learned")  # the default
    assert (
        main(["segment", str(bare / "scan.jpg"), "--out", str(tmp_path / "classical"), "--segmenter", "classical"]) == 0
    )
    assert capsys.readouterr().out.rstrip().endswith("mspt classical")

    exported = tmp_path / "exported"
    exported.mkdir()
    shutil.copy(gt.image_path, exported / gt.image_path.name)
    shutil.copy(xml, exported / f"{gt.image_path.stem}.xml")
    assert (
        main(["segment", str(exported / gt.image_path.name), "--out", str(tmp_path / "out2"), "--format", "alto"]) == 0
    )
    reused = read_document(tmp_path / "out2" / f"{gt.image_path.stem}.xml")
    assert [ln.baseline for ln in reused.lines()] == [ln.baseline for ln in gt.lines()]
    assert "ground truth" in capsys.readouterr().out


def test_mspt_segment_reports_a_bad_file(tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert main(["segment", str(tmp_path / "bad.png"), "--out", str(tmp_path / "out")]) == 2
    assert "bad.png" in capsys.readouterr().err


def test_pair_lines_matches_one_to_one_by_overlap():
    from mspt_core.layout.evaluate import pair_lines

    square = lambda x, y, s=10: [(x, y), (x + s, y), (x + s, y + s), (x, y + s)]  # noqa: E731
    truth = [square(0, 0), square(0, 20), [(0, 0), (1, 1)], square(0, 40)]
    found = [square(1, 21), square(0, 1), square(100, 100)]
    assert sorted(pair_lines(truth, found, (200, 200))) == [(0, 1), (1, 0)]
    # A found line covering two truth lines matches at most one of them.
    assert len(pair_lines(truth[:2], [[(0, 0), (10, 0), (10, 30), (0, 30)]], (200, 200), threshold=0.3)) == 1


class _SizeRecordingFinder:
    """A stand-in line finder that records the image size it is shown and finds nothing."""

    def __init__(self):
        from mspt_core.layout.linefinder import LineFinderConfig

        self.config = LineFinderConfig()
        self.shown: list[tuple[int, int]] = []

    def maps(self, image):
        self.shown.append(image.shape)
        half = ((image.shape[0] + 1) // 2, (image.shape[1] + 1) // 2)
        return np.zeros(half, np.float32), np.zeros(half, np.float32)


@pytest.mark.parametrize(
    "shape, letters, expected_side",
    [
        ((1600, 1100), 12.0, 1600),  # a page in the trained range: read at the input side, as always
        ((1600, 1100), 7.0, 1600),  # its smallest letters: still as always
        ((800, 550), 12.0, 1600),  # a small image of normal text is enlarged to the input side
        ((400, 300), 24.0, round(400 * 32 / 24)),  # large letters are capped at 32 px
        ((3200, 2200), 10.0, round(3200 * 7 / 10)),  # 5 px at the input side: read at 7 px instead
        ((1600, 1100), 6.0, round(1600 * 10.5 / 6)),  # at the 6-px floor: enlarged to 10.5 px
        ((4000, 3000), 6.0, round(4000 * (8e6 / 12e6) ** 0.5)),  # but never past 8 MP
    ],
)
def test_the_finder_is_shown_letters_of_the_sizes_it_learned(shape, letters, expected_side):
    learned_blocks = importlib.import_module("mspt_core.layout.segment")._learned_blocks
    finder = _SizeRecordingFinder()
    learned_blocks(np.full(shape, 255, np.uint8), letters, finder)
    assert abs(max(finder.shown[0]) - expected_side) <= 1, finder.shown

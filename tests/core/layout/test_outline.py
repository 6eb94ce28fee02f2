"""Lines that come with a page are cut for reading along the line finder's outline of them where
it finds them whole, and along their own otherwise; their own outlines stay in the document."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from PIL import Image

from mspt_core import pipeline
from mspt_core.cli import main
from mspt_core.document import Line, LineStatus, Page, Region, box_polygon
from mspt_core.formats import read_document, to_bytes
from mspt_core.images import load_grey
from mspt_core.layout.crop import place_line
from mspt_core.layout.outline import lines_given, outlines_to_cut, reading_outlines
from mspt_core.metrics import cer
from mspt_core.pipeline import PageJob, recognize_pages
from mspt_core.recognize import open_reader
from tests.conftest import DATA, _require, split_xmls

# A val page of Diderot's Salon de 1767 whose eScriptorium outlines reach up to the line above.
SALON = ("cremma-mss-18-handwritten-fr", "7_79565_default")


def _line(name: str, x0: float, y0: float, x1: float, y1: float) -> Line:
    return Line(name, polygon=box_polygon(x0, y0, x1, y1), baseline=[(x0, y1 - 10), (x1, y1 - 10)])


def test_a_given_line_is_cut_along_a_found_line_only_where_that_one_covers_it_and_is_no_taller():
    given = [
        _line("wide", 100, 100, 900, 200),
        _line("short", 100, 300, 900, 400),
        _line("alone", 100, 600, 900, 700),
        _line("thin", 100, 800, 900, 860),
        _line("word", 1000, 100, 1400, 200),
    ]
    found = [
        _line("f-wide", 120, 130, 880, 190),  # tighter, ends within half a line height of the given ends
        _line("f-short", 100, 310, 560, 400),  # pairs with "short" (box IoU 0.52) but stops at its middle
        _line("f-stray", 2000, 100, 2300, 200),
        _line("f-tall", 100, 790, 900, 880),  # pairs with "thin" (box IoU 0.67) but reaches further
        _line("f-long", 1000, 110, 1750, 200),  # pairs with "word" (box IoU 0.53) but runs on into the next words
    ]
    cut = outlines_to_cut(given, found, (1000, 2400))
    assert [ln.id for ln in cut] == ["f-wide", "short", "alone", "thin", "word"]
    # the same found line read the other way (its baseline drawn right to left: upside down)
    found[0] = Line("f-flipped", polygon=found[0].polygon, baseline=[(880, 140), (120, 140)])
    assert outlines_to_cut(given, found, (1000, 2400))[0].id == "wide"


def test_a_line_written_down_the_page_is_measured_along_its_own_direction():
    down = Line("down", polygon=box_polygon(100, 100, 160, 900), baseline=[(110, 100), (110, 900)])
    shorter = Line("f-shorter", polygon=box_polygon(105, 200, 155, 800), baseline=[(112, 200), (112, 800)])
    assert outlines_to_cut([down], [shorter], (1000, 1000))[0].id == "down"  # would cut off 100 px at each end
    tighter = Line("f-tighter", polygon=box_polygon(108, 110, 150, 890), baseline=[(112, 110), (112, 890)])
    assert outlines_to_cut([down], [tighter], (1000, 1000))[0].id == "f-tighter"


def test_reading_goes_on_along_the_given_outlines_where_the_line_finder_fails(monkeypatch, caplog):
    from mspt_core.layout import outline

    def broken(*args, **kwargs):
        raise MemoryError("no room for the page's maps")

    monkeypatch.setattr(outline, "segment", broken)
    given = [_line("wide", 100, 100, 900, 200)]
    assert outline.reading_outlines(np.full((1000, 1000), 255, np.uint8), given) == given
    assert "line finder failed" in caplog.text


def test_lines_given_are_told_from_lines_mspt_found():
    page = Page(width=10, height=10, regions=[Region(id="r")])
    assert lines_given(page)
    page.metadata["segmentation"] = "ground truth"
    assert lines_given(page)
    for method in ("mspt learned", "mspt classical"):
        page.metadata["segmentation"] = method
        assert not lines_given(page)


@pytest.fixture(scope="module")
def salon():
    dataset = _require(DATA / SALON[0])
    doc = read_document(next(x for x in split_xmls(dataset, "val") if x.stem == SALON[1]))
    return doc, load_grey(doc.image_path)


def test_generous_outlines_of_a_real_page_are_cut_along_the_tighter_found_lines_and_read_better(salon):
    doc, grey = salon
    lines = [ln for ln in doc.lines() if ln.text.strip()]
    cut = reading_outlines(grey, lines)
    replaced = [(given, other) for given, other in zip(lines, cut, strict=True) if other is not given]
    assert len(replaced) >= 0.8 * len(lines)
    # the found outlines leave out the line above's descenders: the crops are thinner ...
    heights = [(g.bbox()[3] - g.bbox()[1], o.bbox()[3] - o.bbox()[1]) for g, o in replaced]
    assert np.median([o / g for g, o in heights]) < 0.9
    # ... so the letters come out larger, and the handwriting model reads the page better
    reader = open_reader("handwriting")
    truth = [ln.text for ln in lines]

    def read(outlines):
        return [r.text for r in reader.read([place_line(grey, o, reader.height).image for o in outlines])]

    assert cer(truth, read(cut)) < cer(truth, read(lines)) - 0.03


def test_the_pipeline_reads_given_lines_along_reading_outlines_and_keeps_their_own(salon, monkeypatch):
    doc, grey = salon
    reader = open_reader("handwriting")
    lines = [copy.deepcopy(ln) for ln in doc.lines() if ln.text.strip()][:6]  # read in place: the fixture's stay
    outlines = [list(ln.polygon) for ln in lines]
    cut = reading_outlines(grey, lines)
    assert sum(o is not g for o, g in zip(cut, lines, strict=True)) >= 4  # the finder did run
    expected = [r.text for r in reader.read([place_line(grey, o, reader.height).image for o in cut])]
    # two lines a person corrected: kept, yet paired with the rest (one pairing for the page)
    for i in (0, 3):
        lines[i].text, lines[i].status = "corrected", LineStatus.CORRECTED
    paired = []
    monkeypatch.setattr(pipeline, "reading_outlines", lambda *a: paired.append(len(a[1])) or reading_outlines(*a))
    page = Page(width=grey.shape[1], height=grey.shape[0], regions=[Region(id="r", lines=lines)])
    page.metadata["segmentation"] = "ground truth"
    assert recognize_pages([PageJob(page, grey, doc.image_path)], reader, finder_outlines=True) == 4
    assert paired == [6]
    assert [ln.text for ln in lines] == ["corrected", *expected[1:3], "corrected", *expected[4:]]
    assert [list(ln.polygon) for ln in lines] == outlines


def test_ground_truth_beside_an_image_forgets_what_an_earlier_segmentation_said(salon, tmp_path):
    from mspt_core.layout import pages_with_images

    doc, grey = salon
    image = tmp_path / "scan.png"
    Image.fromarray(grey[:400, :800]).save(image)
    page = Page(width=800, height=400, regions=[Region(id="r", lines=[_line("l", 10, 10, 700, 80)])])
    page.metadata.update({"segmentation": "mspt learned", "page_turn": "90", "skew_degrees": "3.00"})
    page.image_path = image
    (tmp_path / "scan.xml").write_bytes(to_bytes([page], tmp_path / "scan.xml", "page"))
    ((given, _),) = pages_with_images(image)
    assert given.metadata["segmentation"] == "ground truth" and lines_given(given)
    assert "page_turn" not in given.metadata and "skew_degrees" not in given.metadata


def test_lines_mspt_found_are_not_looked_for_again(salon, monkeypatch):
    doc, grey = salon
    lines = [copy.deepcopy(ln) for ln in doc.lines() if ln.text.strip()][:2]
    page = Page(width=grey.shape[1], height=grey.shape[0], regions=[Region(id="r", lines=lines)])
    page.metadata["segmentation"] = "mspt learned"

    def looked(*args):
        raise AssertionError("the lines were found by mspt: no second search")

    monkeypatch.setattr(pipeline, "reading_outlines", looked)
    assert recognize_pages([PageJob(page, grey, doc.image_path)], open_reader("default"), finder_outlines=True) == 2


@pytest.mark.parametrize("own", [False, True])
def test_transcribe_cuts_along_reading_outlines_unless_told_to_keep_the_given_ones(salon, tmp_path, monkeypatch, own):
    doc, _ = salon
    calls = []
    real = pipeline.reading_outlines

    def spy(image, lines, rtl=False):
        calls.append(len(lines))
        return real(image, lines, rtl)

    monkeypatch.setattr(pipeline, "reading_outlines", spy)
    flags = ["--given-outlines"] if own else []
    command = ["transcribe", str(doc.image_path), "--out", str(tmp_path), "--reread", "--device", "cpu", *flags]
    assert main(command) == 0
    assert calls == ([] if own else [sum(1 for _ in doc.lines())])
    written = read_document(next(tmp_path.glob("*.xml")))
    assert [list(ln.polygon) for ln in written.lines()] == [list(ln.polygon) for ln in doc.lines()]

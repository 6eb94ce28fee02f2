"""A digital library's banner under a scan (Gallica's "Source gallica.bnf.fr / ...") is not read as
the document's text; pages without one keep every row (real val pages)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mspt_core.document import Page, Region, bbox
from mspt_core.formats import read_document, to_bytes
from mspt_core.images import load_grey
from mspt_core.layout.banner import banner_rows
from mspt_core.layout.segment import segment
from mspt_core.pipeline import PageJob, recognize_pages
from mspt_core.recognize import open_reader
from tests.conftest import DATA, _require, split_xmls

GALLICA_PAGE = ("tapuscorpus-typewritten-fr", "Pierre_et_Marie_Curie_Papiers__..._Curie_Pierre_btv1b90802629_12")


def _val_page(name: str, stem: str):
    doc = read_document(next(x for x in split_xmls(_require(DATA / name), "val") if x.stem == stem))
    return doc, load_grey(doc.image_path)


def _lowest(lines) -> float:
    return max(bbox(line.polygon)[3] for line in lines)


@pytest.fixture(scope="module")
def gallica():
    return _val_page(*GALLICA_PAGE)


def test_the_banner_gallica_adds_under_a_scan_is_found(gallica):
    doc, grey = gallica
    h = grey.shape[0]
    first, end = banner_rows(grey)
    assert end == h and 0.015 * h < h - first < 0.03 * h  # Gallica's strip: about 2 % of the height
    assert _lowest(doc.lines()) < first  # the transcriber's lines all lie above it


def test_no_line_is_found_in_the_banner_and_its_text_is_not_read(gallica, tmp_path):
    doc, grey = gallica
    first, end = banner_rows(grey)
    unaware = list(segment(grey, banner=False).lines())
    in_banner = [line for line in unaware if bbox(line.polygon)[1] >= first - 5]
    assert len(in_banner) == 1  # the finder alone takes the banner's text for a line

    page = segment(grey)
    assert page.metadata["library_banner"] == f"{first}-{end}"
    assert (page.height, page.width) == grey.shape
    assert _lowest(page.lines()) <= first
    assert len(list(page.lines())) >= len(unaware) - 1  # the scan's lines are all still found

    reader = open_reader("default")
    recognize_pages([PageJob(page, grey, doc.image_path)], reader)
    text = "\n".join(line.text for line in page.lines())
    assert "gallica" not in text.lower() and "Chambre d'ionisation" in text
    left_out = Page(grey.shape[1], grey.shape[0], regions=[Region("banner", lines=in_banner)])
    recognize_pages([PageJob(left_out, grey, doc.image_path)], reader)
    assert "gallica" in in_banner[0].text.lower()  # what was left out

    # what segmentation said of the page goes out with it, and comes back
    (tmp_path / "page.xml").write_bytes(to_bytes([page], tmp_path / "page.xml", "page"))
    assert read_document(tmp_path / "page.xml").metadata["library_banner"] == f"{first}-{end}"


def test_a_banner_along_the_top_edge_is_left_out_too(gallica):
    _, grey = gallica
    first, _ = banner_rows(grey)
    strip, scan = grey[first:], grey[:first]
    on_top = np.ascontiguousarray(np.vstack([strip, scan]))
    assert banner_rows(on_top) == (0, strip.shape[0])
    page = segment(on_top)
    assert page.metadata["library_banner"] == f"0-{strip.shape[0]}"
    alone = segment(scan, banner=False)
    moved = sorted((x0, y0 + strip.shape[0], x1, y1 + strip.shape[0]) for x0, y0, x1, y1 in map(_box, alone.lines()))
    found = sorted(map(_box, page.lines()))
    assert len(found) == len(moved)
    assert np.allclose(found, moved, atol=0.2)  # the very lines of the scan alone, moved down


def _box(line) -> tuple[float, ...]:
    return tuple(bbox(line.polygon))


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        # pure white rows at the bottom, blank: a scanner's border, not a banner
        ("tapuscorpus-typewritten-fr", "2020601_https___1914_1918_europeana_eu_contributions_21574.pdf_page_47"),
        ("cremma-mss-19-handwritten-fr", "01R_P1S3SS2P118_002"),
        ("cremma-mss-19-handwritten-fr", "01R_P1S3SS1P019_007"),
        ("ehri-typewritten-en-de", "EHRI-NISKO-19391112_DE_03"),
        # a page rendered from a PDF: pure white paper everywhere, so no strip stands apart
        ("fondue-en-print-20", "05dracula.pdf_page_54"),
    ],
)
def test_pages_without_a_banner_keep_every_row(name, stem):
    _, grey = _val_page(name, stem)
    assert banner_rows(grey) is None


def test_a_scans_thin_white_edge_crossed_by_a_frame_line_is_no_banner():
    # a Testaments de Poilus val page: six pure white rows at the top, a dark line through them
    _, grey = _val_page("testaments-poilus-handwritten-fr", "TestamentsDePoilus_will_AN_0101-0")
    assert banner_rows(grey) is None


@pytest.mark.parametrize(
    ("name", "stem", "degrees"),
    [
        ("peraire-20-handwritten-fr", "B.17.chine3_0003", 1.0),
        ("testaments-poilus-handwritten-fr", "TestamentsDePoilus_will_AN_0348-0", 1.0),
        ("tapuscorpus-typewritten-fr", "2020601_https___1914_1918_europeana_eu_contributions_21574.pdf_page_47", -0.5),
    ],
)
def test_the_white_corner_a_page_turned_with_white_fill_leaves_is_no_banner(name, stem, degrees):
    # val pages turned a little, as a deskewing tool turns them, and given a white margin below
    _, grey = _val_page(name, stem)
    h, w = grey.shape
    turned = cv2.warpAffine(grey, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h), borderValue=255)
    padded = np.vstack([turned, np.full((h // 30, w), 255, np.uint8)])
    assert banner_rows(turned) is None and banner_rows(padded) is None

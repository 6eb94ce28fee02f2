"""Line kinds and zones of found lines: the features, the classifier's file, and the bundled
classifier on real pages it was not fitted on (val split), through to PAGE and ALTO."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from mspt_core import tensorfile
from mspt_core.document import Line, Region, bbox, box_polygon
from mspt_core.errors import ModelFileError
from mspt_core.formats import read_document, write_document
from mspt_core.images import load_grey
from mspt_core.layout import kinds
from mspt_core.layout.evaluate import pair_lines
from mspt_core.layout.kinds import (
    FEATURES,
    LINE_KINDS,
    OTHER,
    ZONE_KINDS,
    assign_kinds,
    fit_kinds,
    kind_scores,
    line_features,
    line_kind_index,
    load_kinds,
    page_examples,
    save_kinds,
    zone_kind_index,
)
from mspt_core.layout.segment import segment
from tests.conftest import DATA, split_xmls

TELEMAQUE = "Les_Aventures_de_Telemaque_ms__...__btv1b84477601_137.xml"


def val_page(dataset: str, name: str):
    path = DATA / dataset
    if not path.exists():
        pytest.skip(f"needs {path} (the shared ground truth beside the clone); not present here")
    return read_document(next(x for x in split_xmls(path, "val") if x.name == name))


def bundled():
    classifier = kinds.bundled()
    assert classifier is not None, "resources/layout/line-kinds.safetensors is missing or unreadable"
    return classifier


def test_ground_truth_labels_map_to_the_classes():
    assert line_kind_index("HeadingLine:title") == LINE_KINDS.index("HeadingLine")
    assert line_kind_index("default") == 0  # kraken's name for the default line
    assert line_kind_index("DropCapitalLine") == OTHER and line_kind_index(None) == -1
    assert zone_kind_index("NumberingZone:page") == ZONE_KINDS.index("NumberingZone")
    assert zone_kind_index("page-number") == ZONE_KINDS.index("NumberingZone")  # PAGE's own types
    assert zone_kind_index("paragraph") == ZONE_KINDS.index("MainZone")
    assert zone_kind_index("TableZone") == OTHER and zone_kind_index("footnote") == OTHER
    assert zone_kind_index("") == -1


def test_a_page_number_said_of_a_stamp_counts_against_the_classifier():
    truth = np.array([0, OTHER, ZONE_KINDS.index("NumberingZone"), -1])
    said = np.array([0, ZONE_KINDS.index("NumberingZone"), ZONE_KINDS.index("NumberingZone"), 2])
    numbers = kind_scores(said, truth, ZONE_KINDS)["NumberingZone"]
    assert (numbers.ground_truth, numbers.found, numbers.matched) == (1, 2, 1)  # the unlabelled line is not judged
    assert numbers.precision == 0.5 and numbers.recall == 1.0


def test_features_do_not_depend_on_the_scan_resolution():
    page = val_page("htromance-mss-16-18-handwritten-fr", TELEMAQUE)
    boxes = [line.bbox() for line in page.lines()]
    at_300 = line_features(boxes, page.width, page.height)
    at_600 = line_features([tuple(2 * v for v in box) for box in boxes], 2 * page.width, 2 * page.height)
    assert at_300.shape == (len(boxes), FEATURES)
    np.testing.assert_allclose(at_300, at_600, rtol=1e-5, atol=1e-5)


NUMBERED_PAGES = [
    ("fondue-en-print-20", "Turn_Screw.pdf_page_86.xml"),  # a printed page number above the text
    ("htromance-mss-16-18-handwritten-fr", TELEMAQUE),  # a folio number on an 18th-c. manuscript
]


@pytest.mark.parametrize(("dataset", "name"), NUMBERED_PAGES)
def test_a_page_number_above_the_text_becomes_its_own_numbering_zone(dataset, name):
    """Real pages (val) whose number sits above the text: found, set apart from the text block
    in a region of its own and called a NumberingZone, as the ground truth says."""
    truth = val_page(dataset, name)
    number = next(line for region in truth.regions if region.region_type == "NumberingZone" for line in region.lines)
    grey = load_grey(truth.image_path)
    found = segment(grey)
    found_lines = list(found.lines_with_regions())
    pairs = dict(pair_lines([number.polygon], [line.polygon for line, _ in found_lines], grey.shape))
    assert 0 in pairs, "the folio number was not found"
    line, region = found_lines[pairs[0]]
    assert region.region_type == "NumberingZone" and region.lines == [line]
    assert sum(r.region_type == "MainZone" for r in found.regions) >= 1
    assert sum(r.region_type == "NumberingZone" for r in found.regions) == 1


@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_kinds_reach_page_and_alto(tmp_path, fmt):
    truth = val_page("htromance-mss-16-18-handwritten-fr", TELEMAQUE)
    found = segment(load_grey(truth.image_path))
    found.image_path = truth.image_path
    out = tmp_path / f"{fmt}.xml"
    write_document(found, out, fmt)
    back = read_document(out)
    assert [r.region_type for r in back.regions] == [r.region_type for r in found.regions]
    assert [ln.line_type for ln in back.lines()] == [ln.line_type for ln in found.lines()]
    assert "NumberingZone" in {r.region_type for r in back.regions}


@pytest.mark.parametrize(("dataset", "name"), NUMBERED_PAGES)
def test_kinds_never_drop_or_reorder_the_text(dataset, name):
    """With or without the classifier, segmentation finds the same lines and reads the text in
    the same order; only the page number moves to a region of its own."""
    grey = load_grey(val_page(dataset, name).image_path)
    plain = segment(grey, kinds=False)
    typed = segment(grey)
    assert {ln.line_type for ln in plain.lines()} == {"DefaultLine"}
    assert {r.region_type for r in plain.regions} == {"MainZone"}
    number = [ln.polygon for r in typed.regions if r.region_type == "NumberingZone" for ln in r.lines]
    assert len(number) == 1
    assert [ln.polygon for ln in typed.lines() if ln.polygon not in number] == [
        ln.polygon for ln in plain.lines() if ln.polygon not in number
    ]
    for region in typed.regions:
        assert region.lines
        x0, y0, x1, y1 = bbox(region.polygon)
        assert all(x0 <= a and y0 <= b and c <= x1 and d <= y1 for a, b, c, d in (ln.bbox() for ln in region.lines))


class _Says(kinds.KindClassifier):
    """A classifier that says the given zones, in order, whatever the lines."""

    def __init__(self, zones: list[str]):
        super().__init__(**{f.name: getattr(bundled(), f.name) for f in fields(kinds.KindClassifier)})
        self.zones = zones

    def classify(self, boxes, width, height):
        return ["DefaultLine"] * len(boxes), list(self.zones)


def test_only_the_lines_at_either_end_of_a_block_are_set_apart():
    """A number above the text and one below become regions of their own; a line inside the
    text that the classifier misjudges keeps its place in the block (and the block's zone)."""
    lines = [Line(id=f"l{i}", polygon=box_polygon(10, 10 + 30 * i, 300, 35 + 30 * i)) for i in range(6)]
    block = Region(id="r", polygon=box_polygon(10, 10, 300, 185), lines=list(lines))
    says = _Says(["NumberingZone", "MainZone", "MarginTextZone", "MainZone", "MainZone", "NumberingZone"])
    regions = assign_kinds([block], 400, 400, says)
    kept = {r.region_type: [ln.id for ln in r.lines] for r in regions if r.region_type != "NumberingZone"}
    assert kept == {"MainZone": ["l1", "l2", "l3", "l4"]}
    assert sorted([ln.id for ln in r.lines] for r in regions if r.region_type == "NumberingZone") == [["l0"], ["l5"]]
    assert bbox(block.polygon) == (10, 40, 300, 155)  # the block's box shrinks to its own lines
    tie = Region(id="t", polygon=box_polygon(10, 10, 300, 65), lines=lines[:2])
    (alone,) = [r for r in assign_kinds([tie], 400, 400, _Says(["MarginTextZone", "MainZone"])) if r is not tie]
    assert tie.region_type == "MainZone" and alone.region_type == "MarginTextZone"  # a tie goes to the text
    empty = Region(id="e", polygon=box_polygon(0, 0, 5, 5), region_type="MainZone")
    assert assign_kinds([empty], 400, 400, _Says([])) == [empty]


def _never_says_anything():
    return replace(bundled(), line_kinds=LINE_KINDS[:1], zone_kinds=ZONE_KINDS[:1])


def test_a_kind_switched_off_is_never_said():
    page = val_page("htromance-mss-16-18-handwritten-fr", TELEMAQUE)
    features, _, _ = page_examples(page)
    classifier = bundled()
    _, zones = classifier.predict(features)
    assert ZONE_KINDS.index("NumberingZone") in zones
    _, zones = _never_says_anything().predict(features)
    assert set(zones.tolist()) == {0}


def test_fitted_classifier_round_trips_through_its_file(tmp_path):
    page = val_page("htromance-mss-16-18-handwritten-fr", TELEMAQUE)
    features, line_labels, zone_labels = page_examples(page)
    classifier = fit_kinds(features, line_labels, zone_labels, hidden=4)
    classifier.zone_kinds = ("MainZone", "NumberingZone")
    path = save_kinds(tmp_path / "kinds.safetensors", classifier)
    loaded = load_kinds(path)
    assert loaded.zone_kinds == ("MainZone", "NumberingZone")
    for a, b in zip(classifier.predict(features), loaded.predict(features), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "change",
    [
        {"format_version": "2"},
        {"format_version": None},
        {"format_version": 2},
        {"hidden": 16.7},
        {"hidden": True},
        {"line_kinds": [["DefaultLine"]]},
        {"zone_kinds": ["MainZone", "StampZone"]},
        {"features": 7},
    ],
)
def test_a_damaged_settings_header_is_refused_and_segmentation_goes_on(tmp_path, monkeypatch, change):
    good = bundled()
    path = save_kinds(tmp_path / "k.safetensors", good)
    file = tensorfile.open_file(path, "line-kind classifier")
    meta = {**file.json("mspt"), **change}
    tensorfile.write(path, file.tensors(), {"mspt": meta})
    with pytest.raises(ModelFileError):
        load_kinds(path)
    # As the bundled file: a warning, and lines keep the default kinds.
    monkeypatch.setattr(kinds.resources, "line_kinds", lambda: path)
    kinds.bundled.cache_clear()
    try:
        with pytest.warns(UserWarning, match="line-kind classifier cannot be used"):
            assert kinds.bundled() is None
    finally:
        kinds.bundled.cache_clear()


def test_weights_that_are_not_numbers_are_refused(tmp_path):
    good = bundled()
    path = save_kinds(tmp_path / "k.safetensors", replace(good, scale=np.full_like(good.scale, np.nan)))
    with pytest.raises(ModelFileError, match="not finite"):
        load_kinds(path)


def test_a_file_that_is_not_a_kind_classifier_is_refused(tmp_path):
    from mspt_core.layout.linefinder import bundled_path

    with pytest.raises(ModelFileError, match="not an mspt line-kind classifier"):
        load_kinds(bundled_path())  # the line finder's file: the wrong kind of model
    good = bundled()
    path = save_kinds(tmp_path / "k.safetensors", replace(good, hidden_bias=good.hidden_bias[:3]))
    with pytest.raises(ModelFileError, match="weights do not match"):
        load_kinds(path)
    (tmp_path / "junk.safetensors").write_bytes(b"\x80\x04not a tensor file")
    with pytest.raises(ModelFileError):
        load_kinds(tmp_path / "junk.safetensors")

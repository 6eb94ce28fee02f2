"""Double-page spreads made from two val pages, as ``benchmarks/spreads.py`` makes them: the two
pages' lines found, and each page read to its end before the other begins, however close to the
fold the text comes."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, split_xmls


@pytest.fixture
def spreads(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # the scripts import their siblings by name
    import spreads

    return spreads


@pytest.mark.parametrize("margin", [2.0, 0.25])
def test_a_spread_whose_right_page_starts_higher_is_read_left_page_first(spreads, cremma, margin):
    # cremma-mss-19 val: a court record (left) beside a letter whose text starts higher on its
    # page, with two or a quarter of a line height of margin round each. The right page used
    # to be read first (its block starts higher, and the two blocks overlap a little at the
    # fold), or row by row across both.
    left, right = split_xmls(cremma, "val")[:2]
    image, left_lines, right_lines = spreads.spread(left, right, margin)
    score = spreads.score_spread(image, left_lines, right_lines, partial=False, finder=None)
    assert score.f1 >= 0.85, score  # 38 of 41 lines; the archive's stamps are found too
    assert score.pairs >= 300 and score.inverted == 0 and score.page_by_page == 1, score

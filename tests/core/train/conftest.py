"""Real lines the fine-tuning tests of this folder train on."""

from __future__ import annotations

import pytest

OLD_PRINT = "data/bpt6k1514025q/f12.xml"  # gallicorpora-16's train split; the default misreads ~10 %


@pytest.fixture(scope="module")
def old_print_lines(old_print):
    """Eight lines of 16th-century print, cut at the default model's height."""
    from mspt_core.data.lines import LineSet, lines_from_page_xml

    return LineSet(lines_from_page_xml(old_print / OLD_PRINT, 40).samples[:8])


@pytest.fixture(scope="module")
def lines(fondue):
    """16 real printed lines, narrowed to keep the steps fast (the loop's tests; augmentation stays
    on in them, to test its random generator)."""
    from mspt_core.data.lines import LineSample, LineSet, lines_from_page_xml

    page = lines_from_page_xml(fondue / "data/Dracula/05dracula.pdf_page_51.xml", 40)
    return LineSet([LineSample(s.image[:, :400], s.text[:30], s.source) for s in page.samples[:16]])

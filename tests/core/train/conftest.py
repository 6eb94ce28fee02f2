"""Real lines the fine-tuning tests of this folder train on."""

from __future__ import annotations

import pytest

OLD_PRINT = "data/bpt6k1514025q/f12.xml"  # gallicorpora-16's train split; the default misreads ~10 %


@pytest.fixture(scope="module")
def old_print_lines(old_print):
    """Eight lines of 16th-century print, cut at the default model's height."""
    from mspt_core.data.lines import LineSet, lines_from_page_xml

    return LineSet(lines_from_page_xml(old_print / OLD_PRINT, 40).samples[:8])

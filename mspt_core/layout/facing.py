"""The facing page's edge: a scan or photograph of a bound volume often takes in a strip of the
neighbouring page along its left or right side, its lines cut off by the image's edge. The line
finder finds those stubs as lines (a column of short pieces down the side), and their text is
another page's, cut mid-word: transcribers leave them out, and so does ``segment``.

A stub touches the image's side and is short; stubs come in columns, at least ``COLUMN`` down
one side, while a page's own line that reaches the edge (a marginal note) stands alone. Where
the page's own text block reaches that side (a tight crop: as many long lines touch it as short
ones), its short lines there are its own (a paragraph's last lines, a list), and are kept; so are
the lines of a page whose lines all touch one side (chosen on the train pages:
benchmarks/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

EDGE = 0.005  # of the image's width: a line this near its side touches it
SHORT = 4.0  # line heights: a stub is at most this long
COLUMN = 3  # stubs along one side, at least, for them to be the facing page's


def facing_page_stubs(boxes: Sequence[Box], width: int) -> set[int]:
    """Indices of the lines (by box, in image pixels) that are stubs of the facing page's lines."""
    if not boxes:
        return set()
    height = float(np.median([y1 - y0 for _, y0, _, y1 in boxes]))
    reach = EDGE * width
    stubs: set[int] = set()
    for touches in (lambda x0, x1: x0 <= reach, lambda x0, x1: x1 >= width - 1 - reach):
        short: list[int] = []
        long: list[int] = []
        for i, (x0, _, x1, _) in enumerate(boxes):
            if touches(x0, x1):
                (short if x1 - x0 <= SHORT * height else long).append(i)
        own_block = len(long) >= len(short) or len(short) == len(boxes)
        if len(short) >= COLUMN and not own_block:
            stubs.update(short)
    return stubs

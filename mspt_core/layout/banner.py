"""A digital library's banner: the strip a library adds along the bottom (or top) edge of the page
images it serves, such as Gallica's "Source gallica.bnf.fr / Bibliothèque nationale de France.
Département des Manuscrits. NAF 18389" under the scan. Its text is the library's, not the
document's: ground truth made by transcribers leaves it out (TAPUSCORPUS, HTRomance), and so
does ``segment``, which finds lines on the scan above (or below) it only.

The strip is told from the scan by its paper. It is pure white (its text light grey on it); a
scanned page's paper, even a clean one, is not pure white across whole rows, so the scan's rows
just above the strip hold almost no pure white pixel, while the strip's rows are mostly pure
white even through its text. A page that is pure white itself (a born-digital page, a
binarized scan) has no such edge, and nothing is cut from it.
"""

from __future__ import annotations

import numpy as np

PURE = 254  # grey level of the strip's paper (pure white, within JPEG's rounding)
STRIP_ROW = 0.25  # a row of the strip is at least this share pure (its text rows measure 0.3-0.7)
STRIP_MEAN = 0.6  # the strip as a whole is mostly pure paper (measured 0.65-0.86)
SCAN_ROWS = 20  # rows of the scan looked at next to the strip
SCAN_PURE = 0.05  # the scan's rows next to the strip are at most this share pure (measured 0.00)
MAX_HEIGHT = 0.08  # of the image's height, at most (Gallica's: about 0.02)
INK = 200  # grey level under which a pixel is the strip's text
TEXT_ROWS = 6  # the strip holds a line of text: at least this many of its rows have ink,
BLANK_ROW = 0.98  # and round it a margin of blank paper: rows at least this share pure,
BLANK_ROWS = 2  # at least this many (a scan's white edge crossed by a frame line has none)
EDGE_ROWS = 3  # the strip starts sharply: one of its first rows is already
EDGE_PURE = 0.9  # this share pure (measured 0.92-1.0), where the white corner a page turned
# with white fill leaves whitens row by row


def _bottom_strip(grey: np.ndarray, pure: np.ndarray) -> int | None:
    """The first row of a library's strip along the image's bottom edge, or None (``pure``: each
    row's share of pure white pixels)."""
    h = grey.shape[0]
    highest = h - int(MAX_HEIGHT * h)
    top = h
    while top > highest and pure[top - 1] >= STRIP_ROW:
        top -= 1
    if top == h or top < highest or top < SCAN_ROWS:
        return None  # no strip, or pure rows reaching further up than a strip does
    if pure[top:].mean() < STRIP_MEAN or pure[top - SCAN_ROWS : top].mean() > SCAN_PURE:
        return None  # not a strip of pure paper, or a page whose own paper is pure white
    if int((grey[top:] < INK).any(axis=1).sum()) < TEXT_ROWS:
        return None  # a blank border: nothing to leave out
    if int((pure[top:] >= BLANK_ROW).sum()) < BLANK_ROWS or pure[top : top + EDGE_ROWS].max() < EDGE_PURE:
        return None  # no margin of blank paper round its text, or no sharp edge: not a strip added
    return top


def banner_rows(grey: np.ndarray) -> tuple[int, int] | None:
    """The rows (first, past the last) of a library's banner along the image's bottom or top edge,
    or None where it has none (``grey``: the page as a 2-D uint8 array)."""
    h = grey.shape[0]
    pure = (grey >= PURE).mean(axis=1)  # once for both edges
    bottom = _bottom_strip(grey, pure)
    if bottom is not None:
        return bottom, h
    top = _bottom_strip(grey[::-1], pure[::-1])
    return (0, h - top) if top is not None else None

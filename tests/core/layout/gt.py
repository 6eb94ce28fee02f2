"""Matching found lines against ground-truth lines, for the layout tests and the segmentation
benchmark (ground truth itself is read with ``mspt_core.formats.read_document``)."""

from __future__ import annotations

import cv2
import numpy as np

RASTER = 4  # IoU is computed on masks reduced by this factor


def _mask(polygon, shape):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(polygon) / RASTER).astype(np.int32)], 1)
    return m.astype(bool)


def match_lines(gt_polys, found_polys, shape, threshold=0.5) -> int:
    """Number of one-to-one matches with polygon IoU >= threshold."""
    small = (shape[0] // RASTER + 1, shape[1] // RASTER + 1)
    gt = [_mask(p, small) for p in gt_polys]
    det = [_mask(p, small) for p in found_polys]
    pairs = []
    for i, g in enumerate(gt):
        ys, xs = np.nonzero(g)
        if not len(ys):
            continue
        for j, d in enumerate(det):
            inter = np.logical_and(g, d).sum()
            if inter:
                union = np.logical_or(g, d).sum()
                if inter / union >= threshold:
                    pairs.append((inter / union, i, j))
    used_g, used_d, matched = set(), set(), 0
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_g and j not in used_d:
            used_g.add(i)
            used_d.add(j)
            matched += 1
    return matched

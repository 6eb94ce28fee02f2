"""Ground-truth lines from the shared ALTO files, for layout tests and the benchmark.

Uses ``mspt_core.formats.read_document`` when it exists; until then a few lines of lxml read
the ALTO TextLine polygons and baselines directly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from lxml import etree

from mspt_core.document import Line, Page, Region


def _points(text: str | None) -> list[tuple[float, float]]:
    if not text:
        return []
    values = [float(v) for v in text.replace(",", " ").split()]
    return list(zip(values[0::2], values[1::2]))


def read_gt(xml: Path) -> Page:
    try:
        from mspt_core.formats import read_document  # type: ignore[attr-defined]
    except ImportError:
        read_document = None
    if read_document is not None:
        return read_document(xml)
    tree = etree.parse(str(xml))
    ns = {"a": tree.getroot().nsmap.get(None)}
    page_el = tree.find(".//a:Page", ns)
    name = tree.findtext(".//a:sourceImageInformation/a:fileName", namespaces=ns).strip()
    page = Page(width=int(page_el.get("WIDTH")), height=int(page_el.get("HEIGHT")),
                image_path=(xml.parent / name).resolve())
    for block in tree.iterfind(".//a:TextBlock", ns):
        region = Region(id=block.get("ID"))
        for tl in block.iterfind("a:TextLine", ns):
            string = tl.find("a:String", ns)
            region.lines.append(Line(
                id=tl.get("ID"),
                polygon=_points(tl.find("a:Shape/a:Polygon", ns).get("POINTS")),
                baseline=_points(tl.get("BASELINE")),
                text=string.get("CONTENT", "") if string is not None else "",
            ))
        page.regions.append(region)
    return page


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

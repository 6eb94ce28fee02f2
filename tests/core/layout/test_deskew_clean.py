"""Cleaning and deskew on real pages."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout import estimate_skew, normalize_illumination, remove_noise, rotate, sauvola
from tests.conftest import split_xmls


def _small(xml, side=1200):
    grey = load_grey(read_document(xml).image_path)
    s = side / max(grey.shape)
    return cv2.resize(grey, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)


def _skew(grey):
    return estimate_skew(remove_noise(sauvola(normalize_illumination(grey))))


@pytest.mark.parametrize("page, angle", [(0, -7.3), (0, 11.6), (1, 3.4), (1, -14.2)])
def test_deskew_recovers_a_known_rotation_of_a_real_page(fondue, page, angle):
    # Page 0 is the real scan (UN resolution), page 1 a clean render.
    grey = _small(split_xmls(fondue, "train")[page])
    before = _skew(grey)
    rotated, _ = rotate(grey, angle)
    assert abs(_skew(rotated) - before - angle) <= 0.3


def test_illumination_normalization_flattens_a_shadow(cremma):
    grey = _small(split_xmls(cremma, "train")[5])
    h, w = grey.shape
    shadow = np.linspace(0.45, 1.0, w, dtype=np.float32)[None, :]  # dark towards the left edge
    shaded = (grey.astype(np.float32) * shadow).astype(np.uint8)
    flat = normalize_illumination(shaded)

    def paper(img, a, b):
        return np.percentile(img[:, a:b], 80)

    assert paper(shaded, w - 100, w) - paper(shaded, 0, 100) > 60
    assert abs(paper(flat, w - 100, w) - paper(flat, 0, 100)) < 15
    # Binarization then keeps ink on both sides and not the shadow itself.
    ink = sauvola(flat)
    assert 0.005 < ink[:, : w // 3].mean() < 0.2 and 0.005 < ink[:, -w // 3 :].mean() < 0.2


def test_remove_noise_drops_specks_and_scan_borders(fondue):
    grey = _small(split_xmls(fondue, "train")[1])
    ink = sauvola(normalize_illumination(grey))
    noisy = ink.copy()
    rng = np.random.default_rng(1)
    noisy[rng.integers(0, ink.shape[0], 500), rng.integers(0, ink.shape[1], 500)] = True
    noisy[:, :15] = True  # a black scanner edge
    cleaned = remove_noise(noisy, min_area=4)
    assert not cleaned[:, :15].any()
    # The text survives: nearly all original ink components are kept.
    assert cleaned.sum() >= 0.9 * remove_noise(ink, min_area=4).sum()
    # And the 500 specks are gone (a few may have landed on letters and joined them).

    def components(b):
        return cv2.connectedComponents(b.astype(np.uint8), connectivity=8)[0]

    assert components(cleaned) <= components(remove_noise(ink, min_area=4)) + 5

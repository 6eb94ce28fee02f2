"""Page cleaning steps. Each takes and returns numpy arrays and can be used alone.

Conventions: greyscale images are uint8 (H x W) with dark ink on light paper; binary images are
bool arrays where True marks ink.
"""

from __future__ import annotations

import cv2
import numpy as np

from mspt_core.images import to_grey

__all__ = [
    "to_grey",
    "normalize_illumination",
    "paper_background",
    "brought_to_white",
    "sauvola",
    "remove_noise",
    "odd",
]


def odd(value: float, minimum: int = 3) -> int:
    """Nearest odd integer >= minimum (OpenCV kernel sizes must be odd)."""
    n = max(int(round(value)), minimum)
    return n if n % 2 else n + 1


def normalize_illumination(grey: np.ndarray, stroke_scale: float | None = None) -> np.ndarray:
    """Divide out uneven paper brightness (shadows, stains, vignetting); paper becomes ~255.
    ``stroke_scale``: see ``paper_background``."""
    return brought_to_white(grey, paper_background(grey, stroke_scale))


def brought_to_white(grey: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``grey`` divided by its ``background`` (``paper_background``, or the same part of it)."""
    out = grey.astype(np.float32) * 255.0 / np.maximum(background.astype(np.float32), 1.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def paper_background(grey: np.ndarray, stroke_scale: float | None = None) -> np.ndarray:
    """The paper's brightness under every pixel (uint8, ``grey``'s size): a grey-level closing
    (which erases dark strokes thinner than the kernel) on a 4x-reduced image, smoothed.
    ``stroke_scale`` is the size in pixels of the largest dark feature to keep as ink (default:
    1/40 of the shorter side)."""
    if grey.ndim != 2 or grey.dtype != np.uint8:
        raise ValueError(f"the paper's brightness needs a grey uint8 image, got {grey.dtype} {grey.shape}")
    h, w = grey.shape
    if stroke_scale is None:
        stroke_scale = min(h, w) / 40
    factor = 4 if min(h, w) >= 64 else 1
    small = cv2.resize(grey, (max(w // factor, 1), max(h // factor, 1)), interpolation=cv2.INTER_AREA)
    size = odd(stroke_scale / factor)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel)
    background = cv2.GaussianBlur(background, (0, 0), size / 2)
    return cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)


def sauvola(grey: np.ndarray, window: int | None = None, k: float = 0.2, r: float = 128.0) -> np.ndarray:
    """Sauvola's local threshold (Sauvola & Pietikäinen 2000): ink where
    ``grey < mean * (1 + k * (std / r - 1))`` over a ``window`` x ``window`` neighbourhood.

    ``window`` should span a few characters (default: 1/50 of the shorter side, odd, >= 15).
    Returns a bool array, True for ink.
    """
    if grey.ndim != 2:
        raise ValueError(f"sauvola needs a 2-D grey image, got shape {grey.shape}")
    if window is None:
        window = odd(min(grey.shape) / 50, 15)
    window = odd(window)
    g = grey.astype(np.float32)
    mean = cv2.boxFilter(g, cv2.CV_32F, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.boxFilter(g * g, cv2.CV_32F, (window, window), borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
    threshold = mean * (1.0 + k * (std / r - 1.0))
    return g < threshold


def remove_noise(
    binary: np.ndarray, min_area: int = 4, remove_border: bool = True, border_fraction: float = 0.2
) -> np.ndarray:
    """Drop specks smaller than ``min_area`` pixels and, optionally, dark scan borders: large
    components touching the image edge (wider or taller than ``border_fraction`` of it)."""
    if binary.ndim != 2:
        raise ValueError(f"remove_noise needs a 2-D binary image, got shape {binary.shape}")
    h, w = binary.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    if remove_border:
        x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        bw, bh = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
        touches = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
        big = (bw > border_fraction * w) | (bh > border_fraction * h)
        keep &= ~(touches & big)
    keep[0] = False  # label 0 is the background
    return keep[labels]

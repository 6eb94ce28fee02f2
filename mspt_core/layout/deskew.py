"""Skew estimation and correction by projection profiles.

Angle convention: ``estimate_skew`` returns the angle of the text lines in degrees,
counter-clockwise positive as the page is seen (lines rising to the right are positive).
``rotate(grey, -angle)`` makes them horizontal.
"""

from __future__ import annotations

import cv2
import numpy as np

MAX_POINTS = 400_000


def _profile_score(xs: np.ndarray, ys: np.ndarray, angle_deg: float) -> float:
    # Ink on a line rising by angle a satisfies y + x*tan(a) = const; project on that.
    p = ys + xs * np.tan(np.radians(angle_deg))
    counts = np.bincount(np.round(p - p.min()).astype(np.int64))
    # Sum of squared differences between neighbouring bins (Postl's criterion): highest when
    # line bodies and the gaps between them are sharply separated.
    d = np.diff(counts.astype(np.float64))
    return float(np.dot(d, d))


def estimate_skew(binary: np.ndarray, max_angle: float = 15.0, precision: float = 0.02) -> float:
    """Angle of the text lines (degrees, see module doc) in a binary page (True = ink).

    Coarse-to-fine search of the projection-profile sharpness over [-max_angle, max_angle].
    Returns 0.0 for a page without ink.
    """
    if binary.ndim != 2:
        raise ValueError(f"estimate_skew needs a 2-D binary image, got shape {binary.shape}")
    ys, xs = np.nonzero(binary)
    if len(xs) < 50:
        return 0.0
    if len(xs) > MAX_POINTS:
        pick = np.random.default_rng(0).choice(len(xs), MAX_POINTS, replace=False)
        xs, ys = xs[pick], ys[pick]
    xs = xs.astype(np.float64) - xs.mean()
    ys = ys.astype(np.float64)
    best, step = 0.0, 0.5
    lo, hi = -max_angle, max_angle
    while True:
        angles = np.arange(lo, hi + step / 2, step)
        scores = [_profile_score(xs, ys, a) for a in angles]
        best = float(angles[int(np.argmax(scores))])
        if step <= precision:
            return float(np.clip(best, -max_angle, max_angle))
        lo, hi = best - 2 * step, best + 2 * step
        step /= 5


def rotate(image: np.ndarray, angle: float, fill: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rotate counter-clockwise by ``angle`` degrees on a canvas grown to keep every pixel.

    Returns (rotated image, 2x3 affine matrix mapping original (x, y) to rotated (x, y)).
    New corners get ``fill`` (default: the paper level, a high percentile of the image).
    """
    h, w = image.shape[:2]
    if fill is None:
        fill = int(np.percentile(image, 95)) if image.size else 255
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w = int(np.ceil(h * sin + w * cos))
    new_h = int(np.ceil(h * cos + w * sin))
    matrix[0, 2] += new_w / 2.0 - w / 2.0
    matrix[1, 2] += new_h / 2.0 - h / 2.0
    rotated = cv2.warpAffine(
        image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
    )
    return rotated, matrix


def deskew(grey: np.ndarray, binary: np.ndarray | None = None, max_angle: float = 15.0):
    """Straighten a grey page. Returns (straightened image, skew angle found, 2x3 matrix
    from original to straightened coordinates). ``binary`` defaults to a Sauvola binarization."""
    if binary is None:
        from mspt_core.layout.clean import normalize_illumination, sauvola

        binary = sauvola(normalize_illumination(grey))
    angle = estimate_skew(binary, max_angle)
    straight, matrix = rotate(grey, -angle)
    return straight, angle, matrix

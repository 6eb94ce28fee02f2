"""Scan-like degradation for rendered text.

Text is first drawn as an *ink coverage* map (float, 0 = paper, 1 = full ink). The steps here
bend and wear that ink, lay it on a paper of uneven tone and texture, then add what a scanner
and a file format do: blur, sensor noise, specks and JPEG artefacts. Every random draw comes
from the caller's ``rng``, so a seed gives the same image every time.
"""

from __future__ import annotations

import cv2
import numpy as np


def smooth_field(shape: tuple[int, int], rng: np.random.Generator, cell: float) -> np.ndarray:
    """Random values in [-1, 1] varying smoothly over about ``cell`` pixels."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 1), max(2, int(np.ceil(w / cell)) + 1)
    grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(-1, 1)


def warp(
    ink: np.ndarray, rng: np.random.Generator, baseline: float, box_height: float, strength: float = 1.0
) -> np.ndarray:
    """Small tilt, wavy baseline (page curvature) and slant, at most ~8 % of the line box
    height up or down so the text stays inside its crop."""
    h, w = ink.shape
    xs = np.arange(w, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)
    reach = 0.08 * box_height * strength
    tilt = rng.uniform(-0.6, 0.6) * reach / max(w / 2, 1)
    wave = rng.uniform(0, 0.4) * reach * np.sin(2 * np.pi * xs / rng.uniform(0.5, 2.0) / w + rng.uniform(0, 2 * np.pi))
    dy = (tilt * (xs - w / 2) + wave).astype(np.float32)
    shear = rng.uniform(-0.12, 0.12) * strength  # dx per row above the baseline
    map_x = xs[None, :] + shear * (ys[:, None] - baseline)
    map_y = ys[:, None] + dy[None, :]
    return cv2.remap(
        ink,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def wear_ink(ink: np.ndarray, rng: np.random.Generator, stroke: float, strength: float = 1.0) -> np.ndarray:
    """Ink spread (bolder, blotted strokes) or thinning, uneven fading, and small drop-outs.
    ``stroke`` is a typical stroke width in pixels, which sets the scale of each effect."""
    sigma = max(0.3, 0.25 * stroke)
    soft = cv2.GaussianBlur(ink, (0, 0), sigma)
    # Re-threshold the blurred ink softly: a low midpoint spreads it, a high one thins it.
    midpoint = 0.5 + rng.uniform(-0.25, 0.2) * strength
    worn = 1.0 / (1.0 + np.exp(-(soft - midpoint) * 10.0))
    fade = 1.0 - rng.uniform(0.0, 0.45) * strength * (0.5 + 0.5 * smooth_field(ink.shape, rng, 12 * stroke))
    worn *= fade
    if rng.random() < 0.4 * strength:  # pits where the ink did not take
        pits = smooth_field(ink.shape, rng, max(1.5, 0.6 * stroke)) > rng.uniform(0.55, 0.85)
        worn[pits] *= rng.uniform(0.1, 0.6)
    return worn.astype(np.float32).clip(0, 1)


def paper(shape: tuple[int, int], rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Paper brightness (float, 0..255): a tone, slow unevenness (light, stains, shadow) and a
    fine fibre texture."""
    h, w = shape
    tone = rng.uniform(185, 250)
    slow = smooth_field(shape, rng, rng.uniform(0.5, 2.0) * max(h, 40)) * rng.uniform(0, 25) * strength
    grain = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), rng.uniform(0.5, 1.5))
    texture = grain * rng.uniform(0, 10) * strength
    return np.clip(tone + slow + texture, 90, 255).astype(np.float32)


def compose(ink: np.ndarray, background: np.ndarray, ink_level: float) -> np.ndarray:
    """Ink of grey ``ink_level`` laid on ``background`` with coverage ``ink``."""
    return background - (background - ink_level) * ink


def scan(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Scanner and file-format damage on a float 0..255 image -> uint8."""
    out: np.ndarray = image.astype(np.float32)
    if rng.random() < 0.6 * strength:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.1))
    if rng.random() < 0.7 * strength:
        out = out + rng.normal(0, rng.uniform(1, 9), out.shape).astype(np.float32)
    if rng.random() < 0.25 * strength:  # dust and toner specks
        specks = rng.random(out.shape) < rng.uniform(0.0005, 0.004)
        out[specks] = rng.uniform(0, 120)
    result: np.ndarray = out.clip(0, 255).astype(np.uint8)
    if rng.random() < 0.5 * strength:
        quality = int(rng.integers(25, 90))
        ok, data = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if ok else None
        if decoded is not None:
            result = decoded
    return result

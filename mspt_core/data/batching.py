"""Line images into model input, and width-bucketed batches so padding stays small.

Model input convention: float, ink high (1 = black, 0 = white), padded with 0 on the right to
a multiple of 8 px, so a line reads the same alone or in a batch with longer lines."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from mspt_core.model.config import DOWNSAMPLE

MAX_WIDTH = 4096  # px at model height; wider lines are squeezed to keep memory bounded


def to_height(image: np.ndarray, height: int) -> np.ndarray:
    """Grey uint8 line image scaled to ``height`` px keeping its aspect ratio."""
    if image.ndim != 2:
        raise ValueError(f"expected a grey (H, W) image, got shape {image.shape}")
    h, w = image.shape
    if h == 0 or w == 0:
        raise ValueError("empty line image")
    width = max(1, min(MAX_WIDTH, round(w * height / h)))
    if (h, w) == (height, width):
        return image
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_CUBIC
    return cv2.resize(image, (width, height), interpolation=interpolation)


def padded_width(width: int) -> int:
    """A line's width in pixels rounded up to whole encoder tokens (``DOWNSAMPLE`` columns each)."""
    return -(-width // DOWNSAMPLE) * DOWNSAMPLE


def collate(images: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Grey uint8 images of equal height -> (B, 1, H, W) float tensor and (B,) widths."""
    height = images[0].shape[0]
    widths = [img.shape[1] for img in images]
    padded = padded_width(max(widths))
    batch = np.zeros((len(images), 1, height, padded), dtype=np.float32)
    for i, img in enumerate(images):
        if img.shape[0] != height:
            raise ValueError("all line images of a batch must have the model's height")
        batch[i, 0, :, : img.shape[1]] = 1.0 - img.astype(np.float32) / 255.0
    return torch.from_numpy(batch), torch.tensor(widths, dtype=torch.long)


def width_batches(
    widths: Sequence[int], batch_size: int, rng: np.random.Generator | None = None, max_pixels: int | None = None
) -> list[list[int]]:
    """Index batches of similar width. With ``rng``, lines are shuffled within small width
    neighbourhoods and the batch order is shuffled (training); without, sorted (inference).
    ``max_pixels`` caps batch_size x widest so very long lines come in smaller batches."""
    order = np.argsort(np.asarray(widths), kind="stable")
    if rng is not None:
        # Jitter the sort key so equal-width neighbourhoods mix between epochs.
        noisy = np.asarray(widths, dtype=np.float64) * rng.uniform(0.95, 1.05, len(widths))
        order = np.argsort(noisy, kind="stable")
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order.tolist():
        widest = max([widths[i] for i in current] + [widths[index]])
        if current and (len(current) >= batch_size or (max_pixels and widest * (len(current) + 1) > max_pixels)):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    if rng is not None:
        rng.shuffle(batches)
    return batches

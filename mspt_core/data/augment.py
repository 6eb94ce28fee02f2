"""Training augmentation for grey uint8 line images (dark ink on light paper). Each transform
is mild so the text stays readable; the caller's ``rng`` makes every draw repeatable."""

from __future__ import annotations

import cv2
import numpy as np


def _affine(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    angle = np.deg2rad(rng.uniform(-1.5, 1.5))
    shear = rng.uniform(-0.3, 0.3)
    # Rotation about the centre plus a horizontal shear (slanted writing).
    matrix = np.array([[np.cos(angle), -np.sin(angle) + shear, 0.0],
                       [np.sin(angle), np.cos(angle), 0.0]])
    matrix[:, 2] = np.array([w / 2, h / 2]) - matrix[:, :2] @ np.array([w / 2, h / 2])
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _elastic(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    # Smooth random displacement, a pixel or two: imitates uneven paper and pen wobble.
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), 6) * 25
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), 6) * 25
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _morph(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kernel = np.ones((2, 2), np.uint8)
    # Erode the light paper = thicker ink; dilate = thinner ink.
    return cv2.erode(image, kernel) if rng.random() < 0.5 else cv2.dilate(image, kernel)


def _blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))


def _contrast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = rng.uniform(0, 70), rng.uniform(185, 255)
    return (low + image.astype(np.float32) * (high - low) / 255.0).clip(0, 255).astype(np.uint8)


def _noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = image.astype(np.float32) + rng.normal(0, rng.uniform(3, 12), image.shape)
    return noisy.clip(0, 255).astype(np.uint8)


TRANSFORMS = [(_affine, 0.5), (_elastic, 0.2), (_morph, 0.2), (_blur, 0.3), (_contrast, 0.5), (_noise, 0.4)]


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A randomly degraded copy of ``image`` with the same shape."""
    out = image
    for transform, probability in TRANSFORMS:
        if rng.random() < probability:
            out = transform(out, rng)
    return out

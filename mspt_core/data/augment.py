"""Training augmentation for grey uint8 line images (dark ink on light paper). Each transform
is mild so the text stays readable; the caller's ``rng`` makes every draw repeatable.

Besides geometry, blur and noise, the list covers what real scans do to a line: faded and
filled-in ink (typewriter ribbons), bleed-through from the back of the leaf, uneven
illumination, a slight curl of the baseline, binarization and JPEG artefacts.

``strength`` scales how far the shape of the writing moves (the slant's shear, the elastic
wobble, the baseline's curl), not how often: one hand differs from another most in those, and
a recognizer trained on many hands still reads an unseen one at twice its train CER. At 1 (the
default) every draw is as it always was; the rotation is kept small at any strength, since a
long line turned further leaves its crop."""

from __future__ import annotations

import cv2
import numpy as np

# At this strength a 40-px line's top and bottom rows shear up to 18 px sideways, far past its
# 4-px end margins: further, its first and last letters would leave the crop.
MAX_STRENGTH = 3.0


def _affine(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    h, w = image.shape
    angle = np.deg2rad(rng.uniform(-1.5, 1.5))
    shear = rng.uniform(-0.3, 0.3) * strength
    # Rotation about the centre plus a horizontal shear (slanted writing).
    matrix = np.array([[np.cos(angle), -np.sin(angle) + shear, 0.0], [np.sin(angle), np.cos(angle), 0.0]])
    matrix[:, 2] = np.array([w / 2, h / 2]) - matrix[:, :2] @ np.array([w / 2, h / 2])
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _elastic(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    h, w = image.shape
    # Smooth random displacement (typically under a pixel at strength 1, at most about 3): uneven
    # paper and pen wobble.
    amplitude = 25 * strength
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), 6) * amplitude
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), 6) * amplitude
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


def _faded_ink(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Ink lighter by a factor: a worn ribbon or faded iron-gall ink.
    keep = rng.uniform(0.35, 0.8)
    return (255.0 - (255.0 - image.astype(np.float32)) * keep).astype(np.uint8)


def _filled_ink(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Counters of e, a, o filled in: a heavy typewriter strike or ink spread in the paper.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return cv2.erode(image, kernel, iterations=1 if rng.random() < 0.7 else 2)


def _bleed_through(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # The mirrored, blurred, faint text of the other side shows through the paper.
    ghost = cv2.GaussianBlur(np.ascontiguousarray(image[:, ::-1]), (0, 0), rng.uniform(0.8, 2.0))
    ghost = np.roll(ghost, int(rng.integers(-image.shape[0] // 3, image.shape[0] // 3 + 1)), axis=0)
    strength = rng.uniform(0.1, 0.35)
    darker = 255.0 - (255.0 - ghost.astype(np.float32)) * strength
    return np.minimum(image.astype(np.float32), darker).astype(np.uint8)


def _illumination(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # A smooth brightness field: shadow of the gutter, uneven lamp.
    h, w = image.shape
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    field = (
        1.0
        - rng.uniform(0, 0.35) * xs ** rng.uniform(0.5, 3) * (1 if rng.random() < 0.5 else 0)
        - rng.uniform(0, 0.25) * ys
        - rng.uniform(0, 0.3) * (1 - xs) ** rng.uniform(0.5, 3)
    )
    return (image.astype(np.float32) * field.clip(0.3, 1.0)).clip(0, 255).astype(np.uint8)


def _curl(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    # The baseline bends by a pixel or two over the line: a page that does not lie flat, or a
    # hand that does not keep to a line.
    h, w = image.shape
    amplitude = rng.uniform(0.5, 0.06 * h) * strength
    period = rng.uniform(1.0, 3.0) * max(w, h)
    shift = amplitude * np.sin(2 * np.pi * np.arange(w, dtype=np.float32) / period + rng.uniform(0, 2 * np.pi))
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        image, xs, ys + shift[None, :].astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _binarize(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # What a bilevel scan or an earlier tool's thresholding leaves: hard black and white.
    _, binary = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary


def _jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 60))])
    decoded = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if ok else None
    return image if decoded is None else decoded


# In order: the page (curl, geometry, ink), the light and the paper, then what the scanner and
# the file format do.
TRANSFORMS = [
    (_curl, 0.2),
    (_affine, 0.5),
    (_elastic, 0.2),
    (_morph, 0.2),
    (_faded_ink, 0.1),
    (_filled_ink, 0.1),
    (_bleed_through, 0.1),
    (_illumination, 0.2),
    (_blur, 0.3),
    (_contrast, 0.5),
    (_binarize, 0.07),
    (_noise, 0.4),
    (_jpeg, 0.15),
]


# The transforms that move the writing's shape: they take ``strength`` (the module's docstring).
SHAPE_TRANSFORMS = (_curl, _affine, _elastic)


def augment(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """A randomly degraded copy of ``image`` with the same shape; ``strength`` scales how far its
    writing's shape moves (the module's docstring), a value ``checked_strength`` accepts (not
    checked here: it runs for every training line)."""
    out = image
    for transform, probability in TRANSFORMS:
        if rng.random() < probability:
            out = transform(out, rng, strength) if transform in SHAPE_TRANSFORMS else transform(out, rng)
    return out


def checked_strength(strength) -> float:
    """``strength`` as a float, or ValueError where it is not a number in (0, MAX_STRENGTH]."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= MAX_STRENGTH:
        raise ValueError(
            f"augmentation strength must be a number above 0 and at most {MAX_STRENGTH:g}, not {strength!r}"
        )
    return float(strength)

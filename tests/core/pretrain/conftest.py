"""Small synthetic line stores: strokes on paper, fast to write and to train on."""

from __future__ import annotations

import numpy as np
import pytest

from mspt_core.data.linestore import LineStoreWriter


def fake_line(rng: np.random.Generator, height: int = 40, width: int | None = None) -> np.ndarray:
    width = width or int(rng.integers(48, 200))
    image = np.full((height, width), 235, np.uint8)
    for x in range(4, width - 6, int(rng.integers(5, 9))):
        top = int(rng.integers(8, 16))
        image[top : top + int(rng.integers(12, 22)), x : x + 2] = int(rng.integers(10, 80))
    return image


def write_store(root, lines: int, lines_per_shard: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    writer = LineStoreWriter(root, 40, lines_per_shard)
    for _ in range(lines):
        writer.add(fake_line(rng))
    return writer.close()


@pytest.fixture
def store(tmp_path):
    return write_store(tmp_path / "store", 48)

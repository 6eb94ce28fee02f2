"""Peak memory of streaming one pre-training epoch from the line store, for stores of 1k and
100k lines: it must not grow with the number of lines.

    .venv/bin/python benchmarks/linestore_memory.py --lines 1000 100000 --dir runs/linestore-memory

Each store is written once (synthetic strokes-on-paper lines, LINE_HEIGHT = 40 px high, 64-320 px
wide) and then read in a fresh process, so the figure is that process's own peak resident memory."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import machine

from mspt_core.data.linestore import LineStore, LineStoreWriter
from mspt_core.model.config import LINE_HEIGHT


def synthetic_line(rng: np.random.Generator) -> np.ndarray:
    width = int(rng.integers(64, 320))
    image = np.full((LINE_HEIGHT, width), 235, np.uint8)
    xs = np.arange(4, width - 6, 6)
    tops = rng.integers(8, 16, len(xs))
    for x, top in zip(xs, tops, strict=True):
        image[top : top + 16, x : x + 2] = 40
    return image


def build(root: Path, lines: int) -> LineStore:
    if LineStore.is_store(root):
        return LineStore(root)
    rng = np.random.default_rng(0)
    writer = LineStoreWriter(root, LINE_HEIGHT, lines_per_shard=1024)
    for _ in range(lines):
        writer.add(synthetic_line(rng))
    return writer.close()


def stream(root: Path) -> None:
    """Child process: read one whole epoch in batches of 32; print lines seen, seconds, peak RSS."""
    store = LineStore(root)
    started = time.perf_counter()
    plan = store.plan(batch_size=32, seed=0)
    seen = sum(len(plan[i]) for i in range(len(plan)))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"{seen}\t{time.perf_counter() - started:.1f}\t{peak_mib:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--dir", type=Path, default=Path("runs/linestore-memory"))
    parser.add_argument("--stream", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream:
        stream(args.stream)
        return
    rows = []
    for lines in args.lines:
        store = build(args.dir / f"store-{lines}", lines)
        out = subprocess.run(
            [sys.executable, __file__, "--stream", str(store.root)], capture_output=True, text=True, check=True
        ).stdout.split()
        rows.append((lines, store.num_shards, int(out[0]), float(out[1]), int(out[2])))
    print(f"\n{machine()}\n")
    print("| lines in store | shards | lines streamed | seconds | peak RSS (MiB) |\n|---|---|---|---|---|")
    for lines, shards, seen, seconds, peak in rows:
        print(f"| {lines:,} | {shards} | {seen:,} | {seconds} | {peak} |")


if __name__ == "__main__":
    main()

"""A training step's time in full precision and under bf16 autocast on this CPU, for the two
networks mspt trains most: the bundled handwriting recognizer (a batch of 16 real val lines of
neighbouring widths, as training batches them) and the bundled line finder (8 crops of 448 px
from real val pages with their targets, as its recipes train it). A step is the forward pass,
the loss, the backward pass and an AdamW step, as ``train.loop`` takes it; the two precisions
alternate, each timed over ``--steps`` steps after one untimed step, ``--rounds`` times (the
median kept). The loss of the same batch in both says how far bf16 moves it. A third column
times the recognizer in bf16 with PyTorch's own dropout mask instead of ``model.dropout``'s
(the line finder has no dropout).

Where the CPU computes bf16 natively (``devices.cpu_has_native_bf16``: AVX-512 BF16 or AMX),
mspt trains under bf16 autocast; elsewhere in full precision, and the bf16 column shows what
emulating it would cost.

    .venv/bin/python benchmarks/training_precision.py [--steps 5] [--rounds 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable
from unittest import mock

import common
import numpy as np
import torch
from torch import nn

from mspt_core.data.batching import collate
from mspt_core.devices import cpu_has_native_bf16
from mspt_core.layout.linefinder import bundled_path, load_line_finder, prepare
from mspt_core.model.dropout import FastDropout
from mspt_core.models import load_model, resolve
from mspt_core.train.linefinder import map_loss, random_crop, scaled_pages

LINES_SPLIT = "cremma-mss-19-handwritten-fr/val"
PAGES_SPLIT = "cremma-mss-18-handwritten-fr/val"
BATCH_LINES, BATCH_CROPS, CROP, FINDER_SIDE = 16, 8, 448, 1280


def recognizer_step() -> tuple[str, torch.nn.Module, Callable[[], torch.Tensor]]:
    loaded = load_model(resolve("handwriting"))
    lines = common.split_lines(LINES_SPLIT, loaded.config.height, "polygon").samples
    by_width = sorted(lines, key=lambda s: s.image.shape[1])
    middle = len(by_width) // 2
    batch = by_width[middle - BATCH_LINES // 2 : middle + BATCH_LINES // 2]
    pixels, widths = collate([s.image for s in batch])
    ids = [loaded.charset.encode(s.text) for s in batch]
    targets = torch.tensor([i for line in ids for i in line], dtype=torch.long)
    lengths = torch.tensor([len(line) for line in ids], dtype=torch.long)
    model = loaded.model
    label = f"handwriting recognizer, {BATCH_LINES} lines of {int(widths.min())}-{int(widths.max())} px"
    return label, model, lambda: model.loss(pixels, widths, targets, lengths)


def finder_step() -> tuple[str, torch.nn.Module, Callable[[], torch.Tensor]]:
    net = load_line_finder(bundled_path()).net
    rng = np.random.default_rng(0)
    pages = [page for xml in common.shared_split(PAGES_SPLIT) for page in scaled_pages(xml, FINDER_SIDE)]
    crops = [random_crop(pages[int(rng.integers(len(pages)))], CROP, rng) for _ in range(BATCH_CROPS)]
    x = torch.cat([prepare(image) for image, _ in crops])
    maps = torch.stack([torch.from_numpy(target) for _, target in crops])
    label = f"line finder, {BATCH_CROPS} crops of {CROP} px"
    return label, net, lambda: map_loss(net(x).float(), maps)


def timed(model: torch.nn.Module, loss_of: Callable[[], torch.Tensor], bf16: bool, steps: int) -> tuple[float, float]:
    """Seconds a step and the first timed step's loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-12)  # the weights all but stay

    def step() -> float:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_of()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    step()
    torch.manual_seed(0)  # the same dropout in both precisions
    started = time.perf_counter()
    first = step()
    for _ in range(steps - 1):
        step()
    return (time.perf_counter() - started) / steps, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# Training step time by precision, {dt.date.today()}")
    print(f"machine: {common.machine()}; {args.threads} thread(s); native bf16: {cpu_has_native_bf16()}")
    given = f"--steps {args.steps} --rounds {args.rounds} --threads {args.threads}"
    print(f"command: benchmarks/training_precision.py {given}\n")
    print(
        "| network | full precision, s a step | bf16, s a step | bf16's time "
        "| bf16, PyTorch's dropout mask | loss, full / bf16 |"
    )
    print("|---|---|---|---|---|---|")
    # name: (bf16, the dropout's forward); nn.Dropout's own is PyTorch's mask
    variants = {"full": (False, FastDropout.forward), "bf16": (True, FastDropout.forward)}
    for make in (recognizer_step, finder_step):
        label, model, loss_of = make()
        model.train()
        has_dropout = any(isinstance(m, FastDropout) for m in model.modules())
        tried = {**variants, "torch": (True, nn.Dropout.forward)} if has_dropout else variants
        times: dict[str, list[float]] = {name: [] for name in tried}
        losses: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, (bf16, dropout) in tried.items():
                with mock.patch.object(FastDropout, "forward", dropout):
                    seconds, losses[name] = timed(model, loss_of, bf16, args.steps)
                times[name].append(seconds)
        seconds_a_step = {name: float(np.median(found)) for name, found in times.items()}
        full, half = seconds_a_step["full"], seconds_a_step["bf16"]
        plain = f"{seconds_a_step['torch']:.2f}" if has_dropout else "-"
        print(
            f"| {label} | {full:.2f} | {half:.2f} | {half / full:.0%} | {plain} "
            f"| {losses['full']:.4f} / {losses['bf16']:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Multiply-adds per 8 px of line for every named recognizer size: the front end (counted by
hooks on its convolutions and linear layers), the transformer encoder (its matrix products, plus
attention over a line of --width px) and the CTC head; with parameters and the PyTorch
eager read time of a batch of such lines on one thread.

    .venv/bin/python benchmarks/model_cost.py [--width 1000] [--classes 150]
"""

from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (puts the repository on sys.path)
import torch
from torch import nn

from mspt_core.model import SIZES, Recognizer
from mspt_core.model.config import DOWNSAMPLE


def layer_macs(module: nn.Module, images: torch.Tensor, widths: torch.Tensor, run) -> int:
    """Multiply-adds of the Conv2d and Linear layers inside ``module`` during ``run()``."""
    total = 0

    def count(layer, inputs, output):
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            kh, kw = layer.kernel_size
            total += output.numel() * (layer.in_channels // layer.groups) * kh * kw
        elif isinstance(layer, nn.Linear):
            total += output.numel() * layer.in_features

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return total


def costs(size: str, width: int, classes: int) -> dict:
    model = Recognizer(SIZES[size], classes).eval()
    config = model.config
    images = torch.rand(1, 1, config.height, width)
    widths = torch.tensor([width])
    columns = width / DOWNSAMPLE
    with torch.inference_mode():
        front = layer_macs(model.encoder.frontend, images, widths, lambda: model.encoder.embed(images, widths))
        tokens = model.encoder.embed(images, widths)
        head = layer_macs(model.ctc, images, widths, lambda: model.ctc(tokens))
    t, d = tokens.shape[1], config.d_model
    # Per layer and token: q, k, v and output projections, the feed-forward, scores and mixing.
    transformer = config.layers * t * (4 * d * d + 2 * d * config.ff + 2 * t * d)
    torch.set_num_threads(1)
    batch = torch.rand(8, 1, config.height, width), torch.full((8,), width)
    with torch.inference_mode():
        model.ctc_log_probs(*batch)
        started = time.perf_counter()
        for _ in range(3):
            model.ctc_log_probs(*batch)
        ms = (time.perf_counter() - started) / 24 * 1000
    return {
        "size": size,
        "frontend": config.frontend,
        "params": model.parameter_count(),
        "front": front / columns,
        "transformer": transformer / columns,
        "head": head / columns,
        "ms": ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1000, help="line width in px at model height")
    parser.add_argument("--classes", type=int, default=150, help="characters in the alphabet")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    args = parser.parse_args()
    print(
        f"Multiply-adds per 8 px of a {args.width}-px line (M), {args.classes} classes; "
        "PyTorch eager, one thread, batch of 8\n"
    )
    print("| size | front end | parameters | front end | transformer | CTC head | total | ms per line |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        c = costs(size, args.width, args.classes)
        total = c["front"] + c["transformer"] + c["head"]
        print(
            f"| {size} | {c['frontend']} | {c['params'] / 1e6:.2f} M | {c['front'] / 1e6:.2f} | "
            f"{c['transformer'] / 1e6:.2f} | {c['head'] / 1e6:.2f} | {total / 1e6:.2f} | {c['ms']:.1f} |"
        )


if __name__ == "__main__":
    main()

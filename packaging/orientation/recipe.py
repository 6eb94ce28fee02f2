"""Fit the bundled orientation classifier (``mspt_core.layout.orient``): a small network that
says whether a line crop's letters stand upright, shown every ground-truth line of the train
splits of every set both ways up (as its box, with two margins), kept at
the epoch that tells the lines of the val splits best (never the test splits); every choice in
recipe.json and a fixed seed. It takes a few CPU minutes on one thread.

    .venv/bin/python packaging/orientation/recipe.py --out resources/layout/orientation.safetensors

The file carries its provenance (the recipe, the lines, the val accuracy it was kept at).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.common import load_recipe, shared_split  # noqa: E402
from mspt_core.cli.common import set_threads  # noqa: E402
from mspt_core.formats import read_document  # noqa: E402
from mspt_core.images import load_grey  # noqa: E402
from mspt_core.layout.crop import crop_box  # noqa: E402
from mspt_core.layout.orient import CROP_HEIGHT, UprightClassifier, UprightNet, batch_of, save_upright  # noqa: E402

RECIPE = Path(__file__).with_name("recipe.json")


def line_crops(parts: list[str], box_margins: list[int]) -> tuple[list[np.ndarray], int]:
    """Every ground-truth line of the "set/split"s named, cut as its box widened by each of
    ``box_margins`` px (more or less of the neighbours' ascenders and descenders inside, as
    found lines have them), upright; and the number of pages. Boxes, not polygons straightened
    along the baseline: the network must learn the letters, not where a straightened crop puts
    their body (``orient.looked_at``)."""
    crops: list[np.ndarray] = []
    pages = 0
    for part in parts:
        for xml in shared_split(part):
            page = read_document(xml)
            lines = [ln for ln in page.lines() if len(ln.polygon) >= 3]
            if not lines:
                continue
            pages += 1
            grey = load_grey(page.image_path)
            for line in lines:
                for margin in box_margins:
                    try:
                        crop = crop_box(grey, line, CROP_HEIGHT, margin)
                    except ValueError:
                        continue
                    if crop.shape[1] >= CROP_HEIGHT:  # a speck or a lone letter tells little
                        crops.append(crop)
    return crops, pages


def window(crop: np.ndarray, width: int, rng: np.random.Generator) -> np.ndarray:
    if crop.shape[1] <= width:
        return crop
    start = int(rng.integers(0, crop.shape[1] - width + 1))
    return crop[:, start : start + width]


def accuracy(classifier: UprightClassifier, crops: list[np.ndarray]) -> float:
    """Share of the crops told the right way up, each looked at as it is and half turned."""
    return sum(classifier.flip_margin([c]) > 0 for c in crops) / max(len(crops), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the classifier file to write")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override recipe.json")
    args = parser.parse_args()
    recipe = load_recipe(RECIPE, args.set)
    set_threads(1)
    torch.manual_seed(recipe["seed"])
    rng = np.random.default_rng(recipe["seed"])
    started = time.perf_counter()
    train, train_pages = line_crops(recipe["train"], recipe["box_margins"])
    val, val_pages = line_crops(recipe["val"], recipe["box_margins"])
    print(f"{len(train)} train crops ({train_pages} pages), {len(val)} val crops ({val_pages} pages)", flush=True)
    net = UprightNet()
    optimizer = torch.optim.AdamW(net.parameters(), lr=recipe["lr"], weight_decay=recipe["weight_decay"])
    steps_per_epoch = len(train) // recipe["batch_size"]
    best = (-1.0, 0, None)
    for epoch in range(1, recipe["epochs"] + 1):
        net.train()
        order = rng.permutation(len(train))
        for step in range(steps_per_epoch):
            picked = [
                window(train[i], recipe["window"], rng)
                for i in order[step * recipe["batch_size"] :][: recipe["batch_size"]]
            ]
            both = [*picked, *(np.ascontiguousarray(np.rot90(c, 2)) for c in picked)]
            x, valid = batch_of(both)
            labels = torch.cat([torch.ones(len(picked)), torch.zeros(len(picked))])
            loss = F.binary_cross_entropy_with_logits(net(x, valid), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        classifier = UprightClassifier(net)
        told = accuracy(classifier, val)
        print(
            f"epoch {epoch}: loss {loss.item():.4f}, val lines told the right way up {told:.2%} "
            f"({(time.perf_counter() - started) / 60:.1f} min)",
            flush=True,
        )
        if told > best[0]:
            best = (told, epoch, copy.deepcopy(net.state_dict()))
    told, epoch, weights = best
    net.load_state_dict(weights)
    classifier = UprightClassifier(
        net,
        {
            "made_by": "packaging/orientation/recipe.py",
            "recipe": recipe,
            "trained_on": f"{', '.join(recipe['train'])} ({train_pages} pages, {len(train)} crops)",
            "selected_on": f"{len(recipe['val'])} val splits ({val_pages} pages, {len(val)} crops)",
            "epoch": epoch,
            "val_lines_told": round(told, 4),
        },
    )
    save_upright(args.out, classifier)
    print(f"kept epoch {epoch} (val {told:.2%}); wrote {args.out}")


if __name__ == "__main__":
    main()

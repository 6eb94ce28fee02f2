"""The paper's experiment (Kišš & Hradiš, arXiv 2503.22513) at a scale one machine can run, with
each modification isolated.

    .venv/bin/python benchmarks/pretraining_ablation.py --scale cpu --run-dir runs/ablation-cpu
    .venv/bin/python benchmarks/pretraining_ablation.py --scale gpu --run-dir runs/ablation-gpu
    .venv/bin/python benchmarks/pretraining_ablation.py --quick      # a smoke run: proves the plumbing only

Unlabeled pool: the line crops of the train + val pages of both shared sets, text thrown away.
Labelled: nested random subsets of the cremma-mss-19 train split. Model selection: its val
split. Figures: its test split only. Every row gets the same fine-tuning budget (steps, batch,
learning rate, augmentation); rows differ only in how the encoder starts:

  1. from scratch
  2. pre-trained, constant p, masked-only loss (w = 0)
  3. progressive p, masked-only loss
  4. progressive p + loss on visible tokens (w > 0): the paper's method
  5. as 4, but the target is the masked columns' pixels instead of k-means labels
  6. transfer: the encoder of a recognizer trained on the printed set (fondue train split)

Every run keeps checkpoints and every finished row is kept in RUN_DIR/results.json, so running
the command again resumes where it stopped and finally just prints the table. Rows can be split
over processes sharing one run folder (``--rows``), e.g. one per core."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from common import CREMMA, FONDUE, machine, split_xmls

from mspt_core.atomic import atomic_write
from mspt_core.data.lines import LineSet, load_lines
from mspt_core.data.linestore import LineStore, build_line_store
from mspt_core.locks import FolderLock
from mspt_core.model.config import LINE_HEIGHT
from mspt_core.presets import ENCODER, training_preset
from mspt_core.pretrain import PretrainSettings, pretrain_encoder
from mspt_core.train.loop import TrainSettings


@dataclass(frozen=True)
class Scale:
    size: str
    pretrain: TrainSettings
    method: PretrainSettings  # row 4; the other rows change one thing each
    finetune: TrainSettings
    label_sizes: tuple[int | None, ...]  # None = the whole train split
    transfer: TrainSettings  # supervised training on the printed set for row 6 (pre-training's steps)


def scales() -> dict[str, Scale]:
    # Crops as wide as most fine-tuning lines, so the transformer meets every position it will
    # see later (256-px crops gave a worse start on the val split: 71.9 % vs 69.4 % CER).
    # k-means over the bundled default model's front-end features (a printed-text recognizer that
    # never saw a cremma line): on the val split they beat pooled pixels (64.8 % vs 69.4 % CER
    # after 800 pre-training steps) and deeper layers did not help further (64.7 / 65.0 %).
    cpu_method = PretrainSettings(
        size="tiny",
        p_start=0.1,
        p_end=0.5,
        unmasked_weight=1.0,
        clusters=128,
        features="default",
        kmeans_columns=30_000,
        kmeans_iterations=150,
        max_width=768,
        shards_per_window=4,
    )
    gpu_method = PretrainSettings(
        size="base",
        p_start=0.1,
        p_end=0.5,
        unmasked_weight=0.5,
        clusters=512,
        features="default",
        kmeans_columns=200_000,
        max_width=1024,
    )
    return {
        # About 1.5 hours on 2 idle CPU cores with the rows split over two processes (measured:
        # ~0.3 s per pre-training step on one core, 30 min per pre-trained row). Chosen on the val
        # split (scratch 68.1 % CER): row 4 reached 64.8 % after 800 steps, 61.0 % after 3,000 and
        # 59.3 % after 6,000 steps with w = 1 (w = 1 vs 0.5 at 800 steps: 63.7 % vs 64.8 %).
        "cpu": Scale(
            "tiny",
            TrainSettings(steps=6000, batch_size=8, lr=1e-3, warmup=80, checkpoint_every=200, val_every=10**9),
            cpu_method,
            TrainSettings(steps=500, batch_size=8, lr=1e-3, warmup=50, val_every=125, checkpoint_every=125),
            (100, 300, None),
            TrainSettings(steps=800, batch_size=8, lr=1e-3, warmup=80, val_every=200, checkpoint_every=200),
        ),
        "gpu": Scale(
            "base",
            TrainSettings(steps=20_000, batch_size=64, lr=3e-4, warmup=1000, checkpoint_every=1000, val_every=10**9),
            gpu_method,
            TrainSettings(steps=4000, batch_size=16, lr=3e-4, warmup=200, val_every=250, checkpoint_every=250),
            (100, 300, None),
            TrainSettings(steps=20_000, batch_size=16, lr=3e-4, warmup=1000, val_every=1000, checkpoint_every=1000),
        ),
        # Plumbing only: a few steps of everything. Its numbers mean nothing.
        "quick": Scale(
            "tiny",
            TrainSettings(steps=6, batch_size=8, lr=1e-3, warmup=2, checkpoint_every=3, val_every=10**9),
            replace(cpu_method, clusters=16, kmeans_columns=2000, kmeans_iterations=20, max_width=256),
            TrainSettings(steps=4, batch_size=4, lr=1e-3, warmup=1, val_every=2, checkpoint_every=2),
            (20,),
            TrainSettings(steps=6, batch_size=4, lr=1e-3, warmup=1, val_every=3, checkpoint_every=3),
        ),
    }


ROWS = {
    "scratch": "1. from scratch",
    "constant": "2. pre-trained, constant p, masked-only",
    "progressive": "3. progressive p, masked-only",
    "paper": "4. progressive p + visible-token loss (paper)",
    "pixels": "5. as 4, pixel-reconstruction target",
    "transfer": "6. transfer from a printed-text recognizer",
}


def row_methods(base: PretrainSettings) -> dict[str, PretrainSettings]:
    return {
        "constant": replace(base, schedule="constant", unmasked_weight=0.0),
        "progressive": replace(base, unmasked_weight=0.0),
        "paper": base,
        "pixels": replace(base, target="pixels"),
    }


def build_pool(root: Path, page_limit: int | None) -> LineStore:
    """Train + val pages of both sets; lines cut along their ground-truth polygons, text dropped."""
    if LineStore.is_store(root):
        return LineStore(root)
    xmls = [x for data in (FONDUE, CREMMA) for split in ("train", "val") for x in split_xmls(data, split)]
    return build_line_store(xmls[:page_limit], root, LINE_HEIGHT, lines_per_shard=128)[0]


def labelled_subset(lines: LineSet, size: int | None, seed: int = 0) -> LineSet:
    """Nested subsets: the first ``size`` lines of one fixed permutation."""
    order = np.random.default_rng(seed).permutation(len(lines))
    return LineSet([lines.samples[i] for i in order[: size or len(lines)]])


def test_cer(model_path: Path, test: LineSet) -> float:
    from mspt_core.models import load_model
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.supervised import lines_cer

    return lines_cer(LineRecognizer(load_model(model_path), device="auto"), test)


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def results_lock(path: Path) -> FolderLock:
    """The lock (waited for) that processes sharing a run folder take around its results file."""
    return FolderLock(path.with_name(f".{path.name}.lock"))


def save_result(path: Path, results: dict, key: str, entry: dict) -> None:
    """Add one finished entry. Several processes may share a run folder (e.g. ``--rows`` split
    over two cores), so the file is re-read under a lock and only this entry is added."""
    with results_lock(path):
        results.update(load_results(path))
        results[key] = entry
        atomic_write(path, json.dumps(results, indent=1).encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="a few steps of everything, to test the plumbing")
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=None,
        metavar="N",
        help="labelled-set sizes, 'all' for the whole train split (default: the scale's)",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--features",
        default=None,
        help="k-means feature source for rows 2-4: pixels, untrained, or a model name/path (default: the scale's)",
    )
    parser.add_argument(
        "--feature-layer",
        type=int,
        default=None,
        help="with a model as --features: 0 = its front end, n = after n transformer layers",
    )
    parser.add_argument(
        "--unmasked-weight",
        type=float,
        default=None,
        help="w of rows 4 and 5 (rows 2 and 3 keep w = 0; default: the scale's)",
    )
    parser.add_argument("--pretrain-steps", type=int, default=None, help="pre-training steps (default: the scale's)")
    parser.add_argument("--finetune-steps", type=int, default=None, help="fine-tuning steps (default: the scale's)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of every pre-training and training run (default: TrainSettings'); "
        "the labelled subsets stay the same",
    )
    new_head = training_preset(ENCODER)  # what `mspt finetune` and the wizard use
    parser.add_argument(
        "--encoder-lr-scale",
        type=float,
        default=new_head.encoder_lr_scale,
        help="rows 2-6: the encoder's learning rate relative to the head's "
        f"(default {new_head.encoder_lr_scale:g}, the new-head preset's)",
    )
    parser.add_argument(
        "--freeze-steps",
        type=int,
        default=new_head.freeze_steps,
        help=f"rows 2-6: keep the encoder fixed for this many first steps (default {new_head.freeze_steps})",
    )
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="rows to run (default: all)")
    args = parser.parse_args()
    from mspt_core.cli.common import set_threads
    from mspt_core.train.finetune import finetune_recognizer
    from mspt_core.train.supervised import train_recognizer

    set_threads(args.threads)
    scale_name = "quick" if args.quick else args.scale
    scale = scales()[scale_name]
    if args.sizes:
        scale = replace(scale, label_sizes=tuple(None if s == "all" else int(s) for s in args.sizes))

    def given(**options) -> dict:
        return {name: value for name, value in options.items() if value is not None}

    seed = given(seed=args.seed)
    scale = replace(
        scale,
        method=replace(
            scale.method,
            **given(features=args.features, feature_layer=args.feature_layer, unmasked_weight=args.unmasked_weight),
        ),
        pretrain=replace(scale.pretrain, **given(steps=args.pretrain_steps), **seed),
        finetune=replace(scale.finetune, **given(steps=args.finetune_steps), **seed),
        transfer=replace(scale.transfer, **seed),
    )
    run_dir = args.run_dir or Path(f"runs/ablation-{scale_name}")
    run_dir.mkdir(parents=True, exist_ok=True)
    results_path = run_dir / "results.json"
    # What every row of this folder was made with: a run folder holds one experiment only.
    config = {
        "scale": scale_name,
        "method": asdict(scale.method),
        "pretrain": asdict(scale.pretrain),
        "finetune": asdict(scale.finetune),
        "encoder_lr_scale": args.encoder_lr_scale,
        "freeze_steps": args.freeze_steps,
    }
    results = load_results(results_path)
    if results.get("_config", config) != config:
        raise SystemExit(
            f"{run_dir} holds rows made with other settings (its results.json, '_config'); use another --run-dir"
        )
    save_result(results_path, results, "_config", config)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{(time.perf_counter() - started) / 60:5.1f} min] {message}", flush=True)

    with results_lock(results_path):  # a second process waits for the first one's pool
        pool = build_pool(run_dir / "pool", 3 if args.quick else None)
    labelled = load_lines(split_xmls(CREMMA, "train"), LINE_HEIGHT)
    val = load_lines(split_xmls(CREMMA, "val"), LINE_HEIGHT)
    test = load_lines(split_xmls(CREMMA, "test"), LINE_HEIGHT)
    if args.quick:
        val, test = labelled_subset(val, 16), labelled_subset(test, 40)
    log(f"unlabeled pool {len(pool)} lines; labelled train {len(labelled)}, val {len(val)}, test {len(test)}")

    # Encoders: rows 2-5 pre-trained on the pool, row 6 from a printed-text recognizer.
    encoders: dict[str, Path | None] = {"scratch": None} if "scratch" in args.rows else {}
    for row, method in row_methods(scale.method).items():
        if row not in args.rows:
            continue
        outcome = pretrain_encoder(pool, run_dir / "pretrain" / row, method, scale.pretrain)
        encoders[row] = outcome.encoder_path
        key = f"pretrain/{row}"
        if key not in results:
            losses = [h["loss"] for h in outcome.result.history if "loss" in h]
            save_result(
                results_path,
                results,
                key,
                {"first_loss": losses[0], "final_loss": losses[-1], "minutes": (time.perf_counter() - started) / 60},
            )
        log(f"pre-trained {row}: loss {results[key]['first_loss']:.3f} -> {results[key]['final_loss']:.3f}")
    if "transfer" in args.rows:
        printed = train_recognizer(
            load_lines(split_xmls(FONDUE, "train"), LINE_HEIGHT),
            load_lines(split_xmls(FONDUE, "val"), LINE_HEIGHT),
            run_dir / "transfer-base",
            scale.transfer,
            size=scale.size,
            data_description="fondue-en-print-20 train (val for selection)",
        )
        encoders["transfer"] = printed.model_path
        log(f"printed-text recognizer: val CER {printed.result.best_metric:.4f}")

    for size in scale.label_sizes:
        subset = labelled_subset(labelled, size)
        for row, encoder in encoders.items():
            key = f"{row}/{size or 'all'}"
            if key in results:
                continue
            run = run_dir / "finetune" / f"{row}-{size or 'all'}"
            t0 = time.perf_counter()
            if encoder is None:
                outcome = train_recognizer(subset, val, run, scale.finetune, size=scale.size)
            else:
                outcome = finetune_recognizer(
                    subset,
                    val,
                    run,
                    scale.finetune,
                    encoder,
                    encoder_lr_scale=args.encoder_lr_scale,
                    freeze_steps=args.freeze_steps,
                )
            save_result(
                results_path,
                results,
                key,
                {
                    "test_cer": test_cer(outcome.model_path, test),
                    "val_cer": outcome.result.best_metric,
                    "best_step": outcome.result.best_step,
                    "lines": len(subset),
                    "minutes": (time.perf_counter() - t0) / 60,
                },
            )
            log(f"{key}: test CER {results[key]['test_cer']:.4f} (val {results[key]['val_cer']:.4f})")

    print_table(load_results(results_path), scale, scale_name, len(pool), len(test))  # other processes' rows too


def print_table(results: dict, scale: Scale, scale_name: str, pool_lines: int, test_lines: int) -> None:
    sizes = [f"{s or 'all'}" for s in scale.label_sizes]
    print(
        f"\n{'QUICK SMOKE RUN: NOT A RESULT. ' if scale_name == 'quick' else ''}"
        f"cremma-mss-19 test split ({test_lines} lines), CER; in brackets the relative change against row 1."
    )
    print(
        f"Scale '{scale_name}': {scale.size} model; pre-training {scale.pretrain.steps} steps x batch "
        f"{scale.pretrain.batch_size} on {pool_lines} unlabeled lines; fine-tuning {scale.finetune.steps} steps x "
        f"batch {scale.finetune.batch_size} for every row; k-means features: {scale.method.features}"
        f"{f' after transformer layer {scale.method.feature_layer}' if scale.method.feature_layer else ''}; "
        f"w = {scale.method.unmasked_weight}; encoder lr scale {results['_config']['encoder_lr_scale']}, "
        f"freeze steps {results['_config']['freeze_steps']} (rows 2-6). "
        f"{dt.date.today()}, {machine()}\n"
    )
    print("| row | " + " | ".join(f"{s} lines" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for row, title in ROWS.items():
        cells = []
        for s in sizes:
            entry, base = results.get(f"{row}/{s}"), results.get(f"scratch/{s}")
            if entry is None:
                cells.append("–")
                continue
            cell = f"{entry['test_cer']:.2%}"
            if row != "scratch" and base and base["test_cer"] > 0:
                cell += f" ({(entry['test_cer'] - base['test_cer']) / base['test_cer']:+.0%})"
            cells.append(cell)
        print(f"| {title} | " + " | ".join(cells) + " |")
    print("\n| pre-training | first loss | final loss |\n|---|---|---|")
    for row in row_methods(scale.method):
        entry = results.get(f"pretrain/{row}")
        if entry:
            print(f"| {ROWS[row]} | {entry['first_loss']:.3f} | {entry['final_loss']:.3f} |")


if __name__ == "__main__":
    main()

"""The paper's experiment (Kišš & Hradiš, arXiv 2503.22513) at a scale one machine can run, with
each modification isolated.

    .venv/bin/python benchmarks/pretraining_ablation.py --scale cpu --run-dir runs/ablation-cpu
    .venv/bin/python benchmarks/pretraining_ablation.py --scale gpu --run-dir runs/ablation-gpu
    .venv/bin/python benchmarks/pretraining_ablation.py --scale converge --run-dir ../runs/ablation-converge
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

Scale ``converge`` asks the same question at the product's scale: the bundled handwriting
model's own pre-training (packaging/default_model/joint.json: the fast encoder on the train pages
of all 13 sets) and the labelled lines of every handwritten set (train for learning, val for
selection and early stopping, test for the figures, mean over the sets). Every fine-tuning runs
until val stops improving, within the same maximum budget; rows 1, 3, 4 and 6 (transfer from the
bundled print model), 300 lines with two fine-tuning seeds and all lines with one.

Every run keeps checkpoints and every finished row is kept in RUN_DIR/results.json, so running
the command again resumes where it stopped and finally just prints the table. Rows can be split
over processes sharing one run folder (``--rows``), e.g. one per core."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from common import (
    CREMMA,
    DATA,
    FONDUE,
    HANDWRITTEN,
    REPO,
    load_recipe,
    machine,
    recipe_pretraining,
    shared_split,
    split_xmls,
)

from mspt_core.atomic import atomic_write
from mspt_core.data.lines import LineSet, load_lines
from mspt_core.data.linestore import LineStore, build_line_store
from mspt_core.locks import FolderLock
from mspt_core.model.config import LINE_HEIGHT
from mspt_core.models import DEFAULT_MODEL, WEIGHTS, bundled_models_dir, weights_sha256
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
    # Row 6's printed-text recognizer: trained on the printed set with these settings, or, when
    # None, the bundled print model.
    transfer: TrainSettings | None
    rows: tuple[str, ...] | None = None  # None: every row
    handwritten: bool = False  # every handwritten set and the joint recipe's pool, not cremma-mss-19 alone
    extra_seeds: tuple[int, ...] = ()  # the smallest size again with these fine-tuning seeds


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
    joint = load_recipe(JOINT_RECIPE, [])
    _, joint_method, joint_pretrain = recipe_pretraining(joint)
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
        # The product's pre-training and the fine-tuning loop of the joint recipe, stopped when 4
        # validations in a row (1,000 steps) bring no gain; at most 6,000 steps (about 20 epochs
        # of all 4,904 usable handwritten train lines). One CPU core: ~0.9 s a pre-training step, ~0.55 s
        # a fine-tuning step.
        "converge": Scale(
            joint["size"],
            joint_pretrain,
            joint_method,
            TrainSettings(
                steps=6000,
                batch_size=joint["batch_size"],
                lr=joint["lr"],
                warmup=joint["warmup"],
                val_every=250,
                checkpoint_every=250,
                patience=4,
            ),
            (300, None),
            None,
            rows=("scratch", "progressive", "paper", "transfer"),
            handwritten=True,
            extra_seeds=(1,),
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


JOINT_RECIPE = REPO / "packaging" / "default_model" / "joint.json"

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


def build_pool(root: Path, page_limit: int | None, handwritten: bool) -> LineStore:
    """Lines cut along their ground-truth polygons, text dropped: the train + val pages of both
    seed sets, or (``handwritten``) the pages the joint recipe pre-trains on, as it stores them."""
    if LineStore.is_store(root):
        return LineStore(root)
    if handwritten:
        xmls = [xml for name in recipe_pretraining(load_recipe(JOINT_RECIPE, []))[0] for xml in shared_split(name)]
        store = build_line_store(xmls[:page_limit], root, LINE_HEIGHT)[0]
    else:
        xmls = [x for data in (FONDUE, CREMMA) for split in ("train", "val") for x in split_xmls(data, split)]
        store = build_line_store(xmls[:page_limit], root, LINE_HEIGHT, lines_per_shard=128)[0]
    if store is None:
        raise SystemExit(f"no usable lines in the {len(xmls[:page_limit])} pages of the pool")
    return store


def labelled_sets(handwritten: bool) -> dict[str, dict[str, LineSet]]:
    """Split -> set name -> its lines: cremma-mss-19 alone, or every handwritten set."""
    names = list(HANDWRITTEN) if handwritten else [CREMMA.name]
    return {
        split: {name: load_lines(split_xmls(DATA / name, split), LINE_HEIGHT) for name in names}
        for split in ("train", "val", "test")
    }


def pooled(sets: dict[str, LineSet]) -> LineSet:
    return LineSet([sample for lines in sets.values() for sample in lines.samples])


def labelled_subset(lines: LineSet, size: int | None, seed: int = 0) -> LineSet:
    """Nested subsets: the first ``size`` lines of one fixed permutation."""
    order = np.random.default_rng(seed).permutation(len(lines))
    return LineSet([lines.samples[i] for i in order[: size or len(lines)]])


def test_cers(model_path: Path, test: dict[str, LineSet]) -> dict[str, float]:
    """CER on each set's test lines."""
    from mspt_core.models import load_model
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.supervised import lines_cer

    reader = LineRecognizer(load_model(model_path), device="auto")
    return {name: lines_cer(reader, lines) for name, lines in test.items()}


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
    parser.add_argument("--scale", choices=["cpu", "gpu", "converge"], default="cpu")
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
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), help="rows to run (default: the scale's)")
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
        transfer=replace(scale.transfer, **seed) if scale.transfer else None,
    )
    rows: list[str] = list(args.rows or scale.rows or ROWS)
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
        pool = build_pool(run_dir / "pool", 3 if args.quick else None, scale.handwritten)
    splits = labelled_sets(scale.handwritten)
    labelled, val, test = pooled(splits["train"]), pooled(splits["val"]), splits["test"]
    if args.quick:
        val, test = labelled_subset(val, 16), {name: labelled_subset(lines, 40) for name, lines in test.items()}
    log(
        f"unlabeled pool {len(pool)} lines; labelled train {len(labelled)}, val {len(val)}, "
        f"test {sum(len(lines) for lines in test.values())} ({len(test)} sets)"
    )

    # Encoders: rows 2-5 pre-trained on the pool, row 6 from a printed-text recognizer.
    encoders: dict[str, Path | None] = {"scratch": None} if "scratch" in rows else {}
    for row, method in row_methods(scale.method).items():
        if row not in rows:
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
    if "transfer" in rows and scale.transfer is None:
        encoders["transfer"] = pinned_print_model(run_dir, results_path, results)
        log(f"printed-text recognizer: {encoders['transfer']}, SHA-256 {results['transfer-base']['sha256'][:12]}…")
    elif "transfer" in rows and scale.transfer is not None:
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

    for size, finetune in fine_tunings(scale):
        subset = labelled_subset(labelled, size)
        for row, encoder in encoders.items():
            key = result_key(row, size, finetune.seed, scale)
            if key in results:
                continue
            run = run_dir / "finetune" / key.replace("/", "-")
            t0 = time.perf_counter()
            if encoder is None:
                outcome = train_recognizer(subset, val, run, finetune, size=scale.size)
            else:
                outcome = finetune_recognizer(
                    subset,
                    val,
                    run,
                    finetune,
                    encoder,
                    encoder_lr_scale=args.encoder_lr_scale,
                    freeze_steps=args.freeze_steps,
                )
            per_set = test_cers(outcome.model_path, test)
            save_result(
                results_path,
                results,
                key,
                {
                    "test_cer": float(np.mean(list(per_set.values()))),
                    "test_sets": per_set,
                    "val_cer": outcome.result.best_metric,
                    "best_step": outcome.result.best_step,
                    "last_step": outcome.result.step,
                    "status": outcome.result.status,
                    "lines": len(subset),
                    "minutes": (time.perf_counter() - t0) / 60,
                },
            )
            log(f"{key}: test CER {results[key]['test_cer']:.4f} (val {results[key]['val_cer']:.4f})")

    # every row of the scale, other processes' too
    print_table(load_results(results_path), scale, scale_name, list(scale.rows or ROWS), len(pool), test)


def pinned_print_model(run_dir: Path, results_path: Path, results: dict) -> Path:
    """Row 6's print model: the bundled one, copied into the run folder the first time, so that
    a run resumed after a new bundled model has shipped goes on from the same weights."""
    pinned = run_dir / "transfer-base"
    with FolderLock(run_dir / ".transfer-base.lock"):  # processes sharing the folder copy once
        results.update(load_results(results_path))
        if not (pinned / WEIGHTS).is_file():
            if any(key.startswith("transfer/") for key in results):
                raise SystemExit(f"{run_dir} has row-6 results but no copy of the print model they came from")
            partial = run_dir / "transfer-base.partial"
            shutil.rmtree(partial, ignore_errors=True)  # a copy a crash left half done
            shutil.copytree(bundled_models_dir() / DEFAULT_MODEL, partial)
            partial.rename(pinned)
        sha = weights_sha256(pinned)
        if "transfer-base" not in results:
            save_result(results_path, results, "transfer-base", {"sha256": sha})
        elif results["transfer-base"]["sha256"] != sha:
            raise SystemExit(f"{pinned}: not the print model this run's results came from (SHA-256 differs)")
    return pinned


def fine_tunings(scale: Scale) -> list[tuple[int | None, TrainSettings]]:
    """(labelled lines, loop settings) of every fine-tuning column: each size with the scale's
    seed, then the smallest size again with each extra seed. Sizes without a number (all
    lines, e.g. ``--sizes all``) get no extra seed: an hour or more each at our largest scale."""
    runs = [(size, scale.finetune) for size in scale.label_sizes]
    smallest = min((s for s in scale.label_sizes if s is not None), default=None)
    if smallest is None:
        return runs
    extra = [seed for seed in scale.extra_seeds if seed != scale.finetune.seed]  # --seed may make one the base
    return runs + [(smallest, replace(scale.finetune, seed=seed)) for seed in extra]


def result_key(row: str, size: int | None, seed: int, scale: Scale) -> str:
    """``row/300``, ``row/all``; an extra seed's run ``row/300/seed1``."""
    return f"{row}/{size or 'all'}" + (f"/seed{seed}" if seed != scale.finetune.seed else "")


def print_table(
    results: dict, scale: Scale, scale_name: str, rows: list[str], pool_lines: int, test: dict[str, LineSet]
) -> None:
    columns = [(size, finetune.seed) for size, finetune in fine_tunings(scale)]

    def title(size: int | None, seed: int) -> str:
        return f"{size or 'all'} lines" + (f", seed {seed}" if seed != scale.finetune.seed else "")

    what = (
        f"mean CER over the test splits of {len(test)} handwritten sets ({sum(len(t) for t in test.values())} lines)"
        if scale.handwritten
        else f"{CREMMA.name} test split ({sum(len(t) for t in test.values())} lines), CER"
    )
    budget = f"fine-tuning {scale.finetune.steps} steps x batch {scale.finetune.batch_size}" + (
        f" at most, stopped after {scale.finetune.patience} validations (every {scale.finetune.val_every} steps) "
        "without gain"
        if scale.finetune.patience
        else ""
    )
    transfer = "a recognizer trained on fondue train"
    if scale.transfer is None:
        pinned = results.get("transfer-base", {}).get("sha256", "")
        transfer = "the bundled print model" + (f" (weights SHA-256 {pinned[:12]}…)" if pinned else "")
    print(
        f"\n{'QUICK SMOKE RUN: NOT A RESULT. ' if scale_name == 'quick' else ''}"
        f"{what}; in brackets the relative change against row 1."
    )
    print(
        f"Scale '{scale_name}': {scale.size} model; pre-training {scale.pretrain.steps} steps x batch "
        f"{scale.pretrain.batch_size} on {pool_lines} unlabeled lines; {budget}, for every row; k-means features: "
        f"{scale.method.features}"
        f"{f' after transformer layer {scale.method.feature_layer}' if scale.method.feature_layer else ''}; "
        f"w = {scale.method.unmasked_weight}; row 6 from {transfer}; encoder lr scale "
        f"{results['_config']['encoder_lr_scale']}, freeze steps {results['_config']['freeze_steps']} (rows 2-6). "
        f"{dt.date.today()}, {machine()}\n"
    )

    def grid(cell) -> None:
        """One table: a line per row, a cell per column from ``cell(entry, scratch's entry)``."""
        print("| row | " + " | ".join(title(*column) for column in columns) + " |")
        print("|---|" + "---|" * len(columns))
        for row in rows:
            cells = []
            for size, seed in columns:
                entry = results.get(result_key(row, size, seed, scale))
                base = results.get(result_key("scratch", size, seed, scale))
                cells.append(cell(entry, base if row != "scratch" else None) if entry else "–")
            print(f"| {ROWS[row]} | " + " | ".join(cells) + " |")

    def cer_cell(entry: dict, base: dict | None) -> str:
        cell = f"{entry['test_cer']:.2%}"
        if base and base["test_cer"] > 0:
            cell += f" ({(entry['test_cer'] - base['test_cer']) / base['test_cer']:+.0%})"
        return cell

    grid(cer_cell)
    if scale.finetune.patience:  # did each fine-tuning converge within the budget?
        print("\nBest val step / last step of each fine-tuning (last < the budget: stopped early)\n")
        grid(lambda entry, _: f"{entry['best_step']} / {entry['last_step']}" if "last_step" in entry else "–")
    print("\n| pre-training | first loss | final loss |\n|---|---|---|")
    for row in row_methods(scale.method):
        entry = results.get(f"pretrain/{row}")
        if entry:
            print(f"| {ROWS[row]} | {entry['first_loss']:.3f} | {entry['final_loss']:.3f} |")


if __name__ == "__main__":
    main()

"""mspt train: supervised training of a line recognizer."""

from __future__ import annotations

import argparse
from pathlib import Path

from mspt_core.cli.common import TrainingBar, add_device_option, add_threads_option, set_threads


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a line recognizer from ALTO/PAGE folders or image+txt pairs",
        description="Train a line recognizer. DATA are ALTO or PAGE XML files (with their page images), "
                    "line images with a .txt/.gt.txt beside them, or folders of either.")
    p.add_argument("data", nargs="+", type=Path, metavar="DATA", help="training data")
    p.add_argument("--val", nargs="+", type=Path, default=None, help="validation data (default: split off DATA)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="share of training lines held out for validation when --val is not given (default 0.1)")
    p.add_argument("--out", "-o", type=Path, required=True,
                   help="run folder: checkpoints and the best model (folder 'best') go here")
    p.add_argument("--size", default="small", help="tiny, small, base or large (default small)")
    p.add_argument("--head", choices=["ctc", "decoder"], default="ctc", help="output head (default ctc)")
    p.add_argument("--base", default=None,
                   help="fine-tune this model (name or path) instead of starting from scratch; "
                        "its alphabet is extended with new characters")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--accumulate", type=int, default=1, help="batches per optimizer step")
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--patience", type=int, default=0, help="early stop after N validations without gain (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true", help="train on the lines as they are")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT holds a checkpoint")
    p.add_argument("--install-as", default=None, metavar="NAME",
                   help="also import the best model into the registry under NAME")
    add_device_option(p)
    add_threads_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.data.lines import load_lines, split_off_validation
    from mspt_core.errors import DataError
    from mspt_core.model import config_for
    from mspt_core.models import import_model, resolve
    from mspt_core.train.loop import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    set_threads(args.threads)
    try:
        settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                                 schedule=args.schedule, accumulate=args.accumulate, val_every=args.val_every,
                                 checkpoint_every=args.val_every, patience=args.patience, seed=args.seed,
                                 device=args.device)
        height = config_for(args.size).height
    except ValueError as error:
        raise DataError(str(error)) from error
    base = resolve(args.base) if args.base else None
    if base is not None:
        from mspt_core.models import read_metadata

        height = read_metadata(base)["line_height"]
    train_set = load_lines(args.data, height)
    if args.val:
        val_set = load_lines(args.val, height)
    else:
        train_set, val_set = split_off_validation(train_set, args.val_fraction, args.seed)
    for skipped in train_set.skipped[:5]:
        print(f"skipped {skipped}")
    if len(train_set.skipped) > 5:
        print(f"... {len(train_set.skipped) - 5} more lines skipped")
    print(f"training on {len(train_set)} lines, validating on {len(val_set)}")
    bar = TrainingBar(settings.steps)
    outcome = train_recognizer(
        train_set, val_set, args.out, settings, size=args.size, head=args.head, base_model=base,
        on_progress=bar, resume=not args.no_resume, use_augmentation=not args.no_augment,
        data_description=" ".join(str(p) for p in args.data))
    result = outcome.result
    best = f"{result.best_metric:.4f}" if result.best_metric is not None else "n/a"
    print(f"{result.status} after {result.step} steps; best validation CER {best} at step {result.best_step}")
    if outcome.added_chars:
        print(f"alphabet extended with: {''.join(outcome.added_chars)}")
    print(f"model: {outcome.model_path}")
    if args.install_as:
        entry = import_model(outcome.model_path, args.install_as)
        print(f"installed as {entry.name!r}")
    return 0 if result.status != "cancelled" else 1

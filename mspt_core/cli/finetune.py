"""mspt finetune: train a recognizer on labelled lines starting from a pre-trained encoder
(or from the encoder of any recognizer: transfer learning), with a fresh head."""

from __future__ import annotations

import argparse
from pathlib import Path

from mspt_core.cli.common import TrainingBar, add_device_option, add_threads_option, set_threads


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "finetune", help="train a recognizer from a pre-trained encoder on labelled lines",
        description="Put the encoder of ENCODER (a model from `mspt pretrain`, or any recognizer) into a new "
                    "recognizer with a fresh head and an alphabet taken from DATA, and train it. DATA are ALTO or "
                    "PAGE XML files (with their page images), line images with .txt/.gt.txt, or folders of either.")
    p.add_argument("data", nargs="+", type=Path, metavar="DATA", help="labelled training data")
    p.add_argument("--encoder", "-e", required=True, help="encoder or recognizer: registry name or path")
    p.add_argument("--val", nargs="+", type=Path, default=None, help="validation data (default: split off DATA)")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--out", "-o", type=Path, required=True, help="run folder; the best model goes to OUT/best")
    p.add_argument("--head", choices=["ctc", "decoder"], default="ctc")
    p.add_argument("--encoder-lr-scale", type=float, default=0.5,
                   help="the encoder learns at this fraction of --lr (default 0.5)")
    p.add_argument("--freeze-steps", type=int, default=0,
                   help="keep the encoder frozen for the first N steps while the new head settles (default 0)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--val-every", type=int, default=200)
    p.add_argument("--patience", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--install-as", default=None, metavar="NAME", help="also import the best model under NAME")
    add_device_option(p)
    add_threads_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.data.lines import load_lines, split_off_validation
    from mspt_core.errors import DataError
    from mspt_core.models import import_model, read_metadata, resolve
    from mspt_core.train.finetune import finetune_recognizer
    from mspt_core.train.loop import TrainSettings

    set_threads(args.threads)
    try:
        settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                                 val_every=args.val_every, checkpoint_every=args.val_every, patience=args.patience,
                                 seed=args.seed, device=args.device)
    except ValueError as error:
        raise DataError(str(error)) from error
    encoder = resolve(args.encoder)
    height = read_metadata(encoder)["line_height"]
    train_set = load_lines(args.data, height)
    if args.val:
        val_set = load_lines(args.val, height)
    else:
        train_set, val_set = split_off_validation(train_set, args.val_fraction, args.seed)
    print(f"fine-tuning {encoder} on {len(train_set)} lines, validating on {len(val_set)}")
    outcome = finetune_recognizer(
        train_set, val_set, args.out, settings, encoder, head=args.head, encoder_lr_scale=args.encoder_lr_scale,
        freeze_steps=args.freeze_steps, on_progress=TrainingBar(settings.steps), resume=not args.no_resume,
        use_augmentation=not args.no_augment, data_description=" ".join(str(p) for p in args.data))
    result = outcome.result
    best = f"{result.best_metric:.4f}" if result.best_metric is not None else "n/a"
    print(f"{result.status} after {result.step} steps; best validation CER {best} at step {result.best_step}")
    print(f"model: {outcome.model_path}")
    if args.install_as:
        entry = import_model(outcome.model_path, args.install_as)
        print(f"installed as {entry.name!r}")
    return 0 if result.status != "cancelled" else 1

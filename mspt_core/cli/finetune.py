"""mspt finetune: train a recognizer on labelled lines starting from a pre-trained encoder
(or from the encoder of any recognizer: transfer learning), with a fresh head."""

from __future__ import annotations

import argparse

from mspt_core.cli.common import (
    TrainingBar,
    add_data_options,
    add_loop_options,
    check_output_folder,
    loop_settings,
    report_training,
    train_and_val_lines,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "finetune",
        help="train a recognizer from a pre-trained encoder on labelled lines",
        description="Put the encoder of ENCODER (a model from `mspt pretrain`, or any recognizer) into a new "
        "recognizer with a fresh head and an alphabet taken from DATA, and train it. DATA are ALTO or "
        "PAGE XML files (with their page images), line images with .txt/.gt.txt, or folders of either.",
    )
    add_data_options(p)
    p.add_argument("--encoder", "-e", required=True, help="encoder or recognizer: registry name or path")
    p.add_argument("--head", choices=["ctc", "decoder"], default="ctc")
    p.add_argument(
        "--encoder-lr-scale", type=float, default=0.5, help="the encoder learns at this fraction of --lr (default 0.5)"
    )
    p.add_argument(
        "--freeze-steps",
        type=int,
        default=0,
        help="keep the encoder frozen for the first N steps while the new head settles (default 0)",
    )
    add_loop_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.models import read_metadata, resolve
    from mspt_core.train.finetune import finetune_recognizer

    settings = loop_settings(args)
    check_output_folder(args.out)
    encoder = resolve(args.encoder)
    train_set, val_set = train_and_val_lines(args, read_metadata(encoder)["line_height"])
    print(f"fine-tuning {encoder} on {len(train_set)} lines, validating on {len(val_set)}")
    outcome = finetune_recognizer(
        train_set,
        val_set,
        args.out,
        settings,
        encoder,
        head=args.head,
        encoder_lr_scale=args.encoder_lr_scale,
        freeze_steps=args.freeze_steps,
        on_progress=TrainingBar(settings.steps),
        resume=not args.no_resume,
        use_augmentation=not args.no_augment,
        data_description=" ".join(str(p) for p in args.data),
    )
    return report_training(outcome, args)

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
    non_negative_float,
    non_negative_int,
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
    from mspt_core.presets import ENCODER, training_preset

    preset = training_preset(ENCODER)
    p.add_argument(
        "--encoder-lr-scale",
        type=non_negative_float,
        default=preset.encoder_lr_scale,
        help=f"the encoder learns at this fraction of --lr (default {preset.encoder_lr_scale:g})",
    )
    p.add_argument(
        "--freeze-steps",
        type=non_negative_int,
        default=preset.freeze_steps,
        help=f"keep the encoder frozen for the first N steps while the new head settles "
        f"(default {preset.freeze_steps})",
    )
    add_loop_options(p, f"the pre-trained encoder preset: {preset.summary()}")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.models import read_metadata, resolve
    from mspt_core.presets import ENCODER, training_preset
    from mspt_core.train.finetune import finetune_recognizer

    preset = training_preset(ENCODER)
    settings = loop_settings(args, preset)
    check_output_folder(args.out)
    encoder = resolve(args.encoder)
    train_set, val_set = train_and_val_lines(args, read_metadata(encoder)["line_height"], settings.seed)
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
        use_augmentation=preset.augment and not args.no_augment,
        data_description=" ".join(str(p) for p in args.data),
    )
    return report_training(outcome, args)

"""mspt train: supervised training of a line recognizer."""

from __future__ import annotations

import argparse

from mspt_core.cli.common import (
    TrainingBar,
    add_data_options,
    add_loop_options,
    augment_strength,
    check_output_folder,
    loop_settings,
    named_sizes,
    report_training,
    train_and_val_lines,
)
from mspt_core.data.augment import MAX_STRENGTH


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a line recognizer from ALTO/PAGE folders or image+txt pairs",
        description="Train a line recognizer. DATA are ALTO or PAGE XML files (with their page images), "
        "line images with a .txt/.gt.txt beside them, or folders of either.",
    )
    add_data_options(p)
    p.add_argument(
        "--size",
        default="small",
        help=f"{named_sizes()} (default small; fast: for CPUs, a fifth of small's cost)",
    )
    p.add_argument("--head", choices=["ctc", "decoder"], default="ctc", help="output head (default ctc)")
    p.add_argument(
        "--base",
        default=None,
        help="fine-tune this model (name or path) instead of starting from scratch; "
        "its alphabet is extended with new characters",
    )
    from mspt_core.presets import FINETUNE, SCRATCH, training_preset

    p.add_argument(
        "--tuned-share",
        type=float,
        default=None,
        metavar="A",
        help="with --base: the kept model is blended back toward the base, base * (1 - A) + tuned * A "
        f"(1: no blend; default {training_preset(FINETUNE).tuned_share:g}); with --select-blended, every validation "
        "reads that blend",
    )
    p.add_argument(
        "--select-blended",
        action="store_true",
        help="with --base and a --tuned-share below 1: every validation reads the blend, and the kept model "
        "is the step whose blend reads best (instead of the best step, blended once at the end)",
    )
    p.add_argument(
        "--augment-strength",
        type=augment_strength,
        default=None,
        metavar="S",
        help="how far augmentation moves the shape of the writing (slant, wobble, the baseline's curl), "
        f"not how often: 1 (the default) as every bundled model was trained, at most {MAX_STRENGTH:g}",
    )
    add_loop_options(
        p,
        f"from scratch: {training_preset(SCRATCH).summary()}; with --base, the few-pages fine-tuning "
        f"preset: {training_preset(FINETUNE).summary()}",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.errors import DataError
    from mspt_core.model import config_for
    from mspt_core.models import read_metadata, resolve
    from mspt_core.presets import FINETUNE, SCRATCH, training_preset
    from mspt_core.train.supervised import train_recognizer, widths_as_read

    preset = training_preset(FINETUNE if args.base else SCRATCH)
    settings = loop_settings(args, preset)
    tuned_share = preset.tuned_share if args.tuned_share is None else args.tuned_share
    if args.tuned_share is not None and not args.base:
        raise DataError("--tuned-share blends a fine-tuned model with its base: it needs --base")
    if not 0.0 <= tuned_share <= 1.0:
        raise DataError(f"--tuned-share must lie between 0 and 1, not {tuned_share:g}")
    if args.select_blended and (not args.base or not 0.0 < tuned_share < 1.0):
        raise DataError(
            "--select-blended reads a model blended with its base: it needs --base and a --tuned-share between 0 and 1"
        )
    augmenting = preset.augment and not args.no_augment
    if args.augment_strength is not None and not augmenting:
        raise DataError("--augment-strength needs augmentation: with --no-augment the lines are trained on as they are")
    check_output_folder(args.out)
    try:
        height = config_for(args.size).height
    except ValueError as error:
        raise DataError(str(error)) from error
    base = resolve(args.base) if args.base else None
    if base is not None:
        height = read_metadata(base)["line_height"]
    train_set, val_set = train_and_val_lines(args, height, settings.seed)
    print(f"training on {len(train_set)} lines, validating on {len(val_set)}")
    if args.select_blended:
        print(f"every validation reads the weights blended toward the base ({tuned_share:g} tuned); the best is kept")
    outcome = train_recognizer(
        train_set,
        val_set,
        args.out,
        settings,
        size=args.size,
        head=args.head,
        base_model=base,
        on_progress=TrainingBar(settings.steps),
        resume=not args.no_resume,
        use_augmentation=augmenting,
        augment_strength=1.0 if args.augment_strength is None else args.augment_strength,
        data_description=" ".join(str(p) for p in args.data),
        tuned_share=tuned_share,
        encoder_lr_scale=preset.encoder_lr_scale,
        train_widths=widths_as_read(preset.widths_as_read, base),
        select_blended=args.select_blended,
    )
    return report_training(outcome, args)

"""mspt adapt: a recognizer adapted to pages nobody corrected, from its own surest readings of
them (``mspt_core.train.self_training``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mspt_core.cli.common import (
    TrainingBar,
    add_dpi_option,
    add_loop_options,
    add_segmenter_option,
    check_output_folder,
    given_options,
    install,
    print_skipped,
    start_training,
    surest_share,
)

# The loop options offered (validation and early stopping have no lines to work on).
LOOP_FIELDS = ("steps", "batch_size", "lr", "warmup", "seed")


def register(subparsers) -> None:
    from mspt_core.presets import SELF_TRAINING, SUREST_SHARE, training_preset

    p = subparsers.add_parser(
        "adapt",
        help="adapt a model to pages nobody corrected, from its own surest readings of them",
        description="Read the lines of PAGE with --base, keep the surest share of what it read and fine-tune "
        "the model on those lines as if a person had corrected them. No correction is needed, and none "
        "checks the result: the run's last weights are the adapted model. Lines come from a PAGE/ALTO "
        "file beside an image where there is one (its text is not used), else mspt finds them. It helps "
        "on a hand the model reads badly and may cost a little on one it reads well (docs/pretraining.md); "
        "corrected pages (`mspt train --base`) teach much more.",
    )
    p.add_argument(
        "pages",
        nargs="+",
        type=Path,
        metavar="PAGE",
        help="page images or PDF files, or folders of them (walked)",
    )
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        required=True,
        help="run folder: checkpoints, and the adapted model (folder 'best')",
    )
    p.add_argument(
        "--base",
        default="auto",
        help="the model to adapt: a name from `mspt models list` or a path, or auto: the bundled model that "
        "auto reads most of these lines with (default auto)",
    )
    p.add_argument(
        "--share",
        type=surest_share,
        default=SUREST_SHARE,
        help="the share of the lines read, the surest by mean character confidence, learned from "
        f"(default {SUREST_SHARE:g})",
    )
    add_segmenter_option(p)
    add_dpi_option(p)
    add_loop_options(p, training_preset(SELF_TRAINING).summary(), fields=LOOP_FIELDS, result="the adapted model")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mspt_core.cli.batch import page_files
    from mspt_core.data.lines import LineSet, page_scan_lines
    from mspt_core.errors import DataError, ModelFileError
    from mspt_core.images import check_image_file
    from mspt_core.model.config import LINE_HEIGHT
    from mspt_core.models import AUTO, bundled_models_dir, read_metadata, resolve
    from mspt_core.presets import SELF_TRAINING, training_preset
    from mspt_core.train.self_training import adapt

    start_training(args)
    try:
        settings = training_preset(SELF_TRAINING).settings(**given_options(args, LOOP_FIELDS), device=args.device)
    except ValueError as error:
        raise DataError(str(error)) from error
    check_output_folder(args.out)
    base = None if args.base == AUTO else resolve(args.base)
    height = read_metadata(base)["line_height"] if base is not None else LINE_HEIGHT  # the bundled models'
    lines, pages = LineSet(), 0
    for file in page_files(args.pages, args.out):
        check_image_file(file.path)
        for page in page_scan_lines(file.path, height, lines.skipped, args.dpi, args.segmenter):
            pages += 1
            lines.samples.extend(page)
    print_skipped(lines.skipped)
    if not lines.samples:
        raise DataError(f"no lines found on the {pages} page(s) of {', '.join(map(str, args.pages))}")
    if base is None:
        from mspt_core.choose import PREFERENCE_LINES, preferred_model

        # Lines from all through the pages decide, not the first page's alone. The bundled model
        # itself, never a user's model of the same name.
        sample = lines.images[:: max(1, len(lines) // PREFERENCE_LINES)][:PREFERENCE_LINES]
        base = bundled_models_dir() / preferred_model(sample)
        if read_metadata(base)["line_height"] != height:
            raise ModelFileError(f"{base}: reads lines {read_metadata(base)['line_height']} px high, not {height}")

    def say(kind: str, message: str) -> None:
        if kind == "warning":
            print(f"mspt: warning: {message}", file=sys.stderr)
        elif kind == "learning":
            print(f"read {len(lines)} lines on {pages} page(s) with {base}; {message}")

    outcome, _ = adapt(
        lines,
        base,
        args.out,
        settings,
        share=args.share,
        of=" ".join(str(p) for p in args.pages),
        resume=not args.no_resume,
        device=args.device,
        say=say,
        on_progress=TrainingBar(settings.steps),
    )
    result = outcome.result  # a stop (Ctrl+C) ends as "mspt: interrupted"; the checkpoint resumes
    print(f"{result.status} after {result.step} steps")
    print(f"adapted model: {outcome.model_path} (the last weights: nothing corrected to check them against)")
    install(outcome.model_path, args)
    return 0

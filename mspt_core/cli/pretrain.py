"""mspt pretrain: masked self-supervised pre-training of an encoder on unlabeled lines.
Under torchrun (``torchrun --nproc_per_node=N -m mspt_core.cli pretrain ...``) it trains
data-parallel, each rank reading its own shards."""

from __future__ import annotations

import argparse
from pathlib import Path

from mspt_core.cli.common import (
    PRETRAIN_LOOP,
    TrainingBar,
    add_loop_options,
    check_output_folder,
    given_options,
    install,
    named_sizes,
    positive_int,
    print_skipped,
    start_training,
)


def register(subparsers) -> None:
    from mspt_core.presets import DEFAULT_PRETRAIN_PRESET, PRETRAIN_PRESETS  # light: dataclasses only

    presets = "; ".join(f"{name}: {p.description}" for name, p in PRETRAIN_PRESETS.items())
    p = subparsers.add_parser(
        "pretrain",
        help="pre-train an encoder on unlabeled line images (masked, self-supervised)",
        description="Masked self-supervised pre-training (progressive masking, k-means targets, loss on "
        "masked and visible tokens). DATA is a line store (`mspt linestore build`) or folders of "
        "page scans / ALTO / PAGE / line images, from which a store is built inside OUT first. "
        f"Presets: {presets}.",
    )
    p.add_argument("data", nargs="+", type=Path, metavar="DATA")
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        required=True,
        help="run folder: checkpoints, k-means targets and the encoder (folder 'encoder')",
    )
    p.add_argument("--preset", choices=list(PRETRAIN_PRESETS), default=DEFAULT_PRETRAIN_PRESET)
    method = p.add_argument_group("method (default: the preset's)")
    method.add_argument("--size", help=named_sizes())
    method.add_argument("--mask-schedule", dest="schedule", choices=["linear", "cosine", "step", "constant"])
    method.add_argument("--p-start", type=float, help="masking probability at the first step")
    method.add_argument("--p-end", type=float, help="masking probability at the last step (and the constant p)")
    method.add_argument(
        "--fill",
        choices=["noise", "embedding"],
        help="masked columns: fixed noise in the pixels, or a learned embedding after the front end",
    )
    method.add_argument("--target", choices=["kmeans", "pixels"])
    method.add_argument("--clusters", type=positive_int, help="k-means clusters K")
    method.add_argument("--features", help="k-means features: pixels, untrained, or a model name/path")
    method.add_argument(
        "--feature-layer",
        type=int,
        help="with a model as --features: 0 = its front end, n = its tokens after n transformer layers",
    )
    method.add_argument("--kmeans-columns", type=positive_int, help="columns sampled to fit k-means")
    method.add_argument("--unmasked-weight", type=float, help="weight w of the loss on visible tokens (0: masked only)")
    method.add_argument("--max-width", type=positive_int, help="crop longer lines to this many pixels")
    add_loop_options(p, "the preset's", PRETRAIN_LOOP, result="the encoder")
    p.set_defaults(run=run)


METHOD_FIELDS = (
    "size",
    "schedule",
    "p_start",
    "p_end",
    "fill",
    "target",
    "clusters",
    "features",
    "feature_layer",
    "kmeans_columns",
    "unmasked_weight",
    "max_width",
)


def settings_from_args(args: argparse.Namespace):
    from dataclasses import replace

    from mspt_core.presets import pretrain_preset

    method, loop = pretrain_preset(args.preset, **given_options(args, METHOD_FIELDS))
    return method, replace(loop, device=args.device, **given_options(args, PRETRAIN_LOOP))


def open_store(data: list[Path], out: Path, height: int):
    from mspt_core.data.linestore import LineStore, build_line_store
    from mspt_core.train import distributed

    if len(data) == 1 and LineStore.is_store(data[0]):
        return LineStore(data[0])
    target = out / "lines"
    if not LineStore.is_store(target) and distributed.active():
        # The other ranks would wait in a barrier that times out long before a big archive is
        # segmented; building the store is a one-process job anyway.
        from mspt_core.errors import DataError

        raise DataError(
            "under torchrun, give a line store: build it first with "
            f"`mspt linestore build {' '.join(map(str, data))} --out STORE`"
        )
    if not LineStore.is_store(target):
        print(f"building a line store in {target} ...")
        store, skipped = build_line_store(data, target, height)
        assert store is not None  # None only when asked to stop, which nothing here does
        print_skipped(skipped)
        print(f"{len(store)} lines ({len(skipped)} skipped)")
    return LineStore(target)


def run(args: argparse.Namespace) -> int:
    from mspt_core.errors import DataError
    from mspt_core.model import config_for
    from mspt_core.pretrain import pretrain_encoder
    from mspt_core.train import distributed

    start_training(args)
    try:
        method, loop = settings_from_args(args)
        height = config_for(method.size).height
    except ValueError as error:
        raise DataError(str(error)) from error
    check_output_folder(args.out)
    distributed.init_from_env(args.device)
    try:
        store = open_store(args.data, args.out, height)
        main = distributed.is_main()
        bar = TrainingBar(loop.steps) if main else None
        outcome = pretrain_encoder(
            store, args.out, method, loop, on_progress=bar, resume=not args.no_resume, on_status=print if main else None
        )
        if main:
            result = outcome.result
            print(f"{result.status} after {result.step} steps")
            if outcome.encoder_path is not None:
                print(f"encoder: {outcome.encoder_path}")
                install(outcome.encoder_path, args)
        return 0 if outcome.result.status != "cancelled" else 1
    finally:
        distributed.shutdown()

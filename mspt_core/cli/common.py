"""Pieces shared by several subcommands: progress bars and common options."""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mspt_core.engines import ENGINES
from mspt_core.inputs import ground_truth_candidates

# --- option values: refused by argparse, naming the option, before any work ---------------------


def positive_int(text: str) -> int:
    return _whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0)


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least {least}, not {text!r}")
    return value


def positive_float(text: str) -> float:
    return _finite_number(text, zero_allowed=False)


def non_negative_float(text: str) -> float:
    return _finite_number(text, zero_allowed=True)


def share(text: str) -> float:
    """A share of things: a number from 0 to 1."""
    value = _finite_number(text, zero_allowed=True)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, not {text!r}")
    return value


def decay(text: str) -> float:
    """A moving average's decay: a number from 0 (no average) to below 1."""
    value = _finite_number(text, zero_allowed=True)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to below 1, not {text!r}")
    return value


def augment_strength(text: str) -> float:
    """How far augmentation moves the writing's shape: ``data.augment.checked_strength``'s range."""
    from mspt_core.data.augment import MAX_STRENGTH

    value = _finite_number(text, zero_allowed=False)
    if value > MAX_STRENGTH:
        raise argparse.ArgumentTypeError(f"must be a number above 0 and at most {MAX_STRENGTH:g}, not {text!r}")
    return value


def surest_share(text: str) -> float:
    """A share of lines to learn from: a ``share`` above 0."""
    value = share(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a share above 0 and at most 1, not {text!r}")
    return value


def _finite_number(text: str, zero_allowed: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and (value >= 0 if zero_allowed else value > 0)):  # nan and inf refused
        raise argparse.ArgumentTypeError(
            f"must be a number {'of at least' if zero_allowed else 'above'} 0, not {text!r}"
        )
    return value


def pdf_dpi(text: str) -> float:
    from mspt_core.images import MAX_DPI, MIN_DPI

    value = positive_float(text)
    if not MIN_DPI <= value <= MAX_DPI:
        raise argparse.ArgumentTypeError(f"must be between {MIN_DPI} and {MAX_DPI} dots per inch, not {text!r}")
    return value


def add_dpi_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dpi", type=pdf_dpi, default=300, help="rasterization resolution for PDF pages (default 300)")


def print_error(message: object) -> None:
    """One ``mspt: error:`` line on stderr, on a line of its own even if a progress bar is open."""
    if "tqdm" in sys.modules:
        from tqdm import tqdm

        for bar in list(getattr(tqdm, "_instances", ())):
            bar.close()  # ends the bar's line
    print(f"mspt: error: {printable(message)}", file=sys.stderr)


def print_note(message: object) -> None:
    print(f"mspt: note: {printable(message)}", file=sys.stderr)


def print_skipped(skipped: list[str], shown: int = 5) -> None:
    """Say which lines were left out and why: the first ``shown``, then how many more."""
    for reason in skipped[:shown]:
        print(f"skipped {reason}")
    if len(skipped) > shown:
        print(f"... {len(skipped) - shown} more lines skipped")


def printable(message: object) -> str:
    """``message`` with the bytes of a file name that is not UTF-8 escaped (\\xe9): printing it
    cannot fail."""
    return str(message).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")


def add_engine_option(parser: argparse.ArgumentParser) -> None:
    """``--engine``: the ``engine`` of ``LineRecognizer``."""
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="how a CPU reads: auto (ONNX Runtime where available, else PyTorch; the default, "
        "or $MSPT_ENGINE), torch, onnx, or onnx-int8 (int8 weights, fastest)",
    )


def add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        "-m",
        default=None,
        help="model name from `mspt models list`, a path, or auto (the default: the bundled print model, "
        "and the handwriting model for lines that look handwritten)",
    )


def add_height_option(parser: argparse.ArgumentParser) -> None:
    """``--height``: the pixel height line images are made at, by default the models' own."""
    from mspt_core.model.config import LINE_HEIGHT  # plain data: no torch

    parser.add_argument(
        "--height",
        type=int,
        default=LINE_HEIGHT,
        help=f"line image height in px (default {LINE_HEIGHT}, the height mspt's models read)",
    )


def named_sizes() -> str:
    """The recognizer sizes ``--size`` takes, in words: "tiny, fast, small, base or large"."""
    from mspt_core.model.config import SIZES  # plain data: no torch

    *most, last = SIZES
    return f"{', '.join(most)} or {last}"


def add_segmenter_option(parser: argparse.ArgumentParser, default: str | None = "auto", after: str = "") -> None:
    """``--segmenter``: the ``method`` of ``mspt_core.layout.segment`` (not imported here: it loads torch).
    ``default`` None: not given reads as None (a project's own line finder then); ``after`` ends the help."""
    parser.add_argument(
        "--segmenter",
        choices=["auto", "learned", "classical"],
        default=default,
        help="line finding: the bundled learned line finder, the classical method, or auto "
        + (after or "(learned where its model file is present, the default)"),
    )


def line_reader(args: argparse.Namespace, **options):
    """The reader of ``--model`` (``recognize.open_reader``: none given is ``auto``, print and
    handwriting line by line), ``--device``, ``--engine`` and ``--threads``; a model that cannot
    read as asked (``--head decoder`` on a CTC-only model) is an error naming the model."""
    from mspt_core.errors import ModelFileError
    from mspt_core.recognize import open_reader

    options.setdefault("language_model", not getattr(args, "no_language_model", False))
    try:
        return open_reader(args.model, device=args.device, engine=args.engine, threads=args.threads, **options)
    except ValueError as error:
        raise ModelFileError(f"{args.model or 'the automatic reader'}: {error}") from error


def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="CPU threads for torch and ONNX Runtime (default: all cores)"
    )


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--engine`` and ``--threads``: where and how a model reads."""
    add_device_option(parser)
    add_engine_option(parser)
    add_threads_option(parser)


def add_reader_options(parser: argparse.ArgumentParser, head: bool = True) -> None:
    """The options ``line_reader`` reads: the model, its beam, its head (where the command offers
    a choice) and ``add_runtime_options``."""
    add_model_option(parser)
    parser.add_argument(
        "--beam",
        type=non_negative_int,
        default=0,
        help="CTC beam width (0 or 1: greedy, the default, or the model's language model's beam)",
    )
    parser.add_argument(
        "--no-language-model",
        action="store_true",
        help="read without the character language model a model comes with (faster, usually less accurate)",
    )
    if head:
        parser.add_argument(
            "--head", choices=["ctc", "decoder"], default=None, help="head to read with (default: the model's)"
        )
    add_runtime_options(parser)


class TrainingBar:
    """tqdm bar fed by the training loop's progress callback. It is drawn at the first report, so
    a run refused before its first step ends with its error line alone."""

    def __init__(self, total: int, initial: int = 0, metric: str = "CER"):
        self.metric = metric
        self.total, self.initial = total, initial
        self._bar = None

    @property
    def bar(self):
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, initial=self.initial, unit="step", file=sys.stderr, dynamic_ncols=True)
        return self._bar

    def __call__(self, progress) -> None:
        if progress.event == "step":
            self.bar.n = progress.step
            postfix = {"loss": f"{progress.loss:.4f}", "lr": f"{progress.lr:.2e}"}
            if progress.best_metric is not None:
                postfix[f"best_{self.metric.split()[0].lower()}"] = f"{progress.best_metric:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.refresh()
        elif progress.event == "validation" and progress.step == 0:
            self.bar.write(f"base model: validation {self.metric} {progress.metric:.4f}")
        elif progress.event == "validation":
            self.bar.write(
                f"step {progress.step}: validation {self.metric} {progress.metric:.4f} "
                f"(best {progress.best_metric:.4f})"
            )
        elif self._bar is not None:
            self._bar.close()


def check_output_folder(folder: Path, output: Path | None = None) -> None:
    """Refuse, before any long work and without creating anything, an output folder that cannot
    be written: a file, a folder below a file, or a folder (or the nearest existing one above
    it) that refuses new files. The message names ``output`` (default: the folder)."""
    from mspt_core.errors import OutputError

    output = output or folder
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        where = "it is a file" if existing == output else f"{existing} is a file"
        raise OutputError(f"{output}: cannot write output there: {where}, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):  # gone when closed, even after a crash
            pass
    except OSError as error:
        raise OutputError(f"{output}: cannot write output there ({error.strerror})") from error


def check_output_file(path: Path) -> None:
    """``check_output_folder`` for one output file, which must not be a folder."""
    from mspt_core.errors import OutputError

    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name to write to")
    check_output_folder(path.parent, path)


def check_output_names(sources: Iterable[tuple[str, Path]], out_dir: Path) -> None:
    """Refuse, before any work, inputs whose outputs would overwrite each other or the input's
    own PAGE/ALTO file beside it. ``sources``: each input file with the name its outputs take in
    ``out_dir``, without suffix (its stem, or ``vol1/0001`` for a page in a walked folder)."""
    from mspt_core.errors import MsptError

    seen: dict[str, Path] = {}
    for name, source in sources:
        other = seen.setdefault(name, source)
        if other != source:
            raise MsptError(
                f"{other} and {source} would write the same output files in {out_dir}; "
                "rename one or run them separately"
            )
        target = (out_dir / f"{name}.xml").resolve()
        for own_xml in ground_truth_candidates(source):
            if target == own_xml.resolve() and own_xml.exists():
                raise MsptError(
                    f"{own_xml.resolve()} belongs to the input {source.name} and would be overwritten; "
                    "choose another --out"
                )


# --- supervised training (mspt train, mspt finetune) -------------------------------------------


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", nargs="+", type=Path, metavar="DATA", help="labelled training data")
    p.add_argument("--val", nargs="+", type=Path, default=None, help="validation data (default: split off DATA)")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of training lines held out for validation when --val is not given (default 0.1)",
    )
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        required=True,
        help="run folder: checkpoints and the best model (folder 'best') go here",
    )
    p.add_argument("--no-augment", action="store_true", help="train on the lines as they are")


# --- the training loop's options (mspt train, finetune, pretrain) ------------------------------

# Every loop option: a TrainSettings field, given as --field-name. Unset (None), the preset's
# value holds, so the defaults stay in mspt_core.presets.
LOOP_ARGUMENTS: dict[str, dict] = {
    "steps": {"type": positive_int},
    "batch_size": {"type": positive_int},
    "lr": {"type": positive_float},
    "warmup": {"type": non_negative_int},
    "schedule": {"choices": ["cosine", "constant"]},
    "accumulate": {"type": positive_int, "help": "batches per optimizer step"},
    "val_every": {"type": positive_int, "help": "validate (and checkpoint) every N steps"},
    "patience": {"type": non_negative_int, "help": "early stop after N validations without gain (0: off)"},
    "checkpoint_every": {"type": positive_int, "help": "write a checkpoint every N steps"},
    "ema_decay": {
        "type": decay,
        "metavar": "DECAY",
        "help": "validate and keep a moving average of the weights over the steps, about the last "
        "1/(1-DECAY) of them (e.g. 0.999); 0: the weights as trained",
    },
    "seed": {"type": int},
}
SUPERVISED_LOOP = (
    "steps",
    "batch_size",
    "lr",
    "warmup",
    "schedule",
    "accumulate",
    "val_every",
    "patience",
    "ema_decay",
    "seed",
)
PRETRAIN_LOOP = ("steps", "batch_size", "lr", "warmup", "accumulate", "checkpoint_every", "seed")


def add_loop_options(
    p: argparse.ArgumentParser, defaults: str, fields: tuple[str, ...] = SUPERVISED_LOOP, result: str = "the best model"
) -> None:
    """The training loop's options (``fields`` of ``LOOP_ARGUMENTS``; ``defaults`` says where the
    unset ones come from) and those of any training run: resume, install ``result``, device,
    threads."""
    loop = p.add_argument_group(f"training (default: {defaults})")
    for name in fields:
        loop.add_argument("--" + name.replace("_", "-"), default=None, **LOOP_ARGUMENTS[name])
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT holds a checkpoint")
    p.add_argument(
        "--install-as", default=None, metavar="NAME", help=f"also import {result} into the registry under NAME"
    )
    add_device_option(p)
    add_threads_option(p)


def given_options(args: argparse.Namespace, names: Iterable[str]) -> dict:
    """The options among ``names`` that were given (not None), by name: what overrides a preset."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def start_training(args: argparse.Namespace) -> None:
    """Before a training run: threads set, and an --install-as name checked now, not after hours."""
    set_threads(args.threads)
    if args.install_as:
        from mspt_core.models import check_new_name

        check_new_name(args.install_as)


def install(path: Path, args: argparse.Namespace) -> None:
    """Import a run's model into the registry when --install-as asks for it."""
    if args.install_as:
        from mspt_core.models import import_model

        entry = import_model(path, args.install_as)
        print(f"installed as {entry.name!r}")


def loop_settings(args: argparse.Namespace, preset):
    """TrainSettings: the options of ``add_loop_options`` over ``preset``'s (a TrainingPreset);
    bad values are the user's error."""
    from mspt_core.errors import DataError

    start_training(args)
    try:
        return preset.settings(**given_options(args, SUPERVISED_LOOP), device=args.device)
    except ValueError as error:
        raise DataError(str(error)) from error


def train_and_val_lines(args: argparse.Namespace, height: int, seed: int):
    """The training and validation LineSets the options of ``add_data_options`` name."""
    from mspt_core.data.lines import load_lines, split_off_validation, validation_warning

    train_set = load_lines(args.data, height)
    if args.val:
        val_set = load_lines(args.val, height)
    else:
        train_set, val_set = split_off_validation(train_set, args.val_fraction, seed)
    print_skipped(train_set.skipped)
    warning = validation_warning(val_set)
    if warning:
        print(f"mspt: warning: {warning}", file=sys.stderr)
    return train_set, val_set


def report_training(outcome, args: argparse.Namespace) -> int:
    """Print how a training run ended, install its model if asked; the exit code."""
    from mspt_core.models import read_metadata
    from mspt_core.train.supervised import BLENDED, KEPT_BASE

    result = outcome.result
    best = f"{result.best_metric:.4f}" if result.best_metric is not None else "n/a"
    print(f"{result.status} after {result.step} steps; best validation CER {best} at step {result.best_step}")
    if outcome.kept_base:
        tuned = f"{outcome.tuned_cer:.4f}" if outcome.tuned_cer is not None else "n/a"
        print(f"{KEPT_BASE} (base {best}, best after training {tuned})")
        print(f"model: {outcome.model_path} (a copy of the base model)")
        if args.install_as:
            print(f"nothing installed as {args.install_as!r}: use the base model")
        return 0 if result.status != "cancelled" else 1
    if outcome.added_chars:
        print(f"alphabet extended with: {''.join(outcome.added_chars)}")
    blend = outcome.blend
    kept = outcome.model_path.exists() and blend is None  # a run that selected blends keeps one
    selected_share = read_metadata(outcome.model_path).get(BLENDED) if kept else None
    if selected_share is not None:
        print(f"the kept model is the best blend toward the base ({selected_share:g} tuned)")
    if blend is not None:
        figure = f"validation CER {blend.val_cer:.4f}" if blend.val_cer is not None else "no validation lines"
        if blend.kept:
            print(f"the best model blended back toward the base ({blend.share:g} tuned): {figure}")
        else:
            print(f"the best model blended back toward the base read no better than the base ({figure}): not used")
    print(f"model: {outcome.model_path}")
    install(outcome.model_path, args)
    return 0 if result.status != "cancelled" else 1

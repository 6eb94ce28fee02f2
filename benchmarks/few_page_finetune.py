"""Fine-tuning on a few corrected pages of a hand the model never saw (issue 20).

For each document of a split with at least ``--min-pages`` pages, a model (default: the bundled
``default``) is fine-tuned on the document's first pages (at most five, always leaving one or
more) exactly as the app's fine-tune wizard does it: the few-pages preset of
``mspt_core.presets``, validated on 10 % of those lines, the best validation kept (and blended
back toward the base, as the preset's ``tuned_share`` says). Its line CER on the document's
remaining pages is printed before and after, with the CPU minutes spent, and also for the run's
last weights (what keeping the last step instead of the best validation would give: with the
3-8 validation lines of a few pages, which checkpoint is "best" is chance).

    .venv/bin/python benchmarks/few_page_finetune.py --split test                  # RESULTS.md
    .venv/bin/python benchmarks/few_page_finetune.py --split val --curve --lr 3e-4 1e-3 --steps 800
    .venv/bin/python benchmarks/few_page_finetune.py --split val --base handwriting --blend 0.25 0.5 0.75
    .venv/bin/python benchmarks/few_page_finetune.py --split val --base handwriting --encoder-lr-scale 0.1 0.3 1.0
    .venv/bin/python benchmarks/few_page_finetune.py --split val --base handwriting --train-widths 1 1.15 1-1.3
    .venv/bin/python benchmarks/few_page_finetune.py --split val --base handwriting --uncorrected-share 0 0.5
    .venv/bin/python benchmarks/few_page_finetune.py --split val --base handwriting --ema-decay 0 0.98
    .venv/bin/python benchmarks/few_page_finetune.py --split val --base handwriting --val-page
    .venv/bin/python benchmarks/few_page_finetune.py --split test --base handwriting --crop finder

``--curve`` (val split only) is how the preset was chosen: it validates on the remaining pages
every ``--val-every`` steps and prints that CER along the run, for each learning rate. Test
pages are never used for a choice. ``--blend`` also reads the remaining pages with the run's
last weights blended with the base's (weight-space ensembling: a tuned share ``a`` of each
weight; the preset's own blend of the kept model is what "CER after" reads), a cheap way to ask
whether a model nearer its base reads an unseen page better; ``--tuned-share`` overrides the
preset's. ``--encoder-lr-scale`` asks which layers should learn: the encoder (front end and
transformer) at that share of the learning rate, the reading head at all of it.
``--train-widths`` overrides how far the training lines are stretched across, as factors of
the width cut (the preset's are factors of the width the base reads at: its file's
``width_scale``, 1.15 for the handwriting model). ``--uncorrected-share`` asks whether the
pages nobody corrected teach too: the base reads the remaining pages (their text thrown away)
and the surest share of its readings joins the corrected training lines (self-training beside
fine-tuning, as ``mspt adapt`` learns; 0: none); "lines trained" then counts them too, and the
CER after is read on lines it learned from (with its own readings), as a person's next pages would be.
``--ema-decay`` asks whether an average of the weights over the steps reads better than the
weights of any one step (``mspt_core.train.ema``; validation, the kept model and "last weights"
read the average; 0: none). ``--val-page`` validates on the last corrected page, where there
are two or more, instead of a tenth of the corrected lines (the wizard's way). ``--crop finder``
cuts every line, trained on and read, as mspt reads lines that come with a page (along the line
finder's outline of each it finds whole: ``layout.outline``), close to how a person's pages that
mspt segmented are cut; by default along the ground truth's own outlines.
Documents are the sets' own sub-folders (one hand or one book each; SPLIT.tsv puts a document
in one split); pages are taken in natural name order."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

from common import CHOICE_CROPS, DATA, HANDWRITTEN, machine, pages_lines, split_xmls

MAX_ADAPT_PAGES = 5


@dataclass
class Document:
    dataset: str
    name: str
    pages: list[Path]

    @property
    def adapt_pages(self) -> list[Path]:
        return self.pages[: min(MAX_ADAPT_PAGES, len(self.pages) - 1)]

    @property
    def eval_pages(self) -> list[Path]:
        return self.pages[len(self.adapt_pages) :]


@dataclass
class Outcome:
    document: Document
    adapt_lines: int
    val_lines: int
    eval_lines: int
    before: float
    after: float
    last: float  # CER of the run's last weights, whichever checkpoint was kept
    steps: int
    best_step: int | None
    blend: str  # the kept model blended back toward the base: "used", "not used" or "-" (none made)
    cpu_minutes: float
    wall_minutes: float
    curve: list[tuple[int, float]] = field(default_factory=list)
    blended: dict[float, float] = field(default_factory=dict)  # tuned share -> CER of the last weights' blend


def natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def documents(split: str, sets: list[str], min_pages: int) -> list[Document]:
    found = []
    for dataset in sets:
        by_folder: dict[str, list[Path]] = {}
        for xml in split_xmls(DATA / dataset, split):
            by_folder.setdefault(xml.parent.name, []).append(xml)
        for name, pages in sorted(by_folder.items()):
            if len(pages) >= min_pages:
                found.append(Document(dataset, name, sorted(pages, key=natural_key)))
    return found


def line_cer(model_path: Path, lines) -> float:
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.supervised import lines_cer

    # PyTorch for before and after: the same arithmetic as the run's own validation.
    return lines_cer(LineRecognizer.from_model(str(model_path), device="cpu", engine="torch"), lines)


def last_weights(base: Path, work: Path, train_texts: list[str]):
    """The weights the run ended with (its final checkpoint; their average where the run
    averaged them, as it keeps), read as its base reads, with the base's charset extended for
    ``train_texts`` as the run extended it."""
    from mspt_core import tensorfile
    from mspt_core.models import load_model
    from mspt_core.train.checkpoint import CHECKPOINT
    from mspt_core.train.ema import WeightAverage

    loaded, _ = load_model(base).extended_for(train_texts)
    file = tensorfile.open_file(work / CHECKPOINT, "checkpoint")
    tensors, state = file.tensors(), file.json("state")
    loaded.model.load_state_dict({k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")})
    decay = state["settings"].get("ema_decay")
    if decay:
        average = WeightAverage(loaded.model, decay)
        if average.restore(tensors, state["ema_updates"], decay):
            average.keep_in(loaded.model)
    return loaded


def loaded_cer(loaded, lines) -> float:
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.supervised import lines_cer

    return lines_cer(LineRecognizer(loaded, device="cpu", engine="torch"), lines)


def blended_cers(base: Path, work: Path, lines, train_texts: list[str], shares: list[float]) -> dict[float, float]:
    """CER of the run's last weights blended with the base's (``mspt_core.train.blend``), for
    each tuned share."""
    from mspt_core.models import load_model
    from mspt_core.train.blend import blend_with_base

    plain = load_model(base)
    base_classes = len(plain.charset)  # before the extension below grows it
    reference, _ = plain.extended_for(train_texts)
    found = {}
    for share in shares:
        tuned = last_weights(base, work, train_texts)
        blend_with_base(tuned.model, reference.model, share, base_classes)
        found[share] = loaded_cer(tuned, lines)
    return found


def fine_tune(
    document: Document,
    base: Path,
    overrides: dict,
    curve: bool,
    work: Path,
    blend: list[float],
    tuned_share: float | None,
    encoder_lr_scale: float | None = None,
    train_widths: tuple[float, float] | None = None,
    uncorrected_share: float | None = None,
    val_page: bool = False,
    select_blended: bool = False,
    crop: str = "polygon",
) -> Outcome:
    from mspt_core.data.lines import split_off_validation
    from mspt_core.presets import FINETUNE, training_preset
    from mspt_core.train.supervised import train_recognizer, widths_as_read

    preset = training_preset(FINETUNE)
    settings = preset.settings(device="cpu", **overrides)
    from mspt_core.models import read_metadata

    height = read_metadata(base)["line_height"]  # the base model's, as the wizard's run cuts them
    adapt, held_out = pages_lines(document.adapt_pages, height, crop), pages_lines(document.eval_pages, height, crop)
    train_set, val_set = split_off_validation(adapt, 0.1, settings.seed)  # the wizard's default
    if val_page and len(document.adapt_pages) >= 2:  # the last corrected page validates
        train_set = pages_lines(document.adapt_pages[:-1], height, crop)
        val_set = pages_lines(document.adapt_pages[-1:], height, crop)
    if curve:
        train_set, val_set = adapt, held_out  # val only: where does CER on unseen pages stop falling?
    if uncorrected_share:
        train_set = with_surest_readings(train_set, base, held_out, uncorrected_share)
    before = line_cer(base, held_out)
    points: list[tuple[int, float]] = []

    def watch(progress) -> None:
        if progress.event == "validation" and progress.metric is not None:
            points.append((progress.step, progress.metric))

    cpu, wall = time.process_time(), time.monotonic()
    outcome = train_recognizer(
        train_set,
        val_set,
        work,
        settings,
        base_model=base,
        on_progress=watch,
        resume=False,
        use_augmentation=preset.augment,
        data_description=f"{document.dataset}/{document.name}: first {len(document.adapt_pages)} pages",
        tuned_share=preset.tuned_share if tuned_share is None else tuned_share,
        encoder_lr_scale=preset.encoder_lr_scale if encoder_lr_scale is None else encoder_lr_scale,
        train_widths=widths_as_read(preset.widths_as_read, base) if train_widths is None else train_widths,
        select_blended=select_blended,
    )
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    after = line_cer(outcome.model_path, held_out)
    last = loaded_cer(last_weights(base, work, train_set.texts), held_out)
    blended = blended_cers(base, work, held_out, train_set.texts, blend) if blend else {}
    return Outcome(
        document,
        len(train_set),
        len(val_set),
        len(held_out),
        before,
        after,
        last,
        outcome.result.step,
        outcome.result.best_step,
        blend_verdict(outcome, select_blended),
        cpu / 60,
        wall / 60,
        points,
        blended,
    )


def blend_verdict(outcome, select_blended: bool) -> str:
    """The table's blend column: how the kept model was blended back toward the base."""
    if select_blended:
        return "selected" if not outcome.kept_base else "-"
    return "-" if outcome.blend is None else ("used" if outcome.blend.kept else "not used")


def with_surest_readings(train_set, base: Path, uncorrected, share: float):
    """``train_set`` and the surest ``share`` of the ``uncorrected`` lines as ``base`` reads them
    (their own texts thrown away; ``train.self_training.read_surest``)."""
    from mspt_core.data.lines import LineSet
    from mspt_core.recognize import LineRecognizer
    from mspt_core.train.self_training import read_surest

    reader = LineRecognizer.from_model(str(base), device="cpu", engine="torch")
    return LineSet(train_set.samples + read_surest(reader, uncorrected, share).samples)


def width_range(text: str) -> tuple[float, float]:
    """``1.15`` -> (1.15, 1.15); ``1-1.3`` -> (1.0, 1.3)."""
    from mspt_core.train.supervised import checked_train_widths

    low, _, high = text.partition("-")
    try:
        return checked_train_widths((low, high or low))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def table(outcomes: list[Outcome]) -> str:
    out = [
        "| set | document | pages trained / read | lines trained / val / read | CER before | CER after "
        "| CER, last weights | steps (best) | blend | CPU min | wall min |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        d = o.document
        out.append(
            f"| {d.dataset} | {d.name} | {len(d.adapt_pages)} / {len(d.eval_pages)} | "
            f"{o.adapt_lines} / {o.val_lines} / {o.eval_lines} | {o.before:.2%} | {o.after:.2%} | "
            f"{o.last:.2%} | {o.steps} ({o.best_step}) | {o.blend} | {o.cpu_minutes:.1f} | {o.wall_minutes:.1f} |"
        )
    if outcomes:
        weights = sum(o.eval_lines for o in outcomes)
        before = sum(o.before * o.eval_lines for o in outcomes) / weights
        after = sum(o.after * o.eval_lines for o in outcomes) / weights
        last = sum(o.last * o.eval_lines for o in outcomes) / weights
        out.append(
            f"| all | {len(outcomes)} documents (mean weighted by lines read) | | | {before:.2%} | {after:.2%} "
            f"| {last:.2%} | | | |"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["val", "test"], required=True)
    parser.add_argument("--sets", nargs="+", default=list(HANDWRITTEN))
    parser.add_argument("--min-pages", type=int, default=2, help="documents with fewer pages are left out (default 2)")
    parser.add_argument("--base", default="default", help="model to fine-tune: name or path (default: default)")
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument(
        "--lr", type=float, nargs="+", help="override the preset's learning rate (several: one run each)"
    )
    parser.add_argument("--val-every", type=int, help="override the preset's validation interval")
    parser.add_argument("--curve", action="store_true", help="validate on the remaining pages (val split only)")
    parser.add_argument("--documents", nargs="+", help="only these documents (folder names)")
    parser.add_argument(
        "--blend", type=float, nargs="+", help="also read with the last weights blended with the base's: tuned shares"
    )
    parser.add_argument("--tuned-share", type=float, help="override the preset's blend of the kept model (1: none)")
    parser.add_argument(
        "--encoder-lr-scale",
        type=float,
        nargs="+",
        help="override the preset's share of the learning rate the encoder learns at (several: one run each)",
    )
    parser.add_argument(
        "--train-widths",
        type=width_range,
        nargs="+",
        metavar="LOW[-HIGH]",
        help="override the preset's stretch of the training lines, as factors of the width cut (the preset's are "
        "of the width the base reads at): a factor (1.15) or a range (1-1.3); several: one run each",
    )
    parser.add_argument(
        "--uncorrected-share",
        type=float,
        nargs="+",
        help="also learn from the base's surest readings of the remaining pages, this share of their lines "
        "(self-training beside the corrected lines; several: one run each)",
    )
    parser.add_argument(
        "--ema-decay",
        type=float,
        nargs="+",
        help="override the preset's weight average: its decay, 0 for none (several: one run each)",
    )
    parser.add_argument(
        "--val-page",
        action="store_true",
        help="validate on the last corrected page (where there are two or more) instead of a tenth of the lines",
    )
    parser.add_argument(
        "--select-blended",
        action="store_true",
        help="every validation reads the weights blended toward the base at the tuned share, the best blend kept "
        "(instead of the best step, blended once at the end)",
    )
    parser.add_argument(
        "--crop",
        choices=CHOICE_CROPS,
        default="polygon",
        help="cut the lines, trained on and read, along their own outlines (default) or as mspt reads lines "
        'that come with a page: along the line finder\'s outline of each it finds (data.lines, "finder")',
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.curve and args.split != "val":
        parser.error("--curve reads the remaining pages during training: val split only")
    if args.select_blended and args.tuned_share is not None and not 0 < args.tuned_share < 1:
        parser.error("--select-blended reads a blend: --tuned-share must lie between 0 and 1")
    import torch

    from mspt_core.devices import autocast_dtype, training_label
    from mspt_core.models import resolve

    torch.set_num_threads(args.threads)
    base = resolve(args.base)
    chosen = documents(args.split, args.sets, args.min_pages)
    if args.documents:
        chosen = [d for d in chosen if d.name in args.documents]
    print(f"# Few-page fine-tuning, {args.split} split, {dt.date.today()}")
    cpu = torch.device("cpu")
    trains_on = training_label(cpu, autocast_dtype(cpu))  # a new run's choice
    print(f"machine: {machine()}; {args.threads} thread(s); trains on {trains_on}; base {base}")
    print(f"command: {' '.join(sys.argv)}\n")
    grid = product(
        args.lr or [None],
        args.encoder_lr_scale or [None],
        args.train_widths or [None],
        args.uncorrected_share or [None],
        args.ema_decay or [None],
    )
    for lr, scale, widths, uncorrected, ema_decay in grid:
        given = (("steps", args.steps), ("lr", lr), ("val_every", args.val_every), ("ema_decay", ema_decay))
        overrides = {k: v for k, v in given if v is not None}
        outcomes = []
        for document in chosen:
            with tempfile.TemporaryDirectory(prefix="mspt-fewpage-") as work:
                outcome = fine_tune(
                    document,
                    base,
                    overrides,
                    args.curve,
                    Path(work),
                    args.blend or [],
                    args.tuned_share,
                    scale,
                    widths,
                    uncorrected,
                    args.val_page,
                    args.select_blended,
                    args.crop,
                )
            outcomes.append(outcome)
            print(f"  {document.dataset}/{document.name}: {outcome.before:.2%} -> {outcome.after:.2%}", flush=True)
            if outcome.blended:
                print(
                    "    last weights blended with the base, tuned share: "
                    + ", ".join(f"{a:g}: {c:.2%}" for a, c in outcome.blended.items())
                )
            if args.curve:
                print("    held-out CER by step: " + ", ".join(f"{s}: {c:.2%}" for s, c in outcome.curve), flush=True)
        changed = {
            **overrides,
            **({"tuned_share": args.tuned_share} if args.tuned_share is not None else {}),
            **({"encoder_lr_scale": scale} if scale is not None else {}),
            **({"train_widths": widths} if widths is not None else {}),
            **({"uncorrected_share": uncorrected} if uncorrected is not None else {}),
            **({"val_page": True} if args.val_page else {}),
            **({"select_blended": True} if args.select_blended else {}),
            **({"crop": args.crop} if args.crop != "polygon" else {}),
        }
        print(f"\n## settings: the few-pages preset with {changed or 'nothing'} changed\n")
        print(table(outcomes) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

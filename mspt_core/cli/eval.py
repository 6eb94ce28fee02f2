"""mspt eval: CER and WER of a model on labelled lines, with the worst lines listed."""

from __future__ import annotations

import argparse
from pathlib import Path

from mspt_core.cli.common import add_reader_options, check_output_file, line_reader, non_negative_int, set_threads


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "eval",
        help="character and word error rates on labelled lines",
        description="Evaluate a model on ALTO/PAGE files, image+txt pairs or folders.",
    )
    p.add_argument("data", nargs="+", type=Path, metavar="DATA")
    add_reader_options(p)
    p.add_argument("--worst", type=non_negative_int, default=10, help="list this many worst lines (default 10)")
    p.add_argument("--report", type=Path, default=None, help="write every line's errors to this TSV file")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    from mspt_core.data.lines import load_lines
    from mspt_core.metrics import error_report

    set_threads(args.threads)
    if args.report:
        check_output_file(args.report)
    reader = line_reader(args, beam=args.beam, head=args.head)
    lines = load_lines(args.data, reader.height)
    started = time.perf_counter()
    hypotheses = [r.text for r in reader.read(lines.images)]
    seconds = time.perf_counter() - started
    report = error_report(lines.texts, hypotheses)
    print(f"lines\t{len(lines)}\nskipped\t{len(lines.skipped)}\nchars\t{report.chars}")
    print(f"CER\t{report.cer:.4f}\nWER\t{report.wer:.4f}\nlines/s\t{len(lines) / seconds:.1f}")
    for error in report.worst(args.worst):
        if error.char_errors:
            print(f"  {error.cer:.3f}\t{error.reference}\n\t{error.hypothesis}")
    if args.report:
        from mspt_core.atomic import atomic_write

        rows = ["source\tcer\tchar_errors\treference\thypothesis"]
        rows += [
            f"{s.source}\t{e.cer:.4f}\t{e.char_errors}\t{e.reference}\t{e.hypothesis}"
            for s, e in zip(lines.samples, report.lines, strict=True)
        ]
        atomic_write(args.report, ("\n".join(rows) + "\n").encode("utf-8"))
    return 0

"""mspt synth: synthetic training lines (or pages) from installed corpora and fonts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mspt_core.cli.common import add_height_option, share

LANGUAGES = ("en", "fr", "de", "cs", "la")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "synth",
        help="render synthetic text lines (or pages) for training",
        description="Render text from installed corpora (Debian fortunes, word lists, licences, "
        "documentation; or --text files) with the installed fonts and scan-like "
        "degradation. Lines are written as NAME.png + NAME.gt.txt pairs (what "
        "`mspt train` reads) or, with --store, as an unlabeled line store for "
        "pre-training; --pages writes whole pages with PAGE XML ground truth. Sample "
        "i depends only on --seed and i, so any --workers gives the same files.",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (created)")
    p.add_argument("--count", type=int, default=1000, help="number of lines (default 1000)")
    add_height_option(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--lang",
        default=",".join(LANGUAGES),
        metavar="LIST",
        help=f"comma-separated corpus languages (default {','.join(LANGUAGES)})",
    )
    p.add_argument(
        "--text",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="use these UTF-8 text files as the corpus instead of the installed ones",
    )
    p.add_argument(
        "--fonts", type=Path, nargs="+", metavar="DIR", help="font folders to use instead of the installed fonts"
    )
    p.add_argument(
        "--categories",
        metavar="LIST",
        help="only these font categories: serif, oldstyle, sans, typewriter, blackletter, "
        "handwriting (comma-separated)",
    )
    p.add_argument("--strength", type=float, default=1.0, help="degradation strength, 0 = clean renders (default 1)")
    p.add_argument(
        "--dialogue",
        type=share,
        default=0.0,
        metavar="SHARE",
        help="share of lines punctuated as printed speech: quotation marks of the line's language, "
        "unspaced dashes (default 0)",
    )
    p.add_argument(
        "--charset", metavar="TEXT_OR_FILE", help="also render every character of this string (or file) with 2 fonts"
    )
    p.add_argument(
        "--store",
        action="store_true",
        help="write an unlabeled line store (for pretrain) instead of image + text pairs",
    )
    p.add_argument(
        "--pages", type=int, default=0, metavar="N", help="write N whole pages (PNG + PAGE XML + .txt) instead of lines"
    )
    p.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    p.add_argument("--list-fonts", action="store_true", help="list the usable fonts and exit")
    p.set_defaults(run=run)


def _font_set(args):
    from mspt_core.data.synth import FontSet

    categories = args.categories.split(",") if args.categories else None
    return FontSet.installed(args.fonts, categories)


def _corpus(args):
    from mspt_core.data.synth import Corpus

    if args.text:
        return Corpus.from_files(args.text, dialogue=args.dialogue)
    return Corpus.installed([code.strip() for code in args.lang.split(",") if code.strip()], args.dialogue)


_WORKER = None  # the synthesizer of a worker process


def _init_worker(args) -> None:
    global _WORKER
    from mspt_core.data.synth import LineSynthesizer

    _WORKER = LineSynthesizer(_corpus(args), _font_set(args), args.height, args.strength)


def _make_line(job: tuple[int, int]):
    import numpy as np

    seed, index = job
    assert _WORKER is not None, "the pool's initializer makes the synthesizer"
    return index, _WORKER.sample(np.random.default_rng((seed, 0, index)))


def _lines(args):
    """(index, SynthLine) in index order, from ``args.workers`` processes."""
    jobs = ((args.seed, i) for i in range(args.count))
    if args.workers <= 1:
        _init_worker(args)
        yield from map(_make_line, jobs)
        return
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(args.workers, _init_worker, (args,)) as pool:
        yield from pool.imap(_make_line, jobs, chunksize=16)


def _write_pairs(args, lines) -> int:
    from mspt_core.atomic import atomic_write

    width = max(6, len(str(args.count)))
    with open(args.out / "manifest.tsv", "w", encoding="utf-8") as manifest:
        manifest.write("name\tlanguage\tfont\ttext\n")
        for count, (index, line) in enumerate(lines, 1):
            name = f"{index:0{width}d}"
            _save_png(line.image, args.out / f"{name}.png")
            atomic_write(args.out / f"{name}.gt.txt", (line.text + "\n").encode("utf-8"))
            manifest.write(f"{name}\t{line.language}\t{line.font}\t{line.text}\n")
            _progress(count, args.count)
    return 0


def _write_store(args, lines) -> int:
    from mspt_core.data.linestore import LineStoreWriter

    writer = LineStoreWriter(args.out, args.height)
    with open(args.out / "texts.txt", "w", encoding="utf-8") as texts:
        for count, (_, line) in enumerate(lines, 1):
            writer.add(line.image)
            texts.write(line.text + "\n")  # in store order, for whoever wants the labels
            _progress(count, args.count)
    writer.close()
    return 0


def _write_pages(args) -> int:
    import numpy as np

    from mspt_core.data.synth import render_page
    from mspt_core.errors import DataError
    from mspt_core.formats import write_document

    corpus, fonts = _corpus(args), _font_set(args)
    for index in range(args.pages):
        rng = np.random.default_rng((args.seed, 2, index))
        for _ in range(50):
            language = corpus.languages[int(rng.integers(len(corpus.languages)))]
            paragraphs = [
                corpus.passage(rng, int(rng.integers(150, 900)), language) for _ in range(int(rng.integers(3, 9)))
            ]
            heading = [corpus.passage(rng, int(rng.integers(10, 40)), language)]
            faces = fonts.covering(" ".join(heading + paragraphs))
            if faces:
                break
        else:
            raise DataError("no installed font can draw a whole page of this corpus")
        face = fonts.pick(" ".join(heading + paragraphs), rng)
        name = f"page-{index:04d}"
        image, page = render_page(paragraphs, face, rng, heading=heading, page_id=name, whole_paragraphs=True)
        png = args.out / f"{name}.png"
        _save_png(image, png)
        page.image_path = png.resolve()
        write_document(page, args.out / f"{name}.xml", "page")
        (args.out / f"{name}.txt").write_text(page.text + "\n", encoding="utf-8")
        print(f"{png}\t{face.name}\t{sum(1 for _ in page.lines())} lines")
    return 0


def _write_charset(args) -> int:
    import numpy as np

    from mspt_core.atomic import atomic_write
    from mspt_core.data.synth import cover_charset

    source = Path(args.charset)
    chars = source.read_text(encoding="utf-8") if source.is_file() else args.charset
    lines = cover_charset(
        chars,
        np.random.default_rng((args.seed, 1)),
        _font_set(args),
        _corpus(args),
        height=args.height,
        strength=args.strength,
    )
    folder = args.out / "charset"
    folder.mkdir(parents=True, exist_ok=True)
    for i, line in enumerate(lines):
        _save_png(line.image, folder / f"{i:06d}.png")
        atomic_write(folder / f"{i:06d}.gt.txt", (line.text + "\n").encode("utf-8"))
    covered = {ch for ch in chars if not ch.isspace()}
    print(f"{folder}: {len(lines)} lines covering {len(covered)} characters")
    return 0


def _save_png(image, path: Path) -> None:
    import cv2

    if not cv2.imwrite(str(path), image):
        from mspt_core.errors import DataError

        raise DataError(f"{path}: cannot write the image")


def _progress(done: int, total: int) -> None:
    if done % 500 == 0 or done == total:
        sys.stderr.write(f"\r{done}/{total} lines")
        if done == total:
            sys.stderr.write("\n")


def _list_fonts(args) -> int:
    fonts = _font_set(args)
    for face in fonts.faces:
        print(f"{face.category}\t{face.family}\t{face.style}\t{len(face.codepoints)}\t{face.path}")
    families = {f.family for f in fonts.faces}
    print(f"{len(fonts.faces)} faces in {len(families)} families", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from mspt_core.errors import DataError

    if args.list_fonts:
        return _list_fonts(args)
    if args.out is None:
        raise DataError("--out DIR is required")
    if args.count < 0 or args.pages < 0 or args.height < 8:
        raise DataError("--count and --pages must be >= 0 and --height >= 8")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.pages:
        return _write_pages(args)
    if args.charset:
        _write_charset(args)
    if args.count == 0:
        return 0
    return (_write_store if args.store else _write_pairs)(args, _lines(args))

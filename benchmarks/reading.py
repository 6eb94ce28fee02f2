"""Reading ground truth with mspt, Tesseract and PP-OCRv6, timed, on the same inputs: the pieces
that line_recognition.py, recognizer.py and segmentation.py share.

Lines: ground-truth lines cut from the page at their own pixel height, in one of ``CROPS``:
"polygon" (masked along the polygon and straightened along the baseline by ``crop_line``, the
same cut as training data), "box" (the bounding rectangle plus ``BOX_MARGIN`` px, unmasked, by
``crop_box``) or "finder" (as ``mspt transcribe`` cuts lines that come with a page: along the
line finder's outline of the line where it finds it, ``layout.outline``, else as "polygon").
mspt scales them to its model height; Tesseract gets them as PNGs with a white
border, PP-OCRv6 as PNGs as they are. mspt at N threads is one process with
``torch.set_num_threads(N)`` and ONNX Runtime reading N lines at once, one thread each;
Tesseract at N threads is N single-threaded processes (``OMP_THREAD_LIMIT=1``) each reading its share from a list file;
PP-OCRv6 at N threads is one process with N intra-op threads (see ppocr_reader.py). Timing covers
reading only (mspt and PP-OCRv6 after a warm-up batch; Tesseract including its N process starts),
not cropping or writing files.

Pages: the reference is the page's ground-truth lines; both systems segment the page image
themselves. Every text, line or page, is compared after ``normalized``."""

from __future__ import annotations

import logging
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import ppocr_reader
import tesseract
from common import PARTIAL_GROUND_TRUTH

from mspt_core.document import Line, Page, Point, box_polygon
from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.crop import crop_box, crop_line
from mspt_core.layout.evaluate import judged
from mspt_core.layout.outline import reading_outlines
from mspt_core.metrics import error_report

CROPS = ("polygon", "box", "finder")
BOX_MARGIN = 4
NORMALIZATION = (
    "NFC, all whitespace (line breaks, form feeds, runs of spaces) collapsed to single "
    "spaces and stripped; pages in the reading order each system gives; no de-hyphenation, "
    "case and punctuation kept"
)


@dataclass
class Row:
    reader: str
    threads: int
    cer: float
    wer: float
    per_second: float


def timed(fn: Callable, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def normalized(text: str) -> str:
    """A text as compared: see NORMALIZATION."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def score(reader: str, threads: int, references: Sequence[str], hypotheses: Sequence[str], seconds: float) -> Row:
    """CER, WER and items per second of one reading of ``references``."""
    report = error_report([normalized(t) for t in references], [normalized(t) for t in hypotheses])
    return Row(reader, threads, report.cer, report.wer, len(references) / seconds)


# ------------------------------------------------------------------------------------- inputs


def crop(grey, line, style: str = "polygon", margin: int = BOX_MARGIN):
    """One ground-truth line at its own pixel height, "polygon" or "box" (see CROPS); ``margin``:
    a box crop's. (A "finder" crop is a "polygon" crop of the line's found outline.)"""
    _, top, _, bottom = line.bbox()
    if style == "polygon":
        return crop_line(grey, line, max(8, round(bottom - top)))
    return crop_box(grey, line, height=None, margin=margin)


def native_crops(
    xmls: Iterable[Path], limit: int | None = None, style: str = "polygon"
) -> tuple[list, list[str], list[Path]]:
    """Ground-truth line crops (see ``crop``), their texts, and the XML each came from; at most
    ``limit`` lines, in split order."""
    images, texts, sources = [], [], []
    for xml in xmls:
        page = read_document(xml)
        grey = load_grey(page.image_path)
        every = list(page.lines())  # paired all at once, as mspt transcribe pairs them
        cut_along = reading_outlines(grey, every, strict=True) if style == "finder" else every
        for line, outline in zip(every, cut_along, strict=True):
            if limit is not None and len(images) >= limit:
                return images, texts, sources
            if not line.text.strip():
                continue
            images.append(crop(grey, outline, "box" if style == "box" else "polygon"))
            texts.append(line.text)
            sources.append(xml)
    return images, texts, sources


def reference_pages(xmls: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Page images of ground-truth files and each page's true text (lines in file order)."""
    images, references = [], []
    for xml in xmls:
        page = read_document(xml)
        images.append(page.image_path)
        references.append("\n".join(line.text for line in page.lines()))
    return images, references


def in_page_order(page: Page) -> tuple[list[Line], int]:
    """The ground truth's lines with the slips of its own reading order put right, and how many
    swaps that took. Where a region lists a line and then one in the same column lying wholly
    above it (the next line's middle above the first's top, and the first's middle below the
    next's bottom), the two trade places, until no such pair is left. Some tools write such
    orders: TAPUSCORPUS lists an indented paragraph's second line before its first, the OCR-D
    files a paragraph's short last line right after its first lines (train pages). An addition
    written above a line and listed after it is moved before it too."""
    lines, swaps = [], 0
    for region in page.regions:
        own = list(region.lines)
        moved = True
        while moved:
            moved = False
            for k in range(len(own) - 1):
                if not (own[k].polygon or own[k].baseline) or not (own[k + 1].polygon or own[k + 1].baseline):
                    continue  # a line with no outline stays where it is listed
                first, then = own[k].bbox(), own[k + 1].bbox()
                same_column = min(first[2], then[2]) > max(first[0], then[0])
                if same_column and (then[1] + then[3]) / 2 < first[1] and (first[1] + first[3]) / 2 > then[3]:
                    own[k], own[k + 1] = own[k + 1], own[k]
                    swaps += 1
                    moved = True
        lines += own
    return lines, swaps


def judged_near(name: str, xmls: Iterable[Path]) -> list[list[list[Point]]] | None:
    """Where set ``name``'s ground truth transcribes only some lines (``PARTIAL_GROUND_TRUTH``),
    each page's given line outlines, for judging a page read by its own segmentation only near
    them (``near`` below); None for a set transcribed in full."""
    if name not in PARTIAL_GROUND_TRUTH:
        return None
    return [[line.polygon for line in read_document(xml).lines()] for xml in xmls]


def _judged_texts(
    pages: Sequence[Sequence[tuple[list[Point], str]]], near: Sequence[list[list[Point]]] | None
) -> list[str]:
    """Each page's text from its (outline, text) lines in reading order; with ``near``, only the
    lines ``evaluate.judged`` keeps against the page's given outlines, as the F1 table counts them."""
    if near is not None:
        pages = [judged(given, lines, outline=lambda line: line[0]) for lines, given in zip(pages, near, strict=True)]
    return ["\n".join(text for _, text in lines) for lines in pages]


# --------------------------------------------------------------------------------------- mspt


def describe(model_path: Path) -> tuple[str, str]:
    """A short label for tables and a sentence on what the model is and was trained on."""
    from mspt_core import choose
    from mspt_core.models import read_metadata

    if str(model_path) == choose.AUTO:
        classifier = choose.load_classifier(choose.bundled_path())
        return "mspt auto", (
            "the automatic reader: every line seen by the bundled default, the lines its script classifier "
            f"judges handwritten (threshold {classifier.threshold})"
            + (
                f" and those the default reads unsurely (mean character confidence below {classifier.unsure_below})"
                if classifier.unsure_below
                else ""
            )
            + " read by the bundled handwriting model instead "
            f"(chosen on {len(classifier.metadata['provenance']['threshold_chosen_on'])} val splits)"
        )

    meta = read_metadata(model_path)
    prov = meta.get("provenance", {})
    size = prov.get("settings", {}).get("size") or _size_name(meta.get("config", {}))
    head = meta.get("config", {}).get("head", "?")
    label = f"mspt {meta.get('name', model_path.name)} ({size}, {head})"
    about = (
        f"{model_path} — {meta.get('parameters', 0) / 1e6:.1f} M parameters, created "
        f"{prov.get('created', '?')}, trained on: {prov.get('data', '?')} "
        f"({prov.get('train_lines', '?')} lines), val CER {prov.get('val_cer', float('nan')):.2%}"
    )
    return label, about


def _size_name(config: dict) -> str:
    """The named size whose settings a model's config has (a model trained on from a base
    records no size of its own), "NAME, N layers" for one deepened from it, or "?"."""
    from mspt_core.model.config import SIZES

    def but_layers(settings: dict) -> dict:
        return {k: v for k, v in settings.items() if k != "layers"}

    named = [name for name, sized in SIZES.items() if sized.to_json() == config]
    if named:
        return named[0]
    for name, sized in SIZES.items():
        if but_layers(sized.to_json()) == but_layers(config):
            return f"{name}, {config.get('layers')} layers"
    return "?"


class EngineUnavailable(RuntimeError):
    pass


class _Warnings(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def mspt_reader(loaded, engine: str | None, threads: int, language_model: bool = True):
    """A CPU LineRecognizer of ``loaded`` (or the automatic reader, where ``loaded`` is
    ``choose.AUTO``) reading with ``engine`` ("torch", "onnx", "onnx-int8"; None: what
    ``mspt transcribe`` uses) at ``threads`` threads, with the language model its file names
    unless ``language_model`` is False. Raises EngineUnavailable where this reader falls back
    to another."""
    import torch

    from mspt_core import choose
    from mspt_core.recognize import LineRecognizer

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    caught = _Warnings()
    logging.getLogger("mspt_core").addHandler(caught)
    try:
        if loaded == choose.AUTO:
            reader = choose.choosing_reader(
                "cpu", engine=engine or "auto", threads=threads, language_model=language_model
            )
        else:
            reader = LineRecognizer(
                loaded, device="cpu", engine=engine or "auto", threads=threads, language_model=language_model
            )
    finally:
        logging.getLogger("mspt_core").removeHandler(caught)
    got = reader.engine
    if engine is not None and got != engine:
        raise EngineUnavailable(
            f"LineRecognizer read with {got} instead: {'; '.join(caught.messages) or 'no reason given'}"
        )
    return reader


def mspt_lines(reader, label: str, images: Sequence, texts: Sequence[str], threads: int) -> Row:
    """Line CER/WER and lines/s of a reader made by ``mspt_reader`` at ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    reader.read(list(images[:8]))  # warm-up
    readings, seconds = timed(reader.read, images)
    return score(label, threads, texts, [r.text for r in readings], seconds)


def mspt_pages(
    model_path: Path,
    label: str,
    images: Sequence[Path],
    references: Sequence[str],
    threads: int,
    engine: str | None = None,
    use_ground_truth: bool = False,
    near: Sequence[list[list[Point]]] | None = None,
) -> Row:
    """Whole pages through ``pipeline.transcribe`` (what ``mspt transcribe --no-ground-truth``
    runs): our own segmentation, then recognition (the label gets the engine read with). Speed
    is pages/s including image loading. With ``use_ground_truth`` the lines of the PAGE/ALTO file
    beside each image are read instead (every one of them, their own text thrown away), cut along
    their own outlines (``mspt transcribe --given-outlines``): what our segmentation is compared with.
    ``near`` (``judged_near``): each page's text keeps only the lines found near a given one."""
    from mspt_core.document import LineStatus
    from mspt_core.models import AUTO, load_model
    from mspt_core.pipeline import transcribe

    reader = mspt_reader(AUTO if str(model_path) == AUTO else load_model(model_path), engine, threads)
    # reread: ground-truth text counts as corrected, and corrected lines are otherwise kept
    pages, seconds = timed(
        lambda: transcribe(
            images, reader, use_ground_truth=use_ground_truth, reread=use_ground_truth, finder_outlines=False
        )
    )
    if use_ground_truth and (lost := [p.image_path for p in pages if p.metadata.get("segmentation") != "ground truth"]):
        raise RuntimeError(f"no ground truth found beside {lost[0]}")
    # a line that could not be cut keeps the ground truth's text: it reads as nothing instead
    hyps = _judged_texts(
        [
            [(line.polygon, line.text if line.status == LineStatus.RECOGNIZED else "") for line in p.lines()]
            for p in pages
        ],
        near,
    )
    return score(f"{label} {getattr(reader, 'engine', 'torch')}", threads, references, hyps, seconds)


# -------------------------------------------------------------------------------------- peers


def tesseract_lines(
    images: Sequence, texts: Sequence[str], process_counts: Iterable[int], lang: str = "eng", psm: int = 7
) -> list[Row]:
    """The same for Tesseract, ``psm`` 7 (one text line per image), in ``lang``."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = tesseract.write_lines(list(images), Path(tmp))
        for processes in process_counts:
            hyps, seconds = timed(tesseract.read_lines, paths, processes, lang, psm)
            rows.append(score(f"tesseract --psm {psm}", processes, texts, hyps, seconds))
    return rows


def tesseract_pages(
    images: Sequence[Path],
    references: Sequence[str],
    lang: str = "eng",
    psm: int = 3,
    near: Sequence[list[list[Point]]] | None = None,
) -> Row:
    """Whole pages through ``tesseract IMAGE stdout --psm 3 tsv``, one single-threaded process per
    page in turn (process starts counted); ``near`` as for ``mspt_pages``, by Tesseract's line boxes."""
    pages, seconds = timed(lambda: [tesseract.read_page(p, lang, psm, threads=1) for p in images])
    hyps = _judged_texts([[(box_polygon(x, y, x + w, y + h), text) for (x, y, w, h), text in p] for p in pages], near)
    return score(f"tesseract --psm {psm}", 1, references, hyps, seconds)


def ppocr_lines(
    python: Path, size: str, images: Sequence, texts: Sequence[str], thread_counts: Iterable[int]
) -> list[Row]:
    """PP-OCRv6's recognizer of ``size`` (tiny, small) on the crops as they are, timed by itself."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = tesseract.write_lines(list(images), Path(tmp), border=0)
        for threads in thread_counts:
            hyps, seconds = ppocr_reader.read_lines(python, paths, size, threads)
            rows.append(score(f"PP-OCRv6 {size}", threads, texts, hyps, seconds))
    return rows


def markdown_table(rows: Sequence[Row], unit: str) -> str:
    out = [f"| reader | threads | CER | WER | {unit} |", "|---|---|---|---|---|"]
    out += [f"| {r.reader} | {r.threads} | {r.cer:.2%} | {r.wer:.2%} | {rate(r.per_second)} |" for r in rows]
    return "\n".join(out)


def rate(per_second: float) -> str:
    return f"{per_second:.{1 if per_second >= 1 else 2}f}"

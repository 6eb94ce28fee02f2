"""Reading ground truth with mspt and with Tesseract, timed, on the same inputs: the pieces that
line_recognition.py and default_model.py share.

Lines: ground-truth line polygons cut and straightened by ``crop_line`` at their own pixel
height; mspt scales them to its model height, Tesseract gets them as PNGs with a white border.
mspt at N threads is one process with ``torch.set_num_threads(N)``; Tesseract at N threads is N
single-threaded processes (``OMP_THREAD_LIMIT=1``) each reading its share from a list file.
Timing covers reading only (mspt after a warm-up batch; Tesseract including its N process starts).

Pages: the reference is the page's ground-truth lines; both systems segment the page image
themselves, and texts are compared after ``page_text``'s normalization."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tesseract

from mspt_core.formats import read_document
from mspt_core.images import load_grey
from mspt_core.layout.crop import crop_line
from mspt_core.metrics import error_report

PAGE_NORMALIZATION = ("each page's text with all whitespace (line breaks, form feeds, runs of spaces) "
                      "collapsed to single spaces, in the reading order each system gives, NFC; "
                      "no de-hyphenation, case and punctuation kept")


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


def native_crops(xmls: Iterable[Path], limit: int | None = None) -> tuple[list, list[str], list[Path]]:
    """Ground-truth line crops at their own pixel height (the same cut as training data), their
    texts, and the XML each came from; at most ``limit`` lines, in split order."""
    images, texts, sources = [], [], []
    for xml in xmls:
        page = read_document(xml)
        grey = load_grey(page.image_path)
        for line in page.lines():
            if limit is not None and len(images) >= limit:
                return images, texts, sources
            if not line.text.strip():
                continue
            _, top, _, bottom = line.bbox()
            images.append(crop_line(grey, line, max(8, round(bottom - top))))
            texts.append(line.text)
            sources.append(xml)
    return images, texts, sources


def mspt_lines(model_path: Path, label: str, images: Sequence, texts: Sequence[str],
               thread_counts: Iterable[int]) -> list[Row]:
    """Line CER/WER and lines/s of a model on the CPU at each thread count."""
    import torch

    from mspt_core.models import load_model
    from mspt_core.recognize import LineRecognizer

    rows = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        reader = LineRecognizer(load_model(model_path), device="cpu")
        reader.read(list(images[:8]))  # warm-up
        readings, seconds = timed(reader.read, images)
        report = error_report(texts, [r.text for r in readings])
        rows.append(Row(label, threads, report.cer, report.wer, len(images) / seconds))
    return rows


def tesseract_lines(images: Sequence, texts: Sequence[str], process_counts: Iterable[int],
                    lang: str = "eng", psm: int = 7) -> list[Row]:
    """The same for Tesseract, ``psm`` 7 (one text line per image)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = tesseract.write_lines(list(images), Path(tmp))
        for processes in process_counts:
            hyps, seconds = timed(tesseract.read_lines, paths, processes, lang, psm)
            report = error_report(texts, hyps)
            rows.append(Row(f"tesseract --psm {psm} -l {lang}", processes, report.cer, report.wer,
                            len(images) / seconds))
    return rows


def page_text(text: str) -> str:
    """A page's text as compared whole: see PAGE_NORMALIZATION."""
    return " ".join(text.split())


def reference_pages(xmls: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Page images of ground-truth files and each page's true text (lines in file order)."""
    images, references = [], []
    for xml in xmls:
        page = read_document(xml)
        images.append(page.image_path)
        references.append(page_text("\n".join(line.text for line in page.lines())))
    return images, references


def mspt_pages(model_path: Path, label: str, images: Sequence[Path], references: Sequence[str],
               threads: int) -> Row:
    """Whole pages through ``pipeline.transcribe`` (what ``mspt transcribe --no-ground-truth``
    runs): our own segmentation, then recognition. Speed is pages/s including image loading."""
    import cv2
    import torch

    from mspt_core.models import load_model
    from mspt_core.pipeline import transcribe
    from mspt_core.recognize import LineRecognizer

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    reader = LineRecognizer(load_model(model_path), device="cpu")
    pages, seconds = timed(lambda: transcribe(images, reader, use_ground_truth=False))
    hyps = [page_text("\n".join(line.text for line in page.lines())) for page in pages]
    report = error_report(references, hyps)
    return Row(label, threads, report.cer, report.wer, len(images) / seconds)


def tesseract_pages(images: Sequence[Path], references: Sequence[str], lang: str = "eng", psm: int = 3) -> Row:
    """Whole pages through ``tesseract IMAGE stdout --psm 3``, one single-threaded process per page
    in turn (process starts counted)."""
    hyps, seconds = timed(lambda: [tesseract.read_page(p, lang, psm, threads=1) for p in images])
    report = error_report(references, [page_text(h) for h in hyps])
    return Row(f"tesseract --psm {psm} -l {lang}", 1, report.cer, report.wer, len(images) / seconds)


def markdown_table(rows: Sequence[Row], unit: str) -> str:
    out = [f"| reader | threads | CER | WER | {unit} |", "|---|---|---|---|---|"]
    out += [f"| {r.reader} | {r.threads} | {r.cer:.2%} | {r.wer:.2%} | {r.per_second:.{1 if r.per_second >= 1 else 2}f} |"
            for r in rows]
    return "\n".join(out)

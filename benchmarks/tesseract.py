"""Tesseract as the peer: read line images with ``--psm 7`` in one process per core.

Images go to Tesseract as a list file (one process reads many images), so process start-up
is not counted per line; pages of output are separated by form feeds."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # left, top, width, height


def available() -> bool:
    return shutil.which("tesseract") is not None


def missing_languages(langs: set[str]) -> list[str]:
    """The languages of ``langs`` ("eng", "eng+deu", ...) whose traineddata Tesseract lacks."""
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout.split()
    return sorted({lang for spec in langs for lang in spec.split("+")} - set(listed))


def version() -> str:
    return subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def _tesseract(source: Path, *options: str, threads: int = 1) -> str:
    """What ``tesseract SOURCE stdout OPTIONS`` prints, run with ``threads`` OpenMP threads."""
    return subprocess.run(
        ["tesseract", str(source), "stdout", *options],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_THREAD_LIMIT=str(threads)),
        check=True,
    ).stdout


def _read_chunk(paths: list[Path], lang: str, psm: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(str(p) for p in paths) + "\n")
        out = _tesseract(listing, "-l", lang, "--psm", str(psm))
    texts = out.split("\f")[: len(paths)]
    if len(texts) != len(paths):
        raise RuntimeError(f"tesseract returned {len(texts)} texts for {len(paths)} images")
    return [" ".join(t.split()) for t in texts]


def write_lines(images: list[np.ndarray], workdir: Path, border: int = 10) -> list[Path]:
    """PNG files of grey line images with a white border (Tesseract wants some margin)."""
    paths = []
    for i, image in enumerate(images):
        path = workdir / f"line{i:05d}.png"
        framed = cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_CONSTANT, value=255)
        cv2.imwrite(str(path), framed)
        paths.append(path)
    return paths


def read_lines(paths: list[Path], processes: int = 1, lang: str = "eng", psm: int = 7) -> list[str]:
    """Texts of line image files, read by ``processes`` single-threaded Tesseract processes."""
    chunks = [paths[i::processes] for i in range(processes)]
    with ThreadPoolExecutor(processes) as pool:
        results = list(pool.map(lambda c: _read_chunk(c, lang, psm), chunks))
    texts = [""] * len(paths)
    for start, chunk in enumerate(results):
        for j, text in enumerate(chunk):
            texts[start + j * processes] = text
    return texts


def _tsv_lines(tsv: str) -> tuple[dict[tuple[str, ...], Box], dict[tuple[str, ...], list[str]]]:
    """Tesseract's tsv output taken apart: each text line's box (its level-4 row) and its words
    (its level-5 rows), both keyed by (page, block, paragraph, line) in reading order."""
    boxes: dict[tuple[str, ...], Box] = {}
    words: dict[tuple[str, ...], list[str]] = {}
    for row in tsv.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) < 10:
            continue
        key = tuple(fields[1:5])
        if fields[0] == "4":
            boxes[key] = (int(fields[6]), int(fields[7]), int(fields[8]), int(fields[9]))
        elif fields[0] == "5" and len(fields) >= 12 and fields[11].strip():
            words.setdefault(key, []).append(fields[11].strip())
    return boxes, words


def read_page(image_path: Path, lang: str = "eng", psm: int = 3, threads: int = 1) -> list[tuple[Box, str]]:
    """The text lines of a whole page image in Tesseract's reading order (its own segmentation
    with ``psm`` 3), each its box and its words joined by spaces, as its text output has them."""
    boxes, words = _tsv_lines(_tesseract(image_path, "-l", lang, "--psm", str(psm), "tsv", threads=threads))
    return [(box, " ".join(words[key])) for key, box in boxes.items() if key in words]


def page_line_boxes(image_path: Path, lang: str = "eng") -> list[Box]:
    """Tesseract's own text lines on a page: the level-4 rows of ``tesseract IMAGE stdout tsv``
    (default ``--psm 3``). Tesseract also reads the text there."""
    return list(_tsv_lines(_tesseract(image_path, "-l", lang, "tsv"))[0].values())

"""The main job: page files -> lines -> recognized text, shared by ``mspt transcribe``,
``mspt project transcribe`` and the app.

Lines the user has corrected are never overwritten by recognition."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from mspt_core.document import Line, LineStatus, Page, take_found_metadata
from mspt_core.errors import MsptError
from mspt_core.images import load_grey
from mspt_core.layout import segment
from mspt_core.layout.crop import PlacedCrop
from mspt_core.layout.outline import lines_given, place_along, reading_outlines
from mspt_core.layout.words import placed_words
from mspt_core.recognize import LineRecognizer, Reading


class LineReader(Protocol):
    """What the pipeline reads lines with: a ``LineRecognizer``, or a wrapper around one (the
    app's reads a few lines at a time, for progress and Cancel)."""

    height: int

    def read(self, images: Sequence[np.ndarray]) -> Sequence[Reading]: ...


@dataclass
class PageJob:
    """One page to recognize: its lines (found or from ground truth) and its grey image."""

    page: Page
    image: np.ndarray
    source: Path
    pages_in_source: int = 1


def lines_to_read(page: Page, include_corrected: bool = False) -> list[Line]:
    return [
        line
        for line in page.lines()
        if len(line.polygon) >= 3 and (include_corrected or line.status != LineStatus.CORRECTED)
    ]


def recognize_pages(
    jobs: Sequence[PageJob],
    reader: LineReader,
    include_corrected: bool = False,
    should_stop: Callable[[], bool] | None = None,
    finder_outlines: bool = False,
    rtl: bool = False,
) -> int:
    """Fill text, confidences, status and word boxes of the pages' lines in place, reading the
    lines of all given pages in one batched call. Returns the number of lines read. Lines whose
    crop fails (e.g. a polygon outside the image) are left as they were and counted out. With
    ``finder_outlines`` (off here, on in ``read_pages`` and ``transcribe``), the lines of a page
    whose lines came with it (not found by mspt) are cut along the line finder's outline of them
    where it finds them (``layout.outline``; ``rtl`` as for segmentation); their own outlines
    stay."""
    lines: list[Line] = []
    crops: list[PlacedCrop] = []
    sizes: list[tuple[int, int]] = []  # each line's page (height, width)
    for job in jobs:
        to_read = lines_to_read(job.page, include_corrected)
        cut_along = {id(line): line for line in to_read}
        if finder_outlines and to_read and lines_given(job.page):
            if should_stop and should_stop():
                return 0
            every = lines_to_read(job.page, include_corrected=True)  # paired all at once, read or not
            outlines = reading_outlines(job.image, every, rtl)
            cut_along = {id(line): outline for line, outline in zip(every, outlines, strict=True)}
        for line in to_read:
            if should_stop and should_stop():
                return 0
            try:
                crops.append(place_along(job.image, line, cut_along[id(line)], reader.height))
            except ValueError:
                continue
            lines.append(line)
            sizes.append(job.image.shape[:2])
    if not crops:
        return 0
    readings = reader.read([c.image for c in crops])
    for line, crop, size, reading in zip(lines, crops, sizes, readings, strict=True):
        line.text = reading.text
        line.char_confidences = [round(c, 4) for c in reading.char_confidences]
        line.confidence = round(reading.confidence, 4)
        line.status = LineStatus.RECOGNIZED
        line.words = placed_words(line, reading.text, reading.char_x, line.char_confidences, crop, size)
    return len(lines)


def find_lines(image, segmenter: str = "auto", rtl: bool = False) -> Page:
    """The regions and lines of one page image (grey array or Pillow image): the one way a
    page with no lines gets them. ``segmenter`` is ``segment``'s method (auto, learned, classical)."""
    return segment(image, rtl=rtl, method=segmenter)


def read_pages(
    pages: Sequence[tuple[Page, Path]],
    reader: LineReader,
    segmenter: str = "auto",
    rtl: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    on_lines: Callable[[Page], None] | None = None,
    on_read: Callable[[Page], None] | None = None,
    finder_outlines: bool = True,
) -> int:
    """Recognize pages of a project, given as (page, image file): pages with no lines are first
    segmented (``on_lines`` sees each one then), then their lines not corrected are read (lines
    that came with a page cut as ``recognize_pages`` says of ``finder_outlines``), one page
    at a time (``on_read`` sees each page once all its lines are read), so that stopping keeps every
    page already done and memory holds one page image. ``on_progress(stage, done, total)`` tells
    "Finding lines" per page, then "Recognizing" with the number of lines to read. Pages are
    changed in place; returns the number of lines read."""

    def stopped() -> bool:
        return bool(should_stop and should_stop())

    unsegmented = [(page, path) for page, path in pages if not any(True for _ in page.lines())]
    for done, (page, image_path) in enumerate(unsegmented):
        if stopped():
            return 0
        if on_progress:
            on_progress("Finding lines", done, len(unsegmented))
        found = find_lines(load_grey(image_path), segmenter, rtl)
        page.regions = found.regions
        take_found_metadata(page, found)
        if on_lines:
            on_lines(page)
    total = sum(len(lines_to_read(page)) for page, _ in pages)
    if on_progress:
        on_progress("Recognizing", 0, total)
    read = 0
    for page, image_path in pages:
        if not lines_to_read(page):
            continue
        if stopped():
            break
        job = PageJob(page, load_grey(image_path), image_path)
        read += recognize_pages([job], reader, should_stop=should_stop, finder_outlines=finder_outlines, rtl=rtl)
        if stopped():
            break  # a page cut short is not handed on
        if on_read:
            on_read(page)
    return read


def load_page_jobs(
    path: Path, use_ground_truth: bool = True, rtl: bool = False, dpi: float = 300, segmenter: str = "auto"
) -> list[PageJob]:
    """Pages of one image or PDF file with their lines: ground truth beside the file when
    wanted and present, else found by segmentation."""
    from mspt_core.layout import pages_with_images

    found = pages_with_images(path, use_ground_truth=use_ground_truth, rtl=rtl, dpi=dpi, segmenter=segmenter)
    return [PageJob(page, image, Path(path), len(found)) for page, image in found]


def transcribe(
    paths: Iterable[Path],
    reader: LineRecognizer,
    use_ground_truth: bool = True,
    rtl: bool = False,
    dpi: float = 300,
    pages_per_batch: int = 4,
    reread: bool = False,
    on_pages: Callable[[list[PageJob]], None] | None = None,
    segmenter: str = "auto",
    on_bad_input: Callable[[MsptError], None] | None = None,
    keep_pages: bool = True,
    finder_outlines: bool = True,
) -> list[Page]:
    """Segment (or reuse ground truth) and recognize every page of ``paths``. Lines of up to
    ``pages_per_batch`` pages are read together so batches stay full. ``on_pages`` sees each
    finished group with its images (for progress and writing results as they come); the
    returned pages hold no images, so memory stays bounded by one group. Corrected lines (and
    text from another tool's file) are kept unless ``reread``. With ``on_bad_input``, a file that
    cannot be loaded is handed to it and skipped instead of ending the job. With ``keep_pages``
    False nothing is returned and memory stays bounded however many pages go through (a batch
    run whose ``on_pages`` writes the results). Lines that came with a page (ground truth) are
    cut along the line finder's outline of them unless ``finder_outlines`` is False
    (``recognize_pages``)."""
    done: list[Page] = []
    group: list[PageJob] = []

    def flush() -> None:
        recognize_pages(group, reader, include_corrected=reread, finder_outlines=finder_outlines, rtl=rtl)
        if on_pages:
            on_pages(list(group))
        if keep_pages:
            done.extend(job.page for job in group)
        group.clear()

    for path in paths:
        try:
            jobs = load_page_jobs(path, use_ground_truth, rtl, dpi, segmenter)
        except MsptError as error:
            if on_bad_input is None:
                raise
            on_bad_input(error)
            continue
        for job in jobs:
            group.append(job)
            if len(group) >= pages_per_batch:
                flush()
    if group:
        flush()
    return done

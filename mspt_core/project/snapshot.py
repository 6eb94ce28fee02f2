"""What a training run learns from, written out as PAGE XML files beside the run, so that the run
never reads the live project while the person works: a fine-tuning run, the corrected lines of a
project; an adapting run (self-training), the lines nobody corrected, whose outlines it reads."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from mspt_core.document import LineStatus, Page
from mspt_core.formats import write_document
from mspt_core.project.folder import Project


@dataclass
class LineCount:
    pages: int  # pages with at least one of the lines counted
    lines: int


def count_corrected(project: Project) -> LineCount:
    counts = [project.progress(i)[0] for i in range(len(project))]
    return LineCount(sum(1 for c in counts if c), sum(counts))


def _kept(page: Page, keep: Callable) -> Page | None:
    """A copy of ``page`` holding only the lines ``keep`` takes; None if it has none."""
    copy_ = copy.deepcopy(page)
    for region in copy_.regions:
        region.lines = [line for line in region.lines if keep(line)]
    copy_.regions = [region for region in copy_.regions if region.lines]
    return copy_ if copy_.regions else None


def corrected_only(page: Page) -> Page | None:
    """A copy of ``page`` holding only its corrected lines with text; None if it has none."""
    return _kept(page, lambda line: line.status == LineStatus.CORRECTED and line.text.strip())


def uncorrected_only(page: Page) -> Page | None:
    """A copy of ``page`` holding only the lines nobody corrected; None if it has none."""
    return _kept(page, lambda line: line.status != LineStatus.CORRECTED)


def count_uncorrected(project: Project, indices: Iterable[int]) -> LineCount:
    """Pages ``indices`` with lines nobody corrected, and those lines."""
    counts = [lines - corrected for corrected, lines in (project.progress(i) for i in indices)]
    return LineCount(sum(1 for c in counts if c), sum(counts))


def _write_pages(project: Project, folder: Path, indices: Iterable[int], keep: Callable) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in indices:
        page = keep(project.page(index))
        if page is None:
            continue
        page.image_path = project.image_path(index).resolve()
        written.append(write_document(page, folder / f"{project.entries[index].id}.xml", "page"))
    return written


def write_training_pages(project: Project, folder: Path, indices: Iterable[int]) -> list[Path]:
    """Snapshot the corrected lines of pages ``indices`` as PAGE XML files in ``folder`` (with
    the project's page images), one per page that has any, named ``<page id>.xml``."""
    return _write_pages(project, folder, indices, corrected_only)


def write_uncorrected_pages(project: Project, folder: Path, indices: Iterable[int]) -> list[Path]:
    """``write_training_pages`` for the lines nobody corrected (their texts are the readings they
    hold, which an adapting run does not use)."""
    return _write_pages(project, folder, indices, uncorrected_only)

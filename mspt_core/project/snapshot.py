"""What a fine-tuning run learns from: the corrected lines of a project, written out as PAGE XML
files beside the run, so that the run never reads the live project while the person works."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mspt_core.document import LineStatus, Page
from mspt_core.formats import write_document
from mspt_core.project.folder import Project


@dataclass
class CorrectedLines:
    pages: int  # pages with at least one corrected line
    lines: int


def count_corrected(project: Project) -> CorrectedLines:
    counts = [project.progress(i)[0] for i in range(len(project))]
    return CorrectedLines(sum(1 for c in counts if c), sum(counts))


def corrected_only(page: Page) -> Page | None:
    """A copy of ``page`` holding only its corrected lines with text; None if it has none."""
    copy_ = copy.deepcopy(page)
    for region in copy_.regions:
        region.lines = [line for line in region.lines if line.status == LineStatus.CORRECTED and line.text.strip()]
    copy_.regions = [region for region in copy_.regions if region.lines]
    return copy_ if copy_.regions else None


def write_training_pages(project: Project, folder: Path, indices: Iterable[int]) -> list[Path]:
    """Snapshot the corrected lines of pages ``indices`` as PAGE XML files in ``folder`` (with
    the project's page images), one per page that has any, named ``<page id>.xml``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in indices:
        page = corrected_only(project.page(index))
        if page is None:
            continue
        page.image_path = project.image_path(index).resolve()
        written.append(write_document(page, folder / f"{project.entries[index].id}.xml", "page"))
    return written

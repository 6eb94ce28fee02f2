"""Reading a project's pages without the app (``mspt project transcribe``): the pages go through
``pipeline.read_pages``, like the app's recognition, and each page is saved as soon as it is read,
so that an interrupted run keeps every page done. Lines a person corrected are never touched."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mspt_core.document import Page
from mspt_core.errors import MsptError
from mspt_core.pipeline import read_pages
from mspt_core.project.folder import Project


@dataclass
class Transcribed:
    pages: int  # pages read
    lines: int  # lines read


def page_numbers(project: Project, numbers: Iterable[int]) -> list[int]:
    """Indices of the 1-based page ``numbers``; a number the project has not is the user's error."""
    indices = []
    for number in numbers:
        if not 1 <= number <= len(project):
            raise MsptError(f"{project.root}: has no page {number} (its pages are 1 to {len(project)})")
        indices.append(number - 1)
    return indices


def not_yet_corrected(project: Project) -> list[int]:
    """The pages with a line nobody corrected, or with no lines yet."""
    indices = []
    for index in range(len(project)):
        corrected, total = project.progress(index)
        if total == 0 or corrected < total:
            indices.append(index)
    return indices


def transcribe_project(
    project: Project,
    reader,
    indices: list[int] | None = None,
    segmenter: str = "auto",
    on_page: Callable[[int, Page], None] | None = None,
) -> Transcribed:
    """Find the lines of pages that have none and read every line not corrected, on pages
    ``indices`` (default: ``not_yet_corrected``). Each page is saved when read; ``on_page`` gets
    (index, page) then."""
    indices = not_yet_corrected(project) if indices is None else indices
    index_of = {id(project.page(i)): i for i in indices}
    read_pages_done = 0

    def segmented(page: Page) -> None:
        project.changed(page.id, "lines")

    def read(page: Page) -> None:
        nonlocal read_pages_done
        read_pages_done += 1
        project.changed(page.id, "texts")
        project.save()
        if on_page:
            on_page(index_of[id(page)], page)

    lines = read_pages(
        [(project.page(i), project.image_path(i)) for i in indices],
        reader,
        segmenter=segmenter,
        on_lines=segmented,
        on_read=read,
    )
    project.save()
    return Transcribed(read_pages_done, lines)

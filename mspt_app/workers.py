"""Long jobs off the GUI thread: recognition, segmentation, adding pages.

A job is a plain function ``job(context)`` that reports progress and results through the
context and checks ``context.should_stop()``; it never touches widgets or the live project.
``Task`` runs it on a QThread and turns those reports into signals, which Qt delivers on the
GUI thread, where the results are applied through ``edits.Editor``.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QThread, Signal

# Imported here, on the GUI thread at start-up, not lazily inside a job: a first import runs
# Python code under the GIL and would freeze the window for as long as it takes.
from mspt_core import choose, pipeline
from mspt_core.document import Page
from mspt_core.errors import MsptError
from mspt_core.images import load_grey
from mspt_core.models import AUTO, resolve
from mspt_core.recognize import open_reader

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a job when the person pressed Cancel."""


class JobContext:
    def __init__(self, task: Task):
        self._task = task
        self._stop = threading.Event()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        if self._stop.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int, message: str = "") -> None:
        self._task.progressed.emit(done, total, message)

    def result(self, value: object) -> None:
        """A partial result (e.g. one recognized page), applied while the job goes on."""
        self._task.partial.emit(value)


class Task(QThread):
    progressed = Signal(int, int, str)  # done, total, message
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message for the person, details for the log
    cancelled = Signal()

    def __init__(self, title: str, job: Callable[[JobContext], object], parent=None):
        super().__init__(parent)
        self.title = title
        self.job = job
        self.context = JobContext(self)
        self.started_at = 0.0

    def cancel(self) -> None:
        self.context._stop.set()

    def run(self) -> None:
        self.started_at = time.monotonic()
        try:
            value = self.job(self.context)
        except Cancelled:
            self.cancelled.emit()
        except MsptError as error:
            self.failed.emit(str(error), traceback.format_exc())
        except Exception as error:  # a bug: the person still gets a dialog, the log the trace
            log.exception("%s failed", self.title)
            self.failed.emit(f"{type(error).__name__}: {error}", traceback.format_exc())
        else:
            if self.context.should_stop():
                self.cancelled.emit()
            else:
                self.succeeded.emit(value)


def eta_seconds(started_at: float, done: int, total: int, now: float | None = None) -> float | None:
    """Remaining time from the rate so far; None until there is a rate to go on."""
    if done <= 0 or total <= done:
        return None
    elapsed = (now if now is not None else time.monotonic()) - started_at
    return elapsed / done * (total - done)


# --- recognition -------------------------------------------------------------------------

_readers: dict[tuple[str, str], object] = {}
_readers_lock = threading.Lock()


def load_reader(model: str | None, device: str):
    """The reader for a model (none: ``auto`` where it is installed, print and handwriting line
    by line) and device, loaded once per session."""
    name = choose.reader_name(model)
    key = (AUTO if name == AUTO else str(Path(resolve(name)).resolve()), device)
    with _readers_lock:
        if key not in _readers:
            _readers.clear()  # one model in memory at a time
            _readers[key] = open_reader(model or None, device=device)
        return _readers[key]


class ChunkedReader:
    """Feeds a recognizer a few lines at a time so that progress moves and Cancel is heard
    within one small batch; the core's pipeline sees an ordinary reader."""

    def __init__(self, reader, context: JobContext, total: int = 0, chunk: int = 8):
        self.reader, self.context, self.total, self.chunk = reader, context, total, chunk
        self.height = reader.height
        self.done = 0

    def read(self, images: Sequence) -> list:
        readings = []
        for start in range(0, len(images), self.chunk):
            self.context.check()
            readings.extend(self.reader.read(images[start : start + self.chunk]))
            self.done += len(images[start : start + self.chunk])
            self.context.progress(self.done, self.total, "Recognizing")
        return readings


@dataclass
class PageToRead:
    page_id: str
    page: Page  # a copy: the person may keep editing the live page meanwhile
    image_path: Path


def recognition_job(
    pages: list[PageToRead], model: str | None, device: str, segmenter: str = "auto"
) -> Callable[[JobContext], int]:
    """Recognize the pages through ``pipeline.read_pages``: pages without lines are segmented
    first (each handed back as a partial result ``("lines", page_id, page)``), then each page
    read is handed back as ``("text", page_id, page)``, so Cancel keeps every page already done."""

    def job(context: JobContext) -> int:
        # The first read of a model on a CPU also exports it for ONNX Runtime (once, ~15 s).
        context.progress(0, 0, "Loading the model (the first time: preparing it for fast reading)")
        chunked = ChunkedReader(load_reader(model, device), context)
        ids = {id(item.page): item.page_id for item in pages}

        def progress(stage: str, done: int, total: int) -> None:
            context.check()
            if stage == "Recognizing":
                chunked.total = total
            context.progress(done, total, stage)

        pipeline.read_pages(
            [(item.page, item.image_path) for item in pages],
            chunked,
            segmenter=segmenter,
            should_stop=context.should_stop,
            on_progress=progress,
            on_lines=lambda page: context.result(("lines", ids[id(page)], copy.deepcopy(page))),
            on_read=lambda page: context.result(("text", ids[id(page)], page)),
        )
        context.check()
        return chunked.done

    return job


def pages_to_read(project, indices: Sequence[int]) -> list[PageToRead]:
    return [PageToRead(project.entries[i].id, copy.deepcopy(project.page(i)), project.image_path(i)) for i in indices]


# --- segmentation ------------------------------------------------------------------------


def segmentation_job(items: list[tuple[str, Path]], segmenter: str = "auto") -> Callable[[JobContext], None]:
    """Find lines on pages ``(page_id, image_path)``; each page comes back as a partial result."""

    def job(context: JobContext) -> None:
        for done, (page_id, image_path) in enumerate(items):
            context.check()
            context.progress(done, len(items), "Finding lines")
            found = pipeline.find_lines(load_grey(image_path), segmenter)
            context.check()
            context.result(("lines", page_id, found))
        context.progress(len(items), len(items), "Finding lines")

    return job


# --- archives ------------------------------------------------------------------------------------

LINES_SAMPLED = 2  # page files segmented to estimate the lines of a whole archive


def archive_count_job(folders: list[str]) -> Callable[[JobContext], tuple[int, int, int]]:
    """(files, pages, estimated lines) of an archive: pages counted without decoding them,
    lines estimated from the first few single-page files (0: no estimate)."""

    def job(context: JobContext) -> tuple[int, int, int]:
        from mspt_core.data.linestore import archive_files, file_lines
        from mspt_core.images import page_count
        from mspt_core.model.config import LINE_HEIGHT

        files = archive_files([Path(f) for f in folders])
        counts: list[tuple[Path, int]] = []
        for path in files:
            context.check()
            try:
                counts.append((path, 1 if path.suffix.lower() == ".xml" else page_count(path)))
            except MsptError:
                continue  # unreadable: building the line store reports it with the reason
        pages = sum(n for _, n in counts)
        # Single-page files only: segmenting the first long PDF whole would take minutes.
        sampled = [item for item in counts if item[1] == 1][:LINES_SAMPLED]
        lines = 0
        for path, _ in sampled:
            context.check()
            lines += sum(1 for _ in file_lines(path, LINE_HEIGHT))
        sampled_pages = sum(n for _, n in sampled)
        return len(files), pages, round(lines / sampled_pages * pages) if sampled_pages else 0

    return job

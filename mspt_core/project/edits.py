"""Every change a person makes to a project, undoable across lines and pages (no Qt here).

``Editor`` is the one way views change a project: each method applies a change, records a
command in ``History`` and tells the project (which autosaves and notifies the views).
Typing into one line merges into one undo step per line, as in any text editor; geometry
changes record the page's lines before and after, which is simple and always exact.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from mspt_core.document import (
    Line,
    LineStatus,
    Page,
    Region,
    Word,
    found_metadata,
    set_found_metadata,
    take_found_metadata,
)
from mspt_core.layout.words import words_after_edit
from mspt_core.project import geometry
from mspt_core.project.folder import Project, find_line


@dataclass
class LineState:
    text: str
    confidence: float | None
    char_confidences: list[float] | None
    status: LineStatus
    words: list[Word] = field(default_factory=list)  # go with the text

    @classmethod
    def of(cls, line: Line) -> LineState:
        chars = list(line.char_confidences) if line.char_confidences is not None else None
        return cls(line.text, line.confidence, chars, line.status, copy.deepcopy(line.words))

    def put(self, line: Line, text: bool = True, status: bool = True) -> None:
        """Give ``line`` this state: its text (with confidences and words), its status, or both."""
        if text:
            line.text = self.text
            line.confidence = self.confidence
            line.char_confidences = list(self.char_confidences) if self.char_confidences is not None else None
            line.words = copy.deepcopy(self.words)
        if status:
            line.status = self.status


@dataclass
class Command:
    label: str
    page_id: str
    line_id: str | None = None  # the line to show after undo/redo

    def undo(self, project: Project) -> None:
        raise NotImplementedError

    def redo(self, project: Project) -> None:
        raise NotImplementedError


@dataclass
class TextCommand(Command):
    """One line's text and/or status. Typing changes both (typed text counts as corrected);
    "Mark corrected" only the status, so undoing one never undoes the other."""

    before: LineState | None = None
    after: LineState | None = None
    typing: bool = False  # consecutive typing in one line merges into one step
    text: bool = True  # whether undo/redo put back the text ...
    status: bool = True  # ... and the status

    def _put(self, project: Project, state: LineState | None) -> None:
        if state is None or self.line_id is None:
            return
        line = find_line(project.page_by_id(self.page_id), self.line_id)
        if line is not None:
            state.put(line, text=self.text, status=self.status)
            project.changed(self.page_id, "text", self.line_id)

    def undo(self, project: Project) -> None:
        self._put(project, self.before)

    def redo(self, project: Project) -> None:
        self._put(project, self.after)


@dataclass
class PageCommand(Command):
    before: list[Region] = field(default_factory=list)
    after: list[Region] = field(default_factory=list)
    kind: str = "lines"  # "texts" when only texts changed (views then skip a full rebuild)
    # What segmentation said of the page (FOUND_METADATA) with those lines: whether mspt found
    # them decides how they are cut for reading (layout.outline), so it goes back with them.
    found_before: dict[str, str] = field(default_factory=dict)
    found_after: dict[str, str] = field(default_factory=dict)

    def _put(self, project: Project, regions: list[Region], found: dict[str, str]) -> None:
        page = project.page_by_id(self.page_id)
        page.regions = copy.deepcopy(regions)
        set_found_metadata(page, found)
        project.changed(self.page_id, self.kind, self.line_id)

    def undo(self, project: Project) -> None:
        self._put(project, self.before, self.found_before)

    def redo(self, project: Project) -> None:
        self._put(project, self.after, self.found_after)


@dataclass
class ModelCommand(Command):
    """The model that reads the project, and the lines it re-read: one undo step however many
    pages the re-reading took. The lines are kept one by one (not whole pages), so undoing it
    gives back only what the re-reading changed, whatever was edited elsewhere meanwhile."""

    model_before: str = ""
    model_after: str = ""
    lines: dict[tuple[str, str], tuple[LineState, LineState]] = field(default_factory=dict)

    def _put(self, project: Project, model: str, which: int) -> None:
        project.set_model(model)
        pages: dict[str, list[tuple[str, LineState]]] = {}
        for (page_id, line_id), both in self.lines.items():
            pages.setdefault(page_id, []).append((line_id, both[which]))
        for page_id, kept in pages.items():
            try:
                page = project.page_by_id(page_id)
            except KeyError:
                continue  # the page is gone
            for line_id, state in kept:
                line = find_line(page, line_id)
                if line is not None:
                    state.put(line)
            project.changed(page_id, "texts")

    def undo(self, project: Project) -> None:
        self._put(project, self.model_before, 0)

    def redo(self, project: Project) -> None:
        self._put(project, self.model_after, 1)


@dataclass
class SegmenterCommand(Command):
    """The line finder of the project (pages segmented later use it; no page changes now)."""

    before: str = "auto"
    after: str = "auto"

    def undo(self, project: Project) -> None:
        project.set_segmenter(self.before)

    def redo(self, project: Project) -> None:
        project.set_segmenter(self.after)


class History:
    def __init__(self, limit: int = 500):
        self.done: list[Command] = []
        self.undone: list[Command] = []
        self.limit = limit
        self.listeners: list[Callable[[], None]] = []

    def push(self, command: Command) -> None:
        last = self.done[-1] if self.done else None
        if (
            isinstance(command, TextCommand)
            and isinstance(last, TextCommand)
            and command.typing
            and last.typing
            and (last.page_id, last.line_id) == (command.page_id, command.line_id)
        ):
            last.after = command.after  # keep typing in one line as one step
        else:
            self.done.append(command)
            del self.done[: -self.limit]
        self.undone.clear()
        self._notify()

    def break_merge(self) -> None:
        """The next edit starts a new undo step (e.g. after moving to another line)."""
        if self.done and isinstance(self.done[-1], TextCommand):
            self.done[-1].typing = False

    def clear(self) -> None:
        self.done.clear()
        self.undone.clear()
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    @property
    def undo_label(self) -> str | None:
        return self.done[-1].label if self.done else None

    @property
    def redo_label(self) -> str | None:
        return self.undone[-1].label if self.undone else None


def line_on(page: Page, line_id: str) -> Line:
    """The line ``line_id`` of ``page``; KeyError when there is none."""
    line = find_line(page, line_id)
    if line is None:
        raise KeyError(f"no line {line_id} on page {page.id}")
    return line


def realign_confidences(old_text: str, old: list[float] | None, new_text: str) -> list[float] | None:
    """Per-character confidences after an edit: characters kept from the old text keep their
    confidence (still worth a look), characters the person typed count as certain."""
    if old is None or len(old) != len(old_text):
        return None
    result = [1.0] * len(new_text)
    matcher = difflib.SequenceMatcher(None, old_text, new_text, autojunk=False)
    for block in matcher.get_matching_blocks():
        result[block.b : block.b + block.size] = old[block.a : block.a + block.size]
    return result


class Editor:
    """Changes to a project, each one undoable."""

    def __init__(self, project: Project):
        self.project = project
        self.history = History()

    # --- undo / redo ------------------------------------------------------------------------

    def undo(self) -> Command | None:
        if not self.history.done:
            return None
        command = self.history.done.pop()
        self.history.undone.append(command)
        command.undo(self.project)
        self.history._notify()
        return command

    def redo(self) -> Command | None:
        if not self.history.undone:
            return None
        command = self.history.undone.pop()
        self.history.done.append(command)
        command.redo(self.project)
        self.history._notify()
        return command

    # --- text -------------------------------------------------------------------------------

    def _line(self, page_id: str, line_id: str) -> Line:
        return line_on(self.project.page_by_id(page_id), line_id)

    def set_text(self, page_id: str, line_id: str, text: str) -> None:
        """The person typed: the line takes the text and counts as corrected."""
        line = self._line(page_id, line_id)
        if text == line.text:
            return
        before = LineState.of(line)
        line.char_confidences = realign_confidences(line.text, line.char_confidences, text)
        line.words = words_after_edit(line.words, text, line.char_confidences)
        line.text = text
        line.status = LineStatus.CORRECTED
        self.history.push(TextCommand("Typing", page_id, line_id, before, LineState.of(line), typing=True))
        self.project.changed(page_id, "text", line_id)

    def confirm(self, page_id: str, line_id: str) -> None:
        """The person read the line and accepts it as it is: its own undo step, which gives back
        the status only. Right after typing in the line (which already made it corrected), the
        acceptance is taken out of the typing step into this one, so that "Undo mark corrected"
        keeps the typed text and "Undo typing" keeps the line accepted."""
        line = self._line(page_id, line_id)
        last = self.history.done[-1] if self.history.done else None
        typing: TextCommand | None = None
        if (
            isinstance(last, TextCommand)
            and last.typing
            and (last.page_id, last.line_id) == (page_id, line_id)
            and last.status
            and last.before is not None
            and last.before.status != LineStatus.CORRECTED
        ):
            typing = last
        if line.status == LineStatus.CORRECTED and typing is None:
            return
        before = LineState.of(line)
        if typing is not None and typing.before is not None:
            before.status = typing.before.status
            typing.status = False  # the typing step now gives back the text only
        line.status = LineStatus.CORRECTED
        self.history.push(TextCommand("Mark corrected", page_id, line_id, before, LineState.of(line), text=False))
        self.project.changed(page_id, "text", line_id)

    # --- page-level changes (geometry, order, recognition results) ----------------------------

    def _change_page(
        self, page_id: str, label: str, change: Callable[[Page], str | None], kind: str = "lines"
    ) -> str | None:
        page = self.project.page_by_id(page_id)
        before, found_before = copy.deepcopy(page.regions), found_metadata(page)
        focus = change(page)
        after = copy.deepcopy(page.regions)
        command = PageCommand(label, page_id, focus, before, after, kind, found_before, found_metadata(page))
        self.history.push(command)
        self.project.changed(page_id, kind, focus)
        return focus

    @staticmethod
    def _focus(line_id: str | None) -> str:
        assert line_id is not None  # the changes that call this always name a line
        return line_id

    def delete_line(self, page_id: str, line_id: str) -> str | None:
        """Returns the line that takes its place in the reading order, if any."""

        def change(page: Page) -> str | None:
            lines = list(page.lines())
            position = [line.id for line in lines].index(line_id)
            for region in page.regions:
                region.lines = [line for line in region.lines if line.id != line_id]
            rest = [line for line in lines if line.id != line_id]
            return rest[min(position, len(rest) - 1)].id if rest else None

        self._line(page_id, line_id)
        return self._change_page(page_id, "Delete line", change)

    def add_line(self, page_id: str, polygon: list[tuple[float, float]]) -> str:
        """A new line drawn by the person, placed in reading order by its position."""

        def change(page: Page) -> str:
            line = Line(
                id=geometry.new_line_id(page),
                polygon=[(round(x), round(y)) for x, y in polygon],
                baseline=geometry.baseline_of_box(polygon),
            )
            geometry.insert_in_reading_order(page, line)
            return line.id

        return self._focus(self._change_page(page_id, "Add line", change))

    def set_polygon(self, page_id: str, line_id: str, polygon: list[tuple[float, float]]) -> None:
        def change(page: Page) -> str:
            line = line_on(page, line_id)
            line.polygon = [(round(x), round(y)) for x, y in polygon]
            line.baseline = geometry.fit_baseline(line.baseline, line.polygon)
            line.words = geometry.fit_words(line.words, line.polygon)
            return line_id

        self._line(page_id, line_id)
        self._change_page(page_id, "Move point", change)

    def merge_lines(self, page_id: str, first_id: str, second_id: str) -> str:
        def change(page: Page) -> str:
            first, second = line_on(page, first_id), line_on(page, second_id)
            geometry.merge_into(first, second)
            for region in page.regions:
                region.lines = [line for line in region.lines if line.id != second_id]
            return first_id

        self._line(page_id, first_id), self._line(page_id, second_id)
        return self._focus(self._change_page(page_id, "Merge lines", change))

    def split_line(self, page_id: str, line_id: str, at_char: int) -> str:
        """Split before character ``at_char``; returns the new (right-hand) line's id."""

        def change(page: Page) -> str:
            line = line_on(page, line_id)
            right = geometry.split(line, at_char, geometry.new_line_id(page))
            for region in page.regions:
                if line in region.lines:
                    region.lines.insert(region.lines.index(line) + 1, right)
            return right.id

        self._line(page_id, line_id)
        return self._focus(self._change_page(page_id, "Split line", change))

    def move_line(self, page_id: str, line_id: str, step: int) -> None:
        """Move a line ``step`` places in the reading order (across regions as well)."""

        def change(page: Page) -> str:
            geometry.move_in_order(page, line_id, step)
            return line_id

        self._line(page_id, line_id)
        self._change_page(page_id, "Move line", change)

    def replace_lines(self, page_id: str, found: Page, label: str = "Segment page") -> None:
        """Replace the page's regions and lines with a new segmentation."""

        def change(page: Page) -> None:
            page.regions = copy.deepcopy(found.regions)
            take_found_metadata(page, found)

        self._change_page(page_id, label, change)

    # --- the model -------------------------------------------------------------------------

    def set_model(self, model: str) -> ModelCommand:
        """Make ``model`` ("" = the default) read the project: an undo step, which the lines it
        then re-reads can join (``apply_recognition(..., into=``)."""
        command = ModelCommand(f"Use model {model or 'default'}", "", None, self.project.model, model)
        self.project.set_model(model)
        self.history.push(command)
        return command

    def set_segmenter(self, segmenter: str) -> SegmenterCommand | None:
        """Make ``segmenter`` (one of ``folder.SEGMENTERS``) find the lines of pages segmented
        from now on: an undo step, or None when it already does."""
        before = self.project.segmenter
        self.project.set_segmenter(segmenter)  # ValueError for an unknown one, before any step
        if segmenter == before:
            return None
        command = SegmenterCommand(f"Use line finder {segmenter}", "", None, before, segmenter)
        self.history.push(command)
        return command

    def apply_recognition(self, page_id: str, read: Page, into: ModelCommand | None = None) -> int:
        """Take texts from a recognized copy of the page. Lines the person corrected meanwhile,
        or deleted, are left alone. Returns the number of lines updated. The change is an undo
        step of its own ("Recognize page"), or part of ``into``."""
        if into is not None:
            return self._reread(page_id, read, into)
        updated = 0

        def change(page: Page) -> None:
            nonlocal updated
            results = {line.id: line for line in read.lines() if line.status == LineStatus.RECOGNIZED}
            for line in page.lines():
                new = results.get(line.id)
                if new is not None and line.status != LineStatus.CORRECTED and new.polygon == line.polygon:
                    LineState.of(new).put(line)
                    updated += 1

        self._change_page(page_id, "Recognize page", change, kind="texts")
        return updated

    def _reread(self, page_id: str, read: Page, into: ModelCommand) -> int:
        results = {line.id: line for line in read.lines() if line.status == LineStatus.RECOGNIZED}
        updated = 0
        for line in self.project.page_by_id(page_id).lines():
            new = results.get(line.id)
            if new is None or line.status == LineStatus.CORRECTED or new.polygon != line.polygon:
                continue
            key = (page_id, line.id)
            before = into.lines[key][0] if key in into.lines else LineState.of(line)
            LineState.of(new).put(line)
            into.lines[key] = (before, LineState.of(line))
            updated += 1
        self.project.changed(page_id, "texts")
        return updated

"""The main window: page list | page view | transcription panel, menus, and the status bar
with progress, ETA and Cancel for the job running in the background.

The window owns the open ``Project`` and its ``Editor``; views report what the person did,
the window applies it through the Editor, and the project's change events refresh the views.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mspt_app import workers
from mspt_app.settings import AppSettings
from mspt_app.widgets import dialogs, training_menu, welcome
from mspt_app.widgets.look import grey_pixmap
from mspt_app.widgets.page_list import PageList
from mspt_app.widgets.page_view import PageView
from mspt_app.widgets.palette import CharacterPalette
from mspt_app.widgets.training_menu import TrainingControl
from mspt_app.widgets.transcription import TranscriptionPanel
from mspt_core import choose
from mspt_core.document import Line
from mspt_core.errors import MsptError
from mspt_core.inputs import PAGE_SUFFIXES
from mspt_core.models import AUTO
from mspt_core.pipeline import lines_to_read
from mspt_core.project import Change, Editor, Project, find_line
from mspt_core.project.edits import ModelCommand
from mspt_core.project.folder import Rejected
from mspt_core.project.sample import projects_dir

log = logging.getLogger(__name__)

AUTOSAVE_MS = 1500  # an edit is on disk at most this long after it was made
LINE_FINDER_NAMES = {"auto": "automatic", "learned": "learned", "classical": "classical"}  # in the status line
IMAGE_FILTER = f"Page images ({' '.join('*' + suffix for suffix in sorted(PAGE_SUFFIXES))})"


class ModelChooser(QComboBox):
    """The toolbar's list of models, read again from the registry each time it opens (a model
    may have been imported or trained since)."""

    def __init__(self, refresh, parent=None):
        super().__init__(parent)
        self.refresh = refresh

    def showPopup(self) -> None:
        self.refresh()
        super().showPopup()


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None):
        super().__init__()
        self.settings = settings or AppSettings()
        self.project: Project | None = None
        self.editor: Editor | None = None
        self.page_index = -1
        self.crop_scale = 1.0  # screen pixels per page pixel of the line images (one per page)
        self.task: workers.Task | None = None
        self._least_visited: tuple[float, int, int] | None = None  # where F8 was last
        self._reading_into: ModelCommand | None = None  # the undo step a running re-read joins
        self.resize(1400, 900)

        self.page_list = PageList()
        self.page_view = PageView()
        self.panel = TranscriptionPanel()
        self.char_palette = CharacterPalette(self.settings.palette)
        self._apply_editor_settings()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.char_palette)
        right_layout.addWidget(self.panel, 1)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.page_list)
        splitter.addWidget(self.page_view)
        splitter.addWidget(right)
        splitter.setSizes([230, 620, 600])
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 1)
        splitter.setChildrenCollapsible(False)
        self.setCentralWidget(splitter)

        self.status_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.eta_label = QLabel()
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel_task)
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.progress, self.eta_label, self.cancel_button):
            row.addWidget(widget)
        # After an export: its folder, one click away (hidden again when something else happens).
        self.open_export_button = QPushButton(self.tr("Open folder"))
        self.open_export_button.setObjectName("openExportFolder")
        self.open_export_button.setVisible(False)
        self.open_export_button.clicked.connect(lambda: self.open_folder(self.last_export_folder))
        self.last_export_folder: Path | None = None
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addWidget(self.open_export_button)
        self.statusBar().addPermanentWidget(holder)
        self._show_busy(False)

        self.autosave = QTimer(self)
        self.autosave.setSingleShot(True)
        self.autosave.setInterval(AUTOSAVE_MS)
        self.autosave.timeout.connect(self.save_now)

        self._make_actions()
        self._connect_views()
        self._update_title()
        self.refresh_model_chooser()
        self._update_actions()
        self._restore_sizes()

    # --- actions and menus --------------------------------------------------------------------

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        action = QAction(self.tr(text), self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    def _make_actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu(self.tr("&File"))
        self._action(file, "&New project…", self.ask_new_project, QKeySequence.StandardKey.New)
        self._action(file, "&Open project…", self.ask_open_project, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu(self.tr("Open &recent"))
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        self.act_add = self._action(file, "&Add pages…", self.ask_add_pages, "Ctrl+Shift+A")
        self.act_add_folder = self._action(file, "Add a &folder of pages (or an export)…", self.ask_add_folder)
        self.act_export = self._action(file, "&Export…", self.ask_export, "Ctrl+E")
        file.addSeparator()
        self._action(file, "&Settings…", self.ask_settings, QKeySequence.StandardKey.Preferences)
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu(self.tr("&Edit"))
        self.act_undo = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.act_redo = self._action(edit, "&Redo", self.redo, QKeySequence.StandardKey.Redo)
        edit.addSeparator()
        self.act_confirm = self._action(edit, "&Mark line corrected", self.confirm_current, "Ctrl+Return")
        self.act_least = self._action(edit, "Next &least-confident line", self.next_least_confident, "F8")
        edit.addSeparator()
        self.act_delete = self._action(edit, "&Delete line", self.delete_current, "Ctrl+Shift+Delete")
        self.act_merge = self._action(edit, "&Join with next line", self.merge_with_next, "Ctrl+J")
        self.act_split = self._action(edit, "&Split line at cursor", self.split_at_cursor, "Ctrl+Shift+J")
        self.act_up = self._action(edit, "Move line &up in reading order", lambda: self.move_current(-1), "Alt+Up")
        self.act_down = self._action(edit, "Move line do&wn in reading order", lambda: self.move_current(1), "Alt+Down")
        edit.addSeparator()
        self.palette_actions = []
        for number in range(10):
            action = QAction(self)
            action.setShortcut(QKeySequence(f"Alt+{(number + 1) % 10}"))
            action.triggered.connect(lambda checked=False, n=number: self.insert_palette(n))
            self.addAction(action)
            self.palette_actions.append(action)

        page = bar.addMenu(self.tr("&Page"))
        self.act_prev = self._action(page, "&Previous page", lambda: self.step_page(-1), "Ctrl+PgUp")
        self.act_next = self._action(page, "&Next page", lambda: self.step_page(1), "Ctrl+PgDown")
        page.addSeparator()
        self.act_segment = self._action(page, "&Find lines (re-segment)", self.segment_current, "Ctrl+Shift+L")
        self.act_recognize = self._action(page, "&Recognize page", self.recognize_current, "Ctrl+R")
        self.act_recognize_selected = self._action(page, "Recognize &selected pages", self.recognize_selected)
        self.act_recognize_all = self._action(page, "Recognize &all pages", self.recognize_all, "Ctrl+Shift+R")
        page.addSeparator()
        self.line_finder_menu = page.addMenu(self.tr("&Line finder"))
        self.line_finder_menu.setToolTipsVisible(True)
        finders = QActionGroup(self)
        self.line_finder_actions: dict[str, QAction] = {}
        for segmenter, text, tip in (
            ("auto", "&Automatic", "The learned line finder where it is installed, else the classical one"),
            ("learned", "&Learned", "The learned line finder, trained on print, typewriting and handwriting"),
            ("classical", "&Classical (clean print)", "The classical method (projection profiles), for clean print"),
        ):
            action = self._action(
                self.line_finder_menu, text, lambda s=segmenter: self.use_line_finder(s), checkable=True
            )
            action.setToolTip(self.tr(tip))
            finders.addAction(action)
            self.line_finder_actions[segmenter] = action

        view = bar.addMenu(self.tr("&View"))
        self._action(view, "Zoom &in", lambda: self.page_view.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._action(view, "Zoom &out", lambda: self.page_view.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self._action(view, "&Fit page", self.page_view.fit, "Ctrl+0")
        view.addSeparator()
        modes = QActionGroup(self)
        self.mode_actions = {}
        for mode, text, key in (
            ("select", "&Select and pan", "F2"),
            ("points", "Edit line &points", "F3"),
            ("draw", "&Draw new line", "F4"),
        ):
            action = self._action(view, text, lambda m=mode: self.set_mode(m), key, checkable=True)
            modes.addAction(action)
            self.mode_actions[mode] = action
        self.mode_actions["select"].setChecked(True)

        self.training = TrainingControl(self)
        self.training.build_menu(bar)
        help_menu = bar.addMenu(self.tr("&Help"))
        self.act_welcome, self.act_tour = welcome.help_actions(self, help_menu)
        self._action(help_menu, "&About mspt", lambda: dialogs.show_about(self))

        tools = self.addToolBar(self.tr("Tools"))
        tools.setObjectName("tools")
        for tool in (
            self.act_undo,
            self.act_redo,
            None,
            self.act_prev,
            self.act_next,
            None,
            self.act_segment,
            self.act_recognize,
            self.act_recognize_all,
            None,
            self.act_least,
            None,
            *self.mode_actions.values(),
            None,
            self.act_export,
        ):
            tools.addSeparator() if tool is None else tools.addAction(tool)
        tools.addSeparator()
        tools.addWidget(QLabel(self.tr("Model:")))
        self.model_chooser = ModelChooser(self.refresh_model_chooser)
        self.model_chooser.setObjectName("modelChooser")
        self.model_chooser.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_chooser.setToolTip(self.tr("The model that reads this project (kept with the project)"))
        self.model_chooser.activated.connect(self._model_chosen)
        tools.addWidget(self.model_chooser)

    # --- the model that reads the project ------------------------------------------------------

    def refresh_model_chooser(self) -> None:
        """List the recognizers (the registry may have changed) and show the project's model."""
        from mspt_core.models import list_models

        chooser = self.model_chooser
        chooser.blockSignals(True)
        chooser.clear()
        automatic = choose.available()
        default = self.settings.model or (AUTO if automatic else "default")
        chooser.addItem(self.tr("Default ({m})").format(m=default), "")
        if automatic:
            chooser.addItem(self.tr("auto: print or handwriting, line by line"), AUTO)
        try:
            entries = [e for e in list_models() if e.metadata.get("kind", "recognizer") == "recognizer"]
        except MsptError as error:
            log.warning("cannot list models: %s", error)
            entries = []
        for entry in entries:
            if chooser.findData(entry.name) < 0:
                chooser.addItem(entry.name + (self.tr(" (bundled)") if entry.bundled else ""), entry.name)
        own = self.project.model if self.project is not None else ""
        if own and chooser.findData(own) < 0:
            chooser.addItem(own, own)  # a path, or a model since removed: still what the project says
        chooser.setCurrentIndex(max(chooser.findData(own), 0))
        chooser.setEnabled(self.project is not None and self.task is None)
        chooser.blockSignals(False)

    def _model_chosen(self, index: int) -> None:
        model = self.model_chooser.itemData(index)
        if self.project is not None and model != self.project.model:
            self.use_model(model)

    def _connect_views(self) -> None:
        self.page_list.currentRowChanged.connect(lambda row: self.show_page(row) if row >= 0 else None)
        self.page_view.lineClicked.connect(self.on_line_clicked)
        self.page_view.boxDrawn.connect(self.add_line)
        self.page_view.polygonEdited.connect(self.set_polygon)
        self.panel.textEdited.connect(self.on_text_edited)
        self.panel.lineFocused.connect(self.on_line_focused)
        self.panel.lineConfirmed.connect(self.on_line_confirmed)
        self.panel.pageStep.connect(self.step_page)
        self.panel.undoRequested.connect(self.undo)
        self.panel.redoRequested.connect(self.redo)
        self.char_palette.characterChosen.connect(self.insert_text)

    def _apply_editor_settings(self) -> None:
        self.panel.editor_font = self.settings.editor_font
        self.panel.threshold = self.settings.low_confidence
        self.char_palette.set_characters(self.settings.palette)

    def _update_title(self) -> None:
        name = self.project.name if self.project is not None else self.tr("no project")  # an empty one is falsy
        self.setWindowTitle(f"{name} — mspt")

    def _update_actions(self) -> None:
        has_project = self.project is not None
        has_page = self.project is not None and 0 <= self.page_index < len(self.project)
        has_line = has_page and self.current_line_id() is not None
        idle = self.task is None
        for action in (self.act_add, self.act_add_folder, self.act_export):
            action.setEnabled(has_project)
        for action in (self.act_prev, self.act_next):
            action.setEnabled(has_page)
        for action in (self.act_segment, self.act_recognize, self.act_recognize_selected, self.act_recognize_all):
            action.setEnabled(has_page and idle)
        self.model_chooser.setEnabled(has_project and idle)
        self.line_finder_menu.setEnabled(has_project)
        own = self.project.segmenter if self.project is not None else "auto"
        for segmenter, action in self.line_finder_actions.items():
            action.setChecked(segmenter == own)
        for action in (self.act_confirm, self.act_delete, self.act_merge, self.act_split, self.act_up, self.act_down):
            action.setEnabled(has_line)
        history = self.editor.history if self.editor else None
        self.act_undo.setEnabled(bool(history and history.done))
        self.act_redo.setEnabled(bool(history and history.undone))
        self.act_undo.setText(
            self.tr("&Undo") + (f" {(history.undo_label or '').lower()}" if history and history.done else "")
        )
        self.act_redo.setText(
            self.tr("&Redo") + (f" {(history.redo_label or '').lower()}" if history and history.undone else "")
        )

    # --- projects -----------------------------------------------------------------------------

    def new_project(self, folder: str | Path, name: str | None = None) -> Project | None:
        """Create a project and show it; when that fails, the open project stays open."""
        try:
            project = Project.create(folder, name)
        except MsptError as error:
            dialogs.show_error(self, self.tr("Could not create the project."), error)
            return None
        return self._switch_to(project)

    def open_project(self, folder: str | Path) -> Project | None:
        """Open a project and show it; when that fails, the open project stays open."""
        if self.project is not None and Path(folder).resolve() == self.project.root:
            return self.project  # already the one shown
        try:
            project = Project.open(folder)
        except MsptError as error:
            dialogs.show_error(self, self.tr("Could not open the project."), error)
            return None
        if self._switch_to(project) is None:
            return None
        if project.recovered_edits:  # a session that ended badly with nothing unsaved needs no word
            self.status_label.setText(
                self.tr("mspt was not closed properly last time; {n} line edits were recovered.").format(
                    n=project.recovered_edits
                )
            )
        return project

    def _switch_to(self, project: Project) -> Project | None:
        """Close the open project, then show ``project``; if the open one stays (the person
        chose so, or it could not be saved), ``project`` is closed again."""
        if not self.close_project():
            try:
                project.close()
            except MsptError as error:
                log.warning("could not close %s again: %s", project.root, error)
            return None
        self.set_project(project)
        return project

    def set_project(self, project: Project) -> None:
        self.project = project
        self.editor = Editor(project)
        project.listeners.append(self.on_change)
        self.editor.history.listeners.append(self._update_actions)
        self._least_visited = None
        self.settings.add_recent(project.root)
        self.page_index = -1
        self.page_list.set_pages(project)
        self._update_title()
        self.refresh_model_chooser()
        if len(project):
            self.show_page(0)
        else:
            self.page_view.set_page(None, None)
            self.panel.set_page(None, lambda line: None)
            self.status_label.setText(self.tr("Add page images with File → Add pages."))
        self._update_actions()

    def close_project(self) -> bool:
        """Save and close; False if the person chose to keep it open (e.g. saving failed)."""
        if self.project is None:
            return True
        if self.task is not None:
            if not self._ask(self.tr("A job is running. Stop it and close the project?")):
                return False
            self.cancel_task(wait=True)
        while True:
            try:
                self.project.close()
                break
            except MsptError as error:
                choice = QMessageBox.warning(
                    self,
                    "mspt",
                    self.tr("Your latest changes could not be saved:") + f"\n\n{error}",
                    QMessageBox.StandardButton.Retry
                    | QMessageBox.StandardButton.Discard
                    | QMessageBox.StandardButton.Cancel,
                    QMessageBox.StandardButton.Retry,
                )
                if choice == QMessageBox.StandardButton.Cancel:
                    return False
                if choice == QMessageBox.StandardButton.Discard:
                    break  # the journal and lock stay, so the next open still recovers the edits
        self.autosave.stop()
        self.project = None
        self.editor = None
        self.page_index = -1
        self.page_list.set_pages(None)
        self.page_view.set_page(None, None)
        self.panel.set_page(None, lambda line: None)
        self._update_title()
        self.refresh_model_chooser()
        self._update_actions()
        return True

    def add_pages(self, paths: Sequence[str | Path]) -> list[int]:
        if self.project is None:
            return []
        rejected: list[Rejected] = []
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            added = self.project.add_files(paths, rejected=rejected)
        except MsptError as error:  # e.g. the project folder refused the copy
            added = []
            dialogs.show_error(self, self.tr("Could not add the pages."), error)
        finally:
            QApplication.restoreOverrideCursor()
        if added:
            self.show_page(added[0])
        if rejected:
            dialogs.show_rejected(self, rejected, len(added))
        self._update_actions()
        return added

    def save_now(self) -> bool:
        if self.project is None:
            return True
        try:
            self.project.save()
        except MsptError as error:
            self.status_label.setText(self.tr("Saving failed — will retry"))
            dialogs.show_error(self, self.tr("Your changes could not be saved."), error)
            return False
        return True

    # --- pages --------------------------------------------------------------------------------

    def show_page(self, index: int, focus_line: str | None = None, keep_view: bool = False) -> None:
        if self.project is None or not 0 <= index < len(self.project):
            return
        if self.editor:
            self.editor.history.break_merge()
        same = index == self.page_index
        self.page_index = index
        try:
            page = self.project.page(index)
            grey = self.project.grey(index)  # checks the image (a pipe, damage, a bomb) before Qt reads it
        except MsptError as error:
            self.page_view.set_page(None, None)  # not the page shown before, which may be another project's
            self.panel.set_page(None, lambda line: None)
            dialogs.show_error(self, self.tr("Could not read this page."), error)
            return
        pixmap = QPixmap(str(self.project.image_path(index)))
        if pixmap.isNull():
            pixmap = grey_pixmap(grey)  # formats Qt cannot decode
        self.page_view.set_page(page, pixmap, keep_view=keep_view and same)
        self.crop_scale = self._page_crop_scale(page)
        self.panel.set_page(page, self.line_crop)
        if self.page_list.currentRow() != index:
            self.page_list.blockSignals(True)
            self.page_list.setCurrentRow(index)
            self.page_list.blockSignals(False)
        self._show_page_status()
        if focus_line:
            self.focus_line(focus_line)
        self._update_actions()

    def _show_page_status(self) -> None:
        if self.task is not None or self.project is None or self.page_index < 0:
            return  # the running job's progress has the status line
        corrected, total = self.project.progress(self.page_index)
        status = self.tr("Page {p} of {n}: {c}/{t} lines corrected").format(
            p=self.page_index + 1, n=len(self.project), c=corrected, t=total
        )
        said = self.project.page(self.page_index).metadata  # what segmentation left out, said
        if "library_banner" in said:  # layout.banner
            status += self.tr(" · the library's banner along the scan's edge was not taken for text")
        if said.get("faint_lines"):  # layout.faint
            faint = said["faint_lines"]
            status += (
                self.tr(" · 1 line far fainter than the page's writing was not taken for text")
                if faint == "1"
                else self.tr(" · {n} lines far fainter than the page's writing were not taken for text").format(n=faint)
            )
        self.status_label.setText(status)

    def step_page(self, step: int) -> None:
        if self.project and 0 <= self.page_index + step < len(self.project):
            self.show_page(self.page_index + step)
            if self.panel.order:
                self.focus_line(self.panel.order[0] if step > 0 else self.panel.order[-1])

    def line_crop(self, line: Line) -> QPixmap | None:
        """The line's image at the page's one scale (``crop_scale``): a heading shows as much
        larger than the text below as it is on the page."""
        import cv2

        from mspt_core.layout.crop import place_line

        try:
            placed = place_line(self._project().grey(self.page_index), line, self.settings.line_height)
        except (ValueError, MsptError):
            return None
        factor = self.crop_scale / placed.scale  # from the line's own scale to the page's
        height, width = placed.image.shape
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        return grey_pixmap(
            cv2.resize(placed.image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
        )

    def _page_crop_scale(self, page) -> float:
        """Screen pixels per page pixel for the page's line images: its typical (median) line
        is shown ``line_height`` high."""
        heights = sorted(y1 - y0 for line in page.lines() if len(line.polygon) >= 3 for _, y0, _, y1 in [line.bbox()])
        typical = heights[len(heights) // 2] if heights else 0
        return self.settings.line_height / typical if typical > 0 else 1.0

    def _project(self) -> Project:
        assert self.project is not None, "called only while a project is open"
        return self.project

    def _editor(self) -> Editor:
        assert self.editor is not None, "called only while a project is open"
        return self.editor

    def _page_id(self) -> str:
        page_id = self.current_page_id()
        assert page_id is not None, "called only while a page is shown"
        return page_id

    def current_page_id(self) -> str | None:
        if self.project is None or not 0 <= self.page_index < len(self.project):
            return None
        return self.project.entries[self.page_index].id

    def current_line_id(self) -> str | None:
        return self.panel.current or self.page_view.selected

    # --- views → model ------------------------------------------------------------------------

    def focus_line(self, line_id: str, cursor_at: int | None = None) -> None:
        self.panel.focus_line(line_id, cursor_at)
        self.page_view.select_line(line_id)
        self._update_actions()

    def on_line_clicked(self, line_id: str) -> None:
        self.focus_line(line_id)

    def on_line_focused(self, line_id: str) -> None:
        self._editor().history.break_merge()
        self.page_view.select_line(line_id)
        self._update_actions()

    def on_text_edited(self, line_id: str, text: str) -> None:
        self._editor().set_text(self._page_id(), line_id, text)

    def on_line_confirmed(self, line_id: str) -> None:
        self._editor().confirm(self._page_id(), line_id)

    def on_change(self, change: Change) -> None:
        """The project changed: refresh what shows it and schedule the autosave."""
        if not self.autosave.isActive():
            self.autosave.start()  # not restarted by later edits: saved within AUTOSAVE_MS of the first
        if change.kind == "pages":
            self.page_list.set_pages(self.project)
            return
        if change.kind == "model":
            self.refresh_model_chooser()
            return
        if change.kind == "segmenter":
            self._update_actions()  # shows the project's line finder
            return
        assert change.page_id is not None, "changes to lines name their page"
        index = self._project().index_of(change.page_id)
        self.page_list.update_progress(self.project, index)
        if index != self.page_index:
            return
        if change.kind == "text":
            self._show_page_status()
            line = find_line(self._project().page(index), change.line_id) if change.line_id else None
            if line is not None:
                self.panel.update_line(line)
                self.page_view.update_line(line)
        elif change.kind == "texts" and list(self.panel.order) == [
            line.id for line in self._project().page(index).lines()
        ]:
            for line in self._project().page(index).lines():
                self.panel.update_line(line)
                self.page_view.update_line(line)
        else:
            focus = change.line_id or self.current_line_id()
            self.show_page(index, keep_view=True)
            if focus and focus in self.panel.rows:
                self.focus_line(focus)

    def undo(self) -> None:
        history = self.editor.history if self.editor else None
        if history and history.done and history.done[-1] is self._reading_into:
            self.cancel_task(wait=True)  # the re-reading that step holds stops before it is undone
        self._after_history(self.editor.undo() if self.editor else None)

    def redo(self) -> None:
        self._after_history(self.editor.redo() if self.editor else None)

    def _after_history(self, command) -> None:
        if command is None or not command.page_id:
            return  # nothing to show (e.g. the project's model)
        index = self._project().index_of(command.page_id)
        if index != self.page_index:
            self.show_page(index)
        if command.line_id and command.line_id in self.panel.rows:
            self.focus_line(command.line_id)

    def confirm_current(self) -> None:
        line_id = self.current_line_id()
        if line_id:
            self._editor().confirm(self._page_id(), line_id)

    def next_least_confident(self) -> None:
        if self.project is None:
            return
        places = self.project.least_confident_lines()
        if not places:
            self.status_label.setText(self.tr("No recognized line left to check."))
            return
        # Visit in confidence order, going on from the line F8 visited last (corrected since,
        # or skipped): never back to a skipped line before the end of the list.
        after = self._least_visited
        place = next((p for p in places if after is None or p.order > after), None)
        wrapped = place is None
        place = place or places[0]
        self._least_visited = place.order
        if place.page_index != self.page_index:
            self.show_page(place.page_index)
        self.focus_line(place.line_id)
        message = self.tr("Least confident line: {c:.0%} confidence").format(c=place.confidence)
        if wrapped:
            message = self.tr("Back to the least confident line: {c:.0%} confidence").format(c=place.confidence)
        self.status_label.setText(message)

    def insert_text(self, text: str) -> None:
        editor = self.panel.current_editor()
        if editor is not None:
            editor.setFocus()
            editor.insertPlainText(text)

    def insert_palette(self, number: int) -> None:
        if number < len(self.char_palette.characters):
            self.insert_text(self.char_palette.characters[number])

    # --- segmentation editing -----------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        self.mode_actions[mode].setChecked(True)
        self.page_view.set_mode(mode)

    def add_line(self, polygon: list) -> None:
        line_id = self._editor().add_line(self._page_id(), polygon)
        self.focus_line(line_id)

    def set_polygon(self, line_id: str, polygon: list) -> None:
        self._editor().set_polygon(self._page_id(), line_id, polygon)

    def delete_current(self) -> None:
        line_id = self.current_line_id()
        if line_id:
            self.panel.current = None
            self.page_view.selected = None
            following = self._editor().delete_line(self._page_id(), line_id)
            if following:
                self.focus_line(following)

    def merge_with_next(self) -> None:
        line_id = self.current_line_id()
        order = self.panel.order
        if line_id in order and order.index(line_id) + 1 < len(order):
            self._editor().merge_lines(self._page_id(), line_id, order[order.index(line_id) + 1])

    def split_at_cursor(self) -> None:
        line_id = self.current_line_id()
        editor = self.panel.current_editor()
        if line_id:
            line = find_line(self._project().page(self.page_index), line_id)
            at = editor.textCursor().position() if editor else len(line.text if line else "") // 2
            new_id = self._editor().split_line(self._page_id(), line_id, at)
            self.focus_line(new_id, cursor_at=0)

    def move_current(self, step: int) -> None:
        line_id = self.current_line_id()
        if line_id:
            self._editor().move_line(self._page_id(), line_id, step)

    # --- background jobs ----------------------------------------------------------------------

    def segment_current(self) -> None:
        if self.project is None or self.page_index < 0:
            return
        page = self.project.page(self.page_index)
        if any(line.text for line in page.lines()) and not self._ask(
            self.tr("Finding lines again replaces this page's lines and their text. Continue?")
        ):
            return
        entry = self.project.entries[self.page_index]
        self.start_task(
            workers.Task(
                self.tr("Finding lines"),
                workers.segmentation_job(
                    [(entry.id, self.project.image_path(self.page_index))], self.project.segmenter
                ),
            )
        )

    def recognize_current(self) -> None:
        self.recognize([self.page_index])

    def recognize_selected(self) -> None:
        self.recognize(self.page_list.selected_indices() or [self.page_index])

    def recognize_all(self) -> None:
        self.recognize(list(range(len(self.project))) if self.project else [])

    def reading_model(self) -> str:
        """The model that reads the open project: its own, else the default of the settings
        ("" = the bundled default)."""
        own = self.project.model if self.project is not None else ""
        return own or self.settings.model

    def recognize(self, indices: list[int], into: ModelCommand | None = None) -> None:
        """Recognize pages with the project's model; pages without lines are segmented first.
        The results are one undo step per page, or part of ``into``."""
        if self.project is None or self.task is not None or not indices:
            return
        self.save_now()
        items = workers.pages_to_read(self.project, indices)
        job = workers.recognition_job(items, self.reading_model() or None, self.settings.device, self.project.segmenter)
        self._reading_into = into
        self.start_task(workers.Task(self.tr("Recognition"), job))

    def use_model(self, model: str, reread: Sequence[int] = ()) -> ModelCommand | None:
        """Make ``model`` ("" = the default) read this project only: one undo step, which also
        holds the lines nobody corrected on pages ``reread``, read again by the model."""
        if self.project is None or self.editor is None or (reread and self.task is not None):
            return None
        command = self.editor.set_model(model)
        self.status_label.setText(self.tr("This project is now read by {m}").format(m=model or self.tr("the default")))
        # Pages without lines are left out: finding their lines would be undo steps of their own.
        indices = [i for i in reread if 0 <= i < len(self.project) and lines_to_read(self.project.page(i))]
        if indices:
            self.recognize(indices, into=command)
        return command

    def use_line_finder(self, segmenter: str) -> None:
        """Make ``segmenter`` ("auto", "learned" or "classical") find the lines of this project's
        pages segmented from now on: one undo step. Lines already found stay as they are."""
        if self.project is None or self.editor is None:
            return
        command = self.editor.set_segmenter(segmenter)
        self._update_actions()  # also puts the check back where it was when nothing changed
        if command is not None:
            self.status_label.setText(
                self.tr(
                    "This project now finds lines with the {f} line finder, on pages segmented from now on; "
                    "Page → Find lines (re-segment) does a page again"
                ).format(f=LINE_FINDER_NAMES.get(segmenter, segmenter))
            )

    def start_task(self, task: workers.Task) -> None:
        self.task = task
        task.progressed.connect(self._on_progress)
        task.partial.connect(self._on_partial)
        task.succeeded.connect(lambda value: self._task_done(self.tr("{t} finished").format(t=task.title)))
        task.cancelled.connect(lambda: self._task_done(self.tr("{t} cancelled").format(t=task.title)))
        task.failed.connect(lambda message, details: self._task_failed(task.title, message, details))
        task.finished.connect(task.deleteLater)
        self._show_busy(True)
        self.progress.setRange(0, 0)
        self.status_label.setText(task.title + "…")
        self._update_actions()
        task.start()

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if self.task is None:
            return
        if total <= 0:
            self.progress.setRange(0, 0)  # busy indicator while nothing can be counted yet
        else:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        eta = workers.eta_seconds(self.task.started_at, done, total) if total else None
        self.eta_label.setText(self.tr("about {s} s left").format(s=int(eta + 0.5)) if eta is not None else "")
        self.status_label.setText(f"{message} {done}/{total}" if total else message)

    def _on_partial(self, value) -> None:
        kind, page_id, page = value
        if self.project is None:
            return
        try:
            self.project.index_of(page_id)
        except KeyError:
            return  # the page was removed meanwhile
        if kind == "lines":
            self._editor().replace_lines(page_id, page)
        else:
            self._editor().apply_recognition(page_id, page, into=self._reading_into)

    def _task_done(self, message: str) -> None:
        self.task = None
        self._reading_into = None
        self._show_busy(False)
        self.status_label.setText(message)
        self._update_actions()

    def _task_failed(self, title: str, message: str, details: str) -> None:
        self._task_done(self.tr("{t} failed").format(t=title))
        dialogs.show_error(self, self.tr("{t} failed.").format(t=title), message, details)

    def cancel_task(self, wait: bool = False) -> None:
        task = self.task
        if task is None:
            return
        task.cancel()
        self.cancel_button.setEnabled(False)
        self.status_label.setText(self.tr("Stopping…"))
        if wait:
            task.wait()
            QApplication.processEvents()  # deliver the finished signals
            self._task_done(self.tr("{t} cancelled").format(t=task.title))

    def _show_busy(self, busy: bool) -> None:
        for widget in (self.progress, self.eta_label, self.cancel_button):
            widget.setVisible(busy)
        self.cancel_button.setEnabled(busy)
        self.eta_label.setText("")

    # --- export and settings ------------------------------------------------------------------

    def export(self, indices: list[int], formats: list[str], folder: str | Path) -> list[Path]:
        if self.project is None:
            return []
        self.save_now()
        written: list[Path] = []
        notes: list[str] = []
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            for fmt in formats:
                written += self.project.export(indices, fmt, folder, notes)
        except (MsptError, OSError) as error:
            dialogs.show_error(self, self.tr("Export failed."), error)
        finally:
            QApplication.restoreOverrideCursor()
        if written:
            self.status_label.setText(self.tr("Exported {n} files to {f}").format(n=len(written), f=folder))
            self.last_export_folder = Path(folder)
            self.open_export_button.setVisible(True)
        if written and notes:
            dialogs.show_export_notes(self, notes, written, Path(folder))
        return written

    def open_folder(self, folder: Path | None) -> None:
        """Show ``folder`` in the system's file manager."""
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def ask_export(self) -> None:
        if self.project is None:
            return
        dialog = dialogs.ExportDialog(
            len(self.project), self.page_list.selected_indices(), self.page_index, self.project.root / "export", self
        )
        if dialog.exec():
            self.export(*dialog.choice())

    def ask_settings(self) -> None:
        dialog = dialogs.SettingsDialog(self.settings, self)
        if dialog.exec():
            dialog.apply()
            self._apply_editor_settings()
            self.refresh_model_chooser()  # the default model may have changed
            if self.page_index >= 0:
                self.show_page(self.page_index, keep_view=True)

    # --- file dialogs -------------------------------------------------------------------------

    def ask_new_project(self) -> dialogs.NewProjectDialog:
        dialog = dialogs.NewProjectDialog(projects_dir(), self)
        dialog.accepted.connect(lambda: self.new_project(dialog.folder(), dialog.name()))
        dialog.open()
        return dialog

    def ask_open_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Open project folder"), str(projects_dir()))
        if folder:
            self.open_project(folder)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_projects:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_project(p))

    def ask_add_pages(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, self.tr("Add pages"), "", self.tr(IMAGE_FILTER))
        if files:
            self.add_pages(files)

    def ask_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Add a folder of pages"))
        if folder:
            self.add_pages([folder])

    def _ask(self, question: str) -> bool:
        answer = QMessageBox.question(self, "mspt", question)
        return answer == QMessageBox.StandardButton.Yes

    # --- closing ------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        # Both questions first (running training, then unsaved work); act only when both agree.
        choice = self.training.ask_close()
        if choice != training_menu.STAY and self.close_project():
            self.training.apply_close(choice)
            self.settings.window_state = (self.saveGeometry(), self.splitter.saveState())
            event.accept()
        else:
            event.ignore()

    def _restore_sizes(self) -> None:
        """The window's size and place and the split between its parts, as last closed."""
        geometry, splitter = self.settings.window_state
        if geometry is not None:
            self.restoreGeometry(geometry)
        if splitter is not None:
            self.splitter.restoreState(splitter)

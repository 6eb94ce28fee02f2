"""First run: the welcome panel and the tour of the main steps.

The welcome panel comes up when the app starts with no project to open (unless the person chose
not to see it again); it offers the sample project, a new or an existing project, the tour, and
says whether a GPU was found (the About box's sentence, ``gpu_summary``). The tour names, for each
step, the real menu entry, its shortcut, and lights up its toolbar button. Both are also under
Help.
"""

from __future__ import annotations

import logging
import operator
from dataclasses import dataclass

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolBar,
    QVBoxLayout,
)

from mspt_app.widgets import dialogs
from mspt_core.errors import MsptError

log = logging.getLogger(__name__)

HIGHLIGHT = "QToolButton { border: 2px solid #e08a00; border-radius: 4px; background: #fff1d6; }"


@dataclass(frozen=True)
class TourStep:
    title: str
    text: str
    actions: tuple[str, ...]  # the main window's attributes holding the step's actions


TOUR = (
    TourStep(
        "Add your pages",
        "Bring in scans or PDFs (PNG, JPEG, TIFF, PDF…). They are copied into the project folder; "
        "your files are not changed. A folder exported from Transkribus or eScriptorium comes in "
        "with its lines and text.",
        ("act_add", "act_add_folder"),
    ),
    TourStep(
        "Find and read the lines",
        "Recognize reads a page, or all of them; it finds the lines first on a page that has none. "
        "Find lines only finds them again. Both run in the background: the status bar shows the "
        "time left and a Cancel button.",
        ("act_recognize", "act_recognize_all", "act_segment"),
    ),
    TourStep(
        "Correct",
        "Click a line on the scan or in the panel on the right and type. Red and orange lines are "
        "the ones the model was unsure of. Enter accepts a line and goes to the next one; Ctrl+Z "
        "undoes. Your work is saved by itself every few seconds.",
        ("act_confirm", "act_least"),
    ),
    TourStep(
        "Teach the model your documents",
        "Once a few pages are corrected, fine-tune: mspt learns your hands or typefaces from your "
        "corrections, then can read again the lines nobody corrected.",
        ("training.act_finetune",),
    ),
    TourStep(
        "Export",
        "Save the text as plain text, PAGE XML, ALTO, hOCR or a searchable PDF, for one page or all.",
        ("act_export",),
    ),
)


def plain(text: str) -> str:
    """A menu text without its keyboard mnemonic ("&Add pages…" → "Add pages…")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def find_action(window, name: str) -> QAction:
    return operator.attrgetter(name)(window)


def menu_path(window, action: QAction) -> str | None:
    """Where the action sits in the menu bar ("Page ▸ Recognize page"), or None if it is in no menu."""

    def search(menu, trail: list[str]) -> list[str] | None:
        for item in menu.actions():
            if item is action:
                return [*trail, plain(item.text())]
            if item.menu() is not None:
                found = search(item.menu(), [*trail, plain(item.text())])
                if found:
                    return found
        return None

    for top in window.menuBar().actions():
        if top.menu() is not None:
            found = search(top.menu(), [plain(top.text())])
            if found:
                return " ▸ ".join(found)
    return None


def toolbar_buttons(window, action: QAction) -> list:
    return [
        bar.widgetForAction(action)
        for bar in window.findChildren(QToolBar)
        if action in bar.actions() and bar.widgetForAction(action) is not None
    ]


def where(window, action: QAction) -> str:
    """How a person reaches the action: "Page ▸ Recognize page (Ctrl+R), also in the toolbar"."""
    text = menu_path(window, action) or plain(action.text())
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    if keys:
        text += f" ({keys})"
    if toolbar_buttons(window, action):
        text += window.tr(", also in the toolbar")
    return text


class TourDialog(QDialog):
    """A few steps, each naming the menu entries that do it; Back / Next / Close. It does not
    block the window, so the person can try each step while reading it."""

    def __init__(self, window):
        super().__init__(window)
        self.main = window
        self.index = 0
        self.highlighted: list = []  # (toolbar button, its own style sheet) lit up for this step
        self.setObjectName("tourDialog")
        self.setWindowTitle(self.tr("Tour of the main steps"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        self.counter = QLabel()
        self.title = QLabel()
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.title.setFont(font)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.where = QLabel()
        self.where.setWordWrap(True)
        self.where.setTextFormat(Qt.TextFormat.PlainText)
        for label in (self.counter, self.title, self.text, self.where):
            layout.addWidget(label)
        row = QHBoxLayout()
        self.back_button = QPushButton(self.tr("&Back"))
        self.next_button = QPushButton(self.tr("&Next"))
        self.close_button = QPushButton(self.tr("&Close"))
        self.back_button.clicked.connect(lambda: self.show_step(self.index - 1))
        self.next_button.clicked.connect(lambda: self.show_step(self.index + 1))
        self.close_button.clicked.connect(self.reject)
        row.addWidget(self.back_button)
        row.addStretch(1)
        row.addWidget(self.next_button)
        row.addWidget(self.close_button)
        layout.addLayout(row)
        self.setMinimumWidth(460)
        self.finished.connect(lambda _=0: self._light(()))
        self.show_step(0)

    def show_step(self, index: int) -> None:
        self.index = index = min(max(index, 0), len(TOUR) - 1)
        step = TOUR[index]
        actions = [find_action(self.main, name) for name in step.actions]
        self.counter.setText(self.tr("Step {n} of {total}").format(n=index + 1, total=len(TOUR)))
        self.title.setText(self.tr(step.title))
        self.text.setText(self.tr(step.text))
        self.where.setText("\n".join("→ " + where(self.main, action) for action in actions))
        self.back_button.setEnabled(index > 0)
        last = index == len(TOUR) - 1
        self.next_button.setEnabled(not last)
        # Enter goes on; on the last step it closes.
        (self.close_button if last else self.next_button).setDefault(True)
        (self.next_button if last else self.close_button).setDefault(False)
        (self.close_button if last else self.next_button).setFocus()
        self._light(actions)

    def _light(self, actions) -> None:
        """Light up the toolbar buttons of ``actions``; the previous step's go back to normal."""
        for button, sheet in self.highlighted:
            button.setStyleSheet(sheet)
        self.highlighted = []
        for action in actions:
            for button in toolbar_buttons(self.main, action):
                self.highlighted.append((button, button.styleSheet()))
                button.setStyleSheet(HIGHLIGHT)


def show_tour(window) -> TourDialog:
    """The tour, beside the window's toolbar; the one already shown if there is one."""
    shown = [d for d in window.findChildren(TourDialog) if d.isVisible()]
    if shown:
        shown[0].raise_()
        shown[0].activateWindow()
        return shown[0]
    tour = TourDialog(window)
    tour.adjustSize()
    tour.move(window.mapToGlobal(QPoint(max(0, window.width() - tour.width() - 40), 120)))
    tour.show()
    return tour


class WelcomeDialog(QDialog):
    """Where to begin: the sample project, a new or an existing one, or the tour; and whether
    mspt found a GPU. "Don't show this again" is kept in the settings when the panel closes."""

    def __init__(self, window):
        super().__init__(window)
        from mspt_core.devices import gpu_summary
        from mspt_core.project.sample import SAMPLE_IMAGE

        self.main = window
        self.over = False
        self.setObjectName("welcomeDialog")
        self.setWindowTitle(self.tr("Welcome to mspt"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        heading = QLabel(self.tr("Welcome to mspt"))
        font = heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.4)
        heading.setFont(font)
        layout.addWidget(heading)
        intro = QLabel(
            self.tr(
                "mspt reads the text on your page scans; you correct it, and it learns from your "
                "corrections. Where do you want to begin?"
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        self.sample_button = QPushButton(self.tr("Open the &sample project"))
        self.sample_button.setEnabled(SAMPLE_IMAGE.is_file())
        self.sample_button.setDefault(True)
        self.sample_button.clicked.connect(self.open_sample)
        self.new_button = QPushButton(self.tr("&New project…"))
        self.new_button.clicked.connect(lambda: self._then(self.main.ask_new_project))
        self.open_button = QPushButton(self.tr("&Open a project…"))
        self.open_button.clicked.connect(lambda: self._then(self.main.ask_open_project))
        self.tour_button = QPushButton(self.tr("Take the &tour ({n} steps)").format(n=len(TOUR)))
        self.tour_button.clicked.connect(self.take_tour)
        for button, note in (
            (self.sample_button, "One printed page, its lines already found: press Recognize, then correct."),
            (self.new_button, "Name a project, then add your own scans."),
            (self.open_button, "A project folder made before, by you or a colleague."),
            (self.tour_button, "What each step is called and where it is in the menus."),
        ):
            row = QHBoxLayout()
            button.setMinimumWidth(220)
            row.addWidget(button)
            label = QLabel(self.tr(note))
            label.setWordWrap(True)
            label.setBuddy(button)
            row.addWidget(label, 1)
            layout.addLayout(row)

        self.gpu_label = QLabel(gpu_summary())  # the About box's sentence, word for word
        self.gpu_label.setObjectName("gpuSentence")
        self.gpu_label.setTextFormat(Qt.TextFormat.PlainText)
        self.gpu_label.setWordWrap(True)
        # Selectable from the keyboard too: the install command can be copied.
        self.gpu_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        layout.addSpacing(8)
        layout.addWidget(self.gpu_label)

        self.dont_show = QCheckBox(self.tr("&Don't show this at start again (it stays under Help)"))
        self.dont_show.setChecked(not window.settings.show_welcome)
        layout.addWidget(self.dont_show)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.finished.connect(self._remember)
        self.setMinimumWidth(620)

    def _remember(self, _result: int = 0) -> None:
        self.over = True  # closed: deleted soon, not to be shown again
        self.main.settings.show_welcome = not self.dont_show.isChecked()

    def _then(self, step) -> None:
        """Close the panel, then do ``step`` (a dialog of the window's own)."""
        self.accept()
        step()

    def open_sample(self) -> None:
        from mspt_core.project.sample import sample_project

        self.accept()
        try:
            folder = sample_project()
        except (MsptError, OSError) as error:
            dialogs.show_error(self.main, self.tr("Could not make the sample project."), error)
            return
        if folder is None:  # the button is off then; a file removed since is said plainly
            dialogs.show_error(self.main, self.tr("Could not make the sample project."), "no sample page is installed")
            return
        self.main.open_project(folder)

    def take_tour(self) -> None:
        """The tour in the panel's place; the panel comes back after it unless a project was opened meanwhile."""
        self.hide()
        tour = show_tour(self.main)
        tour.finished.connect(self._after_tour)

    def _after_tour(self, _result: int = 0) -> None:
        if self.main.project is None:
            self.open()
        else:
            self.done(QDialog.DialogCode.Rejected)


def show_welcome(window) -> WelcomeDialog:
    """The welcome panel; the one already there if there is one (hidden while its tour runs)."""
    shown = [d for d in window.findChildren(WelcomeDialog) if not d.over]
    if shown:
        if not shown[0].isVisible():
            shown[0].open()
        shown[0].raise_()
        return shown[0]
    dialog = WelcomeDialog(window)
    dialog.open()
    dialog.sample_button.setFocus()
    return dialog


def offer_at_start(window) -> WelcomeDialog | None:
    """At a start with no project to open: the welcome panel, unless the person turned it off.
    A line in the status bar says where to begin once the panel is closed, or in its place."""
    window.status_label.setText(
        window.tr("Open or make a project in the File menu; Help ▸ Welcome offers the sample project.")
    )
    return show_welcome(window) if window.settings.show_welcome else None


def help_actions(window, menu) -> tuple[QAction, QAction]:
    """Help ▸ Welcome… and Help ▸ Tour…, for later."""
    return (
        window._action(menu, "&Welcome and sample project…", lambda: show_welcome(window)),
        window._action(menu, "&Tour of the main steps…", lambda: show_tour(window)),
    )

"""After fine-tuning: which pages the new model reads again. It becomes the model of the open
project only; the pages ticked here have their uncorrected lines read again (corrected lines
never are), all of it one undo step (``MainWindow.use_model``). Pages whose corrected lines the
model was trained on start unticked: their remaining lines are the person's work in progress."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from mspt_core.project import Project


class RereadDialog(QDialog):
    def __init__(self, project: Project, model: str, trained_pages: set[str], parent=None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("Use “{m}” for this project").format(m=model))
        intro = QLabel(
            self.tr(
                "“{m}” becomes the model of this project (your other projects keep theirs). Tick the pages "
                "whose uncorrected lines it should read again; lines you corrected are never changed. "
                "One Undo takes back the model and everything it read."
            ).format(m=model)
        )
        intro.setWordWrap(True)
        self.pages = QListWidget()
        for index, entry in enumerate(project.entries):
            corrected, lines = project.progress(index)
            uncorrected = lines - corrected
            text = f"{index + 1}. {Path(entry.image).stem} — " + (
                self.tr("{n} uncorrected lines").format(n=uncorrected)
                if uncorrected
                else self.tr("no uncorrected line")
            )
            if entry.id in trained_pages:
                text += self.tr(" (trained on)")
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, index)
            if uncorrected:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = entry.id not in trained_pages
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            else:  # nothing to read again
                item.setFlags(item.flags() & ~(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable))
            self.pages.addItem(item)
        self.count_label = QLabel()
        self.all_button = QPushButton(self.tr("All pages"))
        self.all_button.clicked.connect(lambda: self._tick_all(Qt.CheckState.Checked))
        self.none_button = QPushButton(self.tr("None"))
        self.none_button.clicked.connect(lambda: self._tick_all(Qt.CheckState.Unchecked))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.all_button)
        row.addWidget(self.none_button)
        row.addWidget(self.count_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.pages, 1)
        layout.addLayout(row)
        layout.addWidget(self.buttons)
        self.pages.itemChanged.connect(self._update)
        self._update()
        self.resize(560, 480)

    def _items(self) -> list[QListWidgetItem]:
        return [self.pages.item(row) for row in range(self.pages.count())]

    def _tickable(self) -> list[QListWidgetItem]:
        return [item for item in self._items() if item.flags() & Qt.ItemFlag.ItemIsEnabled]

    def _tick_all(self, state: Qt.CheckState) -> None:
        for item in self._tickable():
            item.setCheckState(state)

    def chosen(self) -> list[int]:
        """The indices of the ticked pages."""
        ticked = [item for item in self._tickable() if item.checkState() == Qt.CheckState.Checked]
        return [item.data(Qt.ItemDataRole.UserRole) for item in ticked]

    def _update(self) -> None:
        count = len(self.chosen())
        self.count_label.setText(self.tr("{n} pages ticked").format(n=count))
        self.ok_button.setText(
            self.tr("Use it and re-read {n} pages").format(n=count) if count else self.tr("Use it, re-read nothing")
        )

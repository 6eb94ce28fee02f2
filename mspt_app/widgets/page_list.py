"""The project's pages: a thumbnail each and how many of its lines are corrected. A name too
long for the list is cut in the middle (its start and its page number stay), whole in the tooltip."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

from mspt_core.inputs import file_problem

THUMB = QSize(72, 96)
NAME_ROLE = Qt.ItemDataRole.UserRole  # the page's whole name ("3. scan_0003")
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1  # "12/30 corrected"


def thumbnail(path: Path) -> QPixmap:
    """A small picture of the page, decoded at reduced size (fast even for large scans); grey when
    the file is not a readable image (Qt would wait forever on a pipe)."""
    image = QImage()
    if file_problem(path) is None:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
    if image.isNull():
        pixmap = QPixmap(THUMB)
        pixmap.fill(QColor(200, 200, 200))
        return pixmap
    return QPixmap.fromImage(image)


class PageList(QListWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setIconSize(THUMB)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self._thumbs: dict[str, QPixmap] = {}

    def set_pages(self, project) -> None:
        self.blockSignals(True)
        current = self.currentRow()
        self.clear()
        for index in range(len(project.entries) if project else 0):
            path = project.image_path(index)
            if str(path) not in self._thumbs:
                self._thumbs[str(path)] = thumbnail(path)
            item = QListWidgetItem(QIcon(self._thumbs[str(path)]), "")
            self.addItem(item)
            self.update_progress(project, index)
        if self.count():
            self.setCurrentRow(min(max(current, 0), self.count() - 1))
        self.blockSignals(False)

    def update_progress(self, project, index: int) -> None:
        item = self.item(index)
        if item is None:
            return
        corrected, total = project.progress(index)
        name = f"{index + 1}. {Path(project.entries[index].image).stem}"
        item.setData(NAME_ROLE, name)
        item.setData(PROGRESS_ROLE, f"{corrected}/{total} " + self.tr("corrected"))
        self._show_text(item)
        item.setToolTip(f"{name}\n{project.image_path(index)}")
        done = total and corrected == total
        item.setForeground(QColor(30, 100, 220) if done else self.palette().text().color())

    def text_width(self) -> int:
        """Pixels the text beside a thumbnail has."""
        return max(self.viewport().width() - self.iconSize().width() - 4 * self.spacing() - 16, 40)

    def _show_text(self, item: QListWidgetItem) -> None:
        name = self.fontMetrics().elidedText(item.data(NAME_ROLE), Qt.TextElideMode.ElideMiddle, self.text_width())
        item.setText(f"{name}\n{item.data(PROGRESS_ROLE)}")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        for row in range(self.count()):
            if self.item(row).data(NAME_ROLE) is not None:
                self._show_text(self.item(row))

    def selected_indices(self) -> list[int]:
        return sorted(self.row(item) for item in self.selectedItems())

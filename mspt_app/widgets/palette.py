"""Special characters one click (or Alt+digit) away: long s, ligatures, abbreviation marks,
combining accents. The set is configurable in the settings. The buttons wrap onto more rows
when the panel is narrow, so the palette never dictates how wide the panel must be."""

from __future__ import annotations

import unicodedata

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QToolButton, QWidget

from mspt_app.settings import COMBINING_MARK, palette_characters


def label_for(character: str) -> str:
    """Combining accents are shown on a dotted circle so the button is not blank."""
    return COMBINING_MARK + character if unicodedata.combining(character[:1] or " ") else character


def describe(character: str) -> str:
    return " + ".join(unicodedata.name(c, f"U+{ord(c):04X}").lower() for c in character)


class FlowLayout(QLayout):
    """Widgets left to right, wrapping onto the next row when the width runs out (as words
    in a paragraph); its minimum width is that of its widest item."""

    def __init__(self, parent=None, spacing: int = 1):
        super().__init__(parent)
        self.items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item) -> None:
        self.items.append(item)

    def count(self) -> int:
        return len(self.items)

    def itemAt(self, index: int):
        return self.items[index] if 0 <= index < len(self.items) else None

    def takeAt(self, index: int):
        return self.items.pop(index) if 0 <= index < len(self.items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self.items:
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in ``rect`` (only measuring unless ``move``); the height used."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        x, y, row_height = area.x(), area.y(), 0
        for item in self.items:
            hint = item.sizeHint()
            if x + hint.width() > area.right() + 1 and row_height:
                x, y, row_height = area.x(), y + row_height + self.spacing(), 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            row_height = max(row_height, hint.height())
        return y + row_height - rect.y() + margins.bottom()


class CharacterPalette(QWidget):
    characterChosen = Signal(str)

    def __init__(self, spec: str, parent=None):
        super().__init__(parent)
        self.flow = FlowLayout(self)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.buttons: list[QToolButton] = []
        self.set_characters(spec)

    def set_characters(self, spec: str) -> None:
        for button in self.buttons:
            self.flow.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        self.characters = palette_characters(spec)
        for number, character in enumerate(self.characters):
            button = QToolButton()
            button.setText(label_for(character))
            shortcut = f"  (Alt+{(number + 1) % 10})" if number < 10 else ""
            button.setToolTip(describe(character) + shortcut)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the text field keeps the cursor
            button.setAutoRaise(True)
            button.clicked.connect(lambda _=False, c=character: self.characterChosen.emit(c))
            self.flow.addWidget(button)
            self.buttons.append(button)
        self.updateGeometry()

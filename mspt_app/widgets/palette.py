"""Special characters one click (or Alt+digit) away: long s, ligatures, abbreviation marks,
combining accents. The set is configurable in the settings."""

from __future__ import annotations

import unicodedata

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from mspt_app.settings import COMBINING_MARK, palette_characters


def label_for(character: str) -> str:
    """Combining accents are shown on a dotted circle so the button is not blank."""
    return COMBINING_MARK + character if unicodedata.combining(character[:1] or " ") else character


def describe(character: str) -> str:
    return " + ".join(unicodedata.name(c, f"U+{ord(c):04X}").lower() for c in character)


class CharacterPalette(QWidget):
    characterChosen = Signal(str)

    def __init__(self, spec: str, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addStretch(1)
        self.buttons: list[QToolButton] = []
        self.set_characters(spec)

    def set_characters(self, spec: str) -> None:
        layout = self.layout()
        for button in self.buttons:
            layout.removeWidget(button)
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
            layout.insertWidget(len(self.buttons), button)  # before the trailing stretch
            self.buttons.append(button)

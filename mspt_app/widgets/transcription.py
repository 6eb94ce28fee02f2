"""The transcription panel: every line of the page in reading order, its image crop above an
editable text field, characters the model was unsure of highlighted (until the line is corrected).
A line that is not plain text (a page number, a marginal note, an interlinear addition or a
heading, as the line finder or the ground truth says) is labelled so above its image.

Keys: Enter confirms the line and goes to the next, ↓/↑ next/previous line, Page Down/Up
next/previous page. Undo/redo are the window's (across lines), not the field's own.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeySequence,
    QPixmap,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextOption,
)
from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from mspt_app.widgets.look import LOW_CHAR_BACKGROUND, kind_label, line_colour
from mspt_core.document import Line, LineStatus, Page


class LowConfidenceHighlighter(QSyntaxHighlighter):
    def __init__(self, document, threshold: float):
        super().__init__(document)
        self.threshold = threshold
        self.confidences: list[float] | None = None
        self.low_format = QTextCharFormat()
        self.low_format.setBackground(LOW_CHAR_BACKGROUND)
        self.low_format.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.low_format.setUnderlineColor(QColor(200, 60, 0))

    def highlightBlock(self, text: str) -> None:
        confidences = self.confidences
        if not confidences or len(confidences) != len(text):
            return
        for index, confidence in enumerate(confidences):
            if confidence < self.threshold:
                self.setFormat(index, 1, self.low_format)

    def low_positions(self) -> list[int]:
        if not self.confidences:
            return []
        return [i for i, c in enumerate(self.confidences) if c < self.threshold]


class LineTextEdit(QPlainTextEdit):
    """One line's text. Looks like a line edit, wraps long lines, and hands navigation keys
    and undo/redo to the panel."""

    edited = Signal(str)
    confirmed = Signal()
    navigate = Signal(int)  # -1 previous line, +1 next line
    pageStep = Signal(int)
    focused = Signal()
    undoRequested = Signal()
    redoRequested = Signal()

    def __init__(self, text: str, font: QFont, threshold: float, parent=None):
        super().__init__(parent)
        self.setFont(font)
        self.setUndoRedoEnabled(False)  # the window's undo spans all lines
        self.setTabChangesFocus(True)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.highlighter = LowConfidenceHighlighter(self.document(), threshold)
        self._quiet = False
        self.setPlainText(text)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self.textChanged.connect(self._on_text_changed)
        self._fit_height()

    def _fit_height(self, *_) -> None:
        lines = max(1, int(self.document().documentLayout().documentSize().height()))
        margins = self.contentsMargins()
        height = lines * self.fontMetrics().lineSpacing() + 2 * self.document().documentMargin()
        self.setFixedHeight(int(height + margins.top() + margins.bottom() + 2))

    def show_text(self, text: str, confidences: list[float] | None) -> None:
        """Put the model's text in without it counting as the person's edit."""
        self.highlighter.confidences = confidences
        if text != self.toPlainText():
            position = self.textCursor().position()
            self._quiet = True
            self.setPlainText(text)
            self._quiet = False
            cursor = self.textCursor()
            cursor.setPosition(min(position, len(text)))
            self.setTextCursor(cursor)
        self.highlighter.rehighlight()

    def _on_text_changed(self) -> None:
        if not self._quiet:
            self.edited.emit(self.toPlainText())

    def event(self, event) -> bool:
        # Claim undo/redo so they reach keyPressEvent and go to the window, not the field.
        if event.type() == event.Type.ShortcutOverride and (
            event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undoRequested.emit()
        elif event.matches(QKeySequence.StandardKey.Redo):
            self.redoRequested.emit()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.confirmed.emit()
        elif key in (Qt.Key.Key_Down, Qt.Key.Key_Up) and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            step = 1 if key == Qt.Key.Key_Down else -1
            probe = QTextCursor(self.textCursor())
            moved = probe.movePosition(QTextCursor.MoveOperation.Down if step > 0 else QTextCursor.MoveOperation.Up)
            if moved and probe.position() != self.textCursor().position():
                super().keyPressEvent(event)  # inside a wrapped line
            else:
                self.navigate.emit(step)
        elif key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
            self.pageStep.emit(1 if key == Qt.Key.Key_PageDown else -1)
        else:
            super().keyPressEvent(event)

    def insertFromMimeData(self, source) -> None:
        # A line holds one line of text: pasted line breaks become spaces.
        self.insertPlainText(" ".join(source.text().split("\n")))

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.focused.emit()


class LineRow(QFrame):
    def __init__(
        self, line: Line, crop: QPixmap | None, font: QFont, threshold: float, kind: str | None = None, parent=None
    ):
        super().__init__(parent)
        self.line_id = line.id
        self.setObjectName("lineRow")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.setSpacing(2)
        self.kind = QLabel(kind or "")
        self.kind.setStyleSheet("color: #555; font-style: italic;")
        self.kind.setVisible(bool(kind))
        layout.addWidget(self.kind)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.crop = crop
        self.widest = crop.width() if crop is not None else 1  # the page's widest crop (set by the panel)
        if crop is not None:
            self.image.setPixmap(crop)
            self.image.setFixedHeight(crop.height())
        else:
            self.image.setText(self.tr("(no image for this line)"))
        layout.addWidget(self.image)
        self.editor = LineTextEdit(line.text, font, threshold)
        layout.addWidget(self.editor)
        self.current = False
        self.show_line(line)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Every line stays in view: when the page's widest line is wider than the panel, all of
        # its lines are shown smaller by the same factor, so they keep one scale.
        if self.crop is not None:
            factor = min(1.0, max(self.image.width(), 50) / max(self.widest, 1))
            shown = (
                self.crop
                if factor == 1.0
                else self.crop.scaledToWidth(
                    max(1, round(self.crop.width() * factor)), Qt.TransformationMode.SmoothTransformation
                )
            )
            self.image.setPixmap(shown)

    def show_line(self, line: Line) -> None:
        # A corrected line's text is the person's: nothing in it is the model's doubt any more.
        doubts = line.char_confidences if line.status != LineStatus.CORRECTED else None
        self.editor.show_text(line.text, doubts)
        self.status = line.status
        self.colour = line_colour(line)
        self._restyle()

    def set_current(self, current: bool) -> None:
        self.current = current
        self._restyle()

    def _restyle(self) -> None:
        background = "#eef4ff" if self.current else "transparent"
        self.setStyleSheet(
            f"QFrame#lineRow {{ border-left: 5px solid {self.colour.name()}; background: {background}; }}"
        )


class TranscriptionPanel(QScrollArea):
    textEdited = Signal(str, str)  # line id, text
    lineFocused = Signal(str)
    lineConfirmed = Signal(str)
    pageStep = Signal(int)
    undoRequested = Signal()
    redoRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.rows: dict[str, LineRow] = {}
        self.order: list[str] = []
        self.current: str | None = None
        self.editor_font = QFont()
        self.threshold = 0.8
        self._empty()

    def _empty(self, message: str = "") -> None:
        holder = QWidget()
        layout = QVBoxLayout(holder)
        label = QLabel(message)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(label)
        self.setWidget(holder)

    def set_page(self, page: Page | None, crop: Callable[[Line], QPixmap | None]) -> None:
        focus = self.current
        self.rows.clear()
        self.order = []
        if page is None:
            self._empty()
            return
        lines = list(page.lines_with_regions())
        if not lines:
            self._empty(self.tr("No lines on this page yet.\nUse Page → Find lines, or draw lines on the page."))
            return
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setSpacing(2)
        for line, region in lines:
            kind = kind_label(line.line_type, region.region_type)
            row = LineRow(line, crop(line), self.editor_font, self.threshold, kind)
            self._wire(row)
            layout.addWidget(row)
            self.rows[line.id] = row
            self.order.append(line.id)
        widest = max((row.crop.width() for row in self.rows.values() if row.crop is not None), default=1)
        for row in self.rows.values():
            row.widest = widest
        layout.addStretch(1)
        self.setWidget(holder)
        self.current = None
        if focus in self.rows:
            self.mark_current(focus)

    def _wire(self, row: LineRow) -> None:
        line_id = row.line_id
        editor = row.editor
        editor.edited.connect(lambda text: self.textEdited.emit(line_id, text))
        editor.focused.connect(lambda: self._focused(line_id))
        editor.confirmed.connect(lambda: self._confirmed(line_id))
        editor.navigate.connect(lambda step: self.step(step))
        editor.pageStep.connect(self.pageStep)
        editor.undoRequested.connect(self.undoRequested)
        editor.redoRequested.connect(self.redoRequested)

    def _focused(self, line_id: str) -> None:
        if line_id != self.current:
            self.mark_current(line_id)
            self.lineFocused.emit(line_id)

    def _confirmed(self, line_id: str) -> None:
        self.lineConfirmed.emit(line_id)
        self.step(1)

    def mark_current(self, line_id: str | None) -> None:
        if self.current in self.rows:
            self.rows[self.current].set_current(False)
        self.current = line_id
        if line_id in self.rows:
            self.rows[line_id].set_current(True)

    def step(self, step: int) -> None:
        if not self.order:
            return
        index = self.order.index(self.current) + step if self.current in self.order else 0
        if 0 <= index < len(self.order):
            self.focus_line(self.order[index])

    def focus_line(self, line_id: str, cursor_at: int | None = None) -> None:
        row = self.rows.get(line_id)
        if row is None:
            return
        moved = line_id != self.current
        self.mark_current(line_id)
        row.editor.setFocus(Qt.FocusReason.OtherFocusReason)
        if moved:
            self.lineFocused.emit(line_id)
        if cursor_at is not None:
            cursor = row.editor.textCursor()
            cursor.setPosition(min(cursor_at, len(row.editor.toPlainText())))
            row.editor.setTextCursor(cursor)
        self.ensureWidgetVisible(row, 10, 40)
        # Again once the layout knows the row's place (the panel may have just been rebuilt).
        QTimer.singleShot(0, lambda: self.ensureWidgetVisible(row, 10, 40) if shiboken6.isValid(row) else None)

    def update_line(self, line: Line) -> None:
        row = self.rows.get(line.id)
        if row is not None:
            row.show_line(line)

    def current_editor(self) -> LineTextEdit | None:
        row = self.rows.get(self.current) if self.current else None
        return row.editor if row else None

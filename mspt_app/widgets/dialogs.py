"""Dialogs: errors that say what failed and what to do, export, settings."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFontComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)

from mspt_app.settings import DEVICES, AppSettings, data_dir, log_dir
from mspt_core.errors import ImageLoadError, InUseError, ModelFileError, MsptError, OutputError
from mspt_core.project import ProjectError

log = logging.getLogger(__name__)

FORMAT_NAMES = {
    "txt": "Plain text (.txt)",
    "page": "PAGE XML (one file per page)",
    "alto": "ALTO XML (one file per page)",
    "hocr": "hOCR (.hocr)",
    "pdf": "Searchable PDF (.pdf)",
}


def advice_for(error: BaseException | str) -> str:
    """What the person can do about an error."""
    if isinstance(error, ModelFileError):
        return (
            "Check the model file, choose another model (Model in the toolbar for this project, the "
            "default in Settings), or manage models in Training ▸ Models."
        )
    if isinstance(error, ImageLoadError):
        return "Check that the file is a page image (PNG, JPEG, TIFF, PDF…) and not damaged."
    if isinstance(error, InUseError):  # nothing wrong with any input: it is busy elsewhere
        return "Switch to the other mspt window, or close it there, then try again here."
    if isinstance(error, (OSError, OutputError)):
        return "Check that the folder exists, is writable and that the disk is not full."
    if isinstance(error, ProjectError):
        return "Check the project folder named above, then try again."
    if isinstance(error, MsptError):
        return "Correct the input named above and try again."
    return f"This looks like a bug in mspt. Details are in the log file in {log_dir()}."


def about_text() -> str:
    """What the About box says: the version, the licence, where the bundled files are, and
    whether a GPU was found (and what to install to use one)."""
    from mspt_core import __version__, resources
    from mspt_core.devices import gpu_summary

    return (
        f"<h3>mspt {__version__}</h3>"
        "<p>Document transcription on your own computer.</p>"
        f"<p>{gpu_summary()}</p>"
        "<p>Licensed under the Apache License 2.0. Qt for Python (PySide6) is used under the LGPL-3.0; "
        "the bundled models are offered under CC-BY-SA 4.0 and CC-BY 4.0 with credit to the data "
        "they were trained on: see THIRD_PARTY.md.</p>"
        f"<p>Bundled files: {resources.ROOT}<br>Log files: {log_dir()}</p>"
    )


def show_about(parent) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "About mspt", about_text(), QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("aboutDialog")
    box.open()
    return box


def show_error(parent, what: str, error: BaseException | str, details: str = "") -> QMessageBox:
    """A non-blocking error dialog; the details also go to the log file."""
    message = str(error)
    log.error("%s: %s\n%s", what, message, details)
    box = QMessageBox(QMessageBox.Icon.Warning, "mspt", f"{what}\n\n{message}", QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText(
        advice_for(error) if not isinstance(error, str) else f"Details are in the log file in {log_dir()}."
    )
    if details:
        box.setDetailedText(details)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName("errorDialog")
    box.open()
    return box


MAX_LISTED = 12  # items named in a message's text; all of them are in its details


def _list_box(parent, name: str, text: str, informative: str, items: list[str]) -> QMessageBox:
    """A non-blocking message naming every item: the first few in the text, all in the details."""
    shown = items[:MAX_LISTED]
    more = len(items) - len(shown)
    listing = "\n".join(f"• {item}" for item in shown) + (f"\n… and {more} more" if more else "")
    box = QMessageBox(QMessageBox.Icon.Warning, "mspt", f"{text}\n\n{listing}", QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText(informative)
    box.setDetailedText("\n".join(items))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setObjectName(name)
    box.open()
    return box


def show_rejected(parent, rejected, added: int) -> QMessageBox:
    """One message for every file that could not be added, each with its reason."""
    log.warning("files not added: %s", "; ".join(f"{r.path}: {r.reason}" for r in rejected))
    if added:
        text = parent.tr("{a} page(s) added; {n} file(s) could not be added:").format(a=added, n=len(rejected))
    else:
        text = parent.tr("No page was added; {n} file(s) could not be added:").format(n=len(rejected))
    return _list_box(
        parent,
        "rejectedDialog",
        text,
        parent.tr(
            "Pages must be images (PNG, JPEG, TIFF, WebP, BMP, JPEG 2000) or PDFs, undamaged and of at most 120 MP."
        ),
        [f"{Path(r.path).name}: {r.reason}" for r in rejected],
    )


def summarize_notes(notes: list[str], written: list[Path]) -> list[str]:
    """The export notes ("FILE: what was not kept (n×)"), one per kind of loss with the number
    of files it concerns, instead of one per file."""
    files: dict[str, int] = {}
    for note in notes:
        what = note
        for path in written:
            if note.startswith(f"{path}: "):
                # page/alto files lie in a folder named after their format; the others: by suffix
                fmt = path.parent.name if path.parent.name in ("page", "alto") else path.suffix.lstrip(".")
                what = f"{fmt.upper()}: {note.removeprefix(f'{path}: ')}"
                break
        what = re.sub(r" \(\d+×\)$", "", what)
        files[what] = files.get(what, 0) + 1
    return [what + (f" ({n} files)" if n > 1 else "") for what, n in files.items()]


def show_export_notes(parent, notes: list[str], written: list[Path], folder: Path) -> QMessageBox:
    """What the chosen formats could not keep: the files are written, but not everything is in them."""
    log.info("export notes: %s", "; ".join(notes))
    return _list_box(
        parent,
        "exportNotesDialog",
        parent.tr("Exported to {f}, but the formats could not keep everything:").format(f=folder),
        parent.tr("The project itself keeps it all; PAGE XML keeps the most."),
        summarize_notes(notes, written),
    )


class NewProjectDialog(QDialog):
    """A name and the folder to make the project in: the project folder is made there, named
    after the project (a new folder, not one that must exist already)."""

    def __init__(self, location: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("New project"))
        form = QFormLayout(self)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText(self.tr("e.g. Letters 1905"))
        form.addRow(self.tr("Name"), self.name_edit)
        self.location = QLineEdit(str(location))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.location, 1)
        row.addWidget(browse)
        form.addRow(self.tr("Create in"), row)
        self.preview = QLabel()
        self.preview.setWordWrap(True)
        form.addRow(self.preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.name_edit.textChanged.connect(self._update)
        self.location.textChanged.connect(self._update)
        self._update()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Create the project in"), self.location.text())
        if folder:
            self.location.setText(folder)

    def name(self) -> str:
        return self.name_edit.text().strip()

    def folder(self) -> Path:
        return Path(self.location.text().strip()).expanduser() / self.name()

    def problem(self) -> str | None:
        """Why no project can be made from what is typed, or None."""
        name = self.name()
        if not name:
            return self.tr("Type a name for the project.")
        if "/" in name or "\\" in name or name in (".", ".."):
            return self.tr("A name cannot hold / or \\ (it names the project's folder).")
        if not self.location.text().strip():
            return self.tr("Choose where to make the project.")
        folder = self.folder()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            return self.tr("{f} already exists; choose another name.").format(f=folder)
        return None

    def _update(self) -> None:
        problem = self.problem()
        self.preview.setText(problem or self.tr("The project folder will be {f}").format(f=self.folder()))
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)


class ExportDialog(QDialog):
    def __init__(self, page_count: int, selected: list[int], current: int, folder: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("Export"))
        self.page_count, self.selected, self.current = page_count, selected, current
        layout = QVBoxLayout(self)
        pages = QGroupBox(self.tr("Pages"))
        pages_layout = QVBoxLayout(pages)
        self.all_pages = QRadioButton(self.tr("All pages ({n})").replace("{n}", str(page_count)))
        self.selected_pages = QRadioButton(self.tr("Selected pages ({n})").replace("{n}", str(len(selected))))
        self.current_page = QRadioButton(self.tr("Current page"))
        self.all_pages.setChecked(True)
        self.selected_pages.setEnabled(bool(selected))
        group = QButtonGroup(self)
        for button in (self.all_pages, self.selected_pages, self.current_page):
            group.addButton(button)
            pages_layout.addWidget(button)
        layout.addWidget(pages)
        formats = QGroupBox(self.tr("Formats"))
        formats_layout = QVBoxLayout(formats)
        self.format_boxes = {}
        for fmt, name in FORMAT_NAMES.items():
            box = QCheckBox(self.tr(name))
            box.setChecked(fmt in ("txt", "page"))
            formats_layout.addWidget(box)
            self.format_boxes[fmt] = box
        layout.addWidget(formats)
        row = QHBoxLayout()
        self.folder = QLineEdit(str(folder))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        row.addWidget(QLabel(self.tr("Folder:")))
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, self.tr("Export to"), self.folder.text())
        if folder:
            self.folder.setText(folder)

    def choice(self) -> tuple[list[int], list[str], Path]:
        if self.selected_pages.isChecked():
            indices = self.selected
        elif self.current_page.isChecked():
            indices = [self.current]
        else:
            indices = list(range(self.page_count))
        formats = [fmt for fmt, box in self.format_boxes.items() if box.isChecked()]
        return indices, formats, Path(self.folder.text()).expanduser()


LANGUAGES = {"": "System language", "en": "English", "fr": "Français", "de": "Deutsch"}


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(self.tr("Settings"))
        form = QFormLayout(self)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device)
        form.addRow(self.tr("Device"), self.device)
        self.model = QComboBox()
        self.model.setEditable(True)  # a registry name or a path
        self.model.addItem(self.tr("Default model"), "")
        try:
            from mspt_core import choose
            from mspt_core.models import list_models

            if choose.available():  # what "Default model" reads with, named so it can be picked
                self.model.setItemText(0, self.tr("Default: auto (print or handwriting, line by line)"))

            for entry in list_models():
                if entry.metadata.get("kind", "recognizer") != "recognizer":
                    continue  # a pre-trained encoder cannot read; fine-tune it first
                self.model.addItem(entry.name + (self.tr(" (bundled)") if entry.bundled else ""), entry.name)
        except MsptError as error:
            log.warning("cannot list models: %s", error)
        index = self.model.findData(settings.model)
        if index >= 0:
            self.model.setCurrentIndex(index)
        else:
            self.model.setEditText(settings.model)
        self.model.setToolTip(self.tr("Reads the projects that have not chosen a model of their own"))
        form.addRow(self.tr("Default model"), self.model)
        self.line_height = QSpinBox()
        self.line_height.setRange(16, 200)
        self.line_height.setValue(settings.line_height)
        self.line_height.setSuffix(" px")
        form.addRow(self.tr("Line image height"), self.line_height)
        font = settings.editor_font
        self.font_family = QFontComboBox()
        self.font_family.setCurrentFont(font)
        self.font_size = QSpinBox()
        self.font_size.setRange(6, 48)
        self.font_size.setValue(max(font.pointSize(), 6))
        row = QHBoxLayout()
        row.addWidget(self.font_family, 1)
        row.addWidget(self.font_size)
        form.addRow(self.tr("Editor font"), row)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(settings.low_confidence)
        form.addRow(self.tr("Highlight characters below confidence"), self.threshold)
        self.palette_edit = QLineEdit(settings.palette)
        self.palette_edit.setToolTip(self.tr("Characters separated by spaces; ◌ before a combining accent"))
        form.addRow(self.tr("Special characters"), self.palette_edit)
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(self.language.findData(settings.language), 0))
        form.addRow(self.tr("Interface language (after restart)"), self.language)
        form.addRow(self.tr("Data folder"), QLabel(str(data_dir())))
        form.addRow(self.tr("Log folder"), QLabel(str(log_dir())))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def apply(self) -> None:
        s = self.settings
        s.device = self.device.currentText()
        data = self.model.currentData()
        text = self.model.currentText()
        s.model = data if data is not None and self.model.itemText(self.model.currentIndex()) == text else text
        s.line_height = self.line_height.value()
        font = self.font_family.currentFont()
        font.setPointSize(self.font_size.value())
        s.editor_font = font
        s.low_confidence = self.threshold.value()
        s.palette = self.palette_edit.text()
        s.language = self.language.currentData()

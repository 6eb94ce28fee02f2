"""The model manager: every bundled and user model with what its file says about it (kind, size,
characters, training data, validation CER and what it was measured on, date), and import,
export, rename, delete and "set active". A CER from fewer than 30 validation lines is flagged:
it cannot be compared with the others. The work is done by the registry in ``mspt_core.models``;
this is a view over it."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from mspt_app.settings import AppSettings
from mspt_app.widgets import dialogs
from mspt_core import models
from mspt_core.data.lines import MIN_VALIDATION_LINES
from mspt_core.errors import MsptError
from mspt_core.model.config import SIZES, RecognizerConfig

COLUMNS = ("Name", "Kind", "Origin", "Size", "Characters", "Trained on", "Validation CER", "CER measured on", "Date")
NAME, KIND, ORIGIN, SIZE, CHARS, TRAINED, CER, MEASURED, DATE = range(len(COLUMNS))
FEW_LINES_BACKGROUND = QColor(253, 226, 200)  # a CER from too few lines to compare
ARCHITECTURE = ("frontend", "frontend_channels", "d_model", "layers", "heads", "ff", "ctc_frames")


def named_size(meta: dict) -> str:
    """The preset size a model was made with: from its provenance, else by its architecture."""
    prov = meta.get("provenance", {})
    for source in (prov.get("settings"), prov.get("pretraining")):
        if isinstance(source, dict) and source.get("size"):
            return str(source["size"])
    try:  # old files lack newer keys: their defaults say what they are
        config = RecognizerConfig.from_json(meta.get("config", {})).to_json()
    except (TypeError, ValueError):
        return ""
    for name, preset in SIZES.items():
        wanted = preset.to_json()
        if all(config.get(key) == wanted.get(key) for key in ARCHITECTURE):
            return name
    return ""


def validation_source(prov: dict) -> str:
    """What a model's validation lines were, as far as its provenance says: the sets a recipe
    selected on, else the data the lines were held out from."""
    data = str(prov.get("data") or "")
    if "selected on " in data:
        return data.split("selected on ", 1)[1].split(";", 1)[0].strip()
    return f"held out from {data}" if data else ""


def cer_figures(prov: dict) -> tuple[str, str, str, bool]:
    """(CER text, "measured on" text, explanation, too few lines) of a model's validation CER:
    a CER is comparable with another only when both come from enough lines of the same set."""
    cer, lines = prov.get("val_cer"), prov.get("val_lines")
    if not isinstance(cer, (int, float)):
        return "—", "", "", False
    source = validation_source(prov)
    count = lines if isinstance(lines, int) else None
    few = count is not None and count < MIN_VALIDATION_LINES
    measured = (f"{count} lines" if count is not None else "? lines") + (f": {source}" if source else "")
    text = f"{cer * 100:.2f} %" + ("  ⚠ too few lines" if few or count is None else "")
    explanation = f"Character error rate on {measured}."
    if few:
        explanation += (
            f" Fewer than {MIN_VALIDATION_LINES} lines: chance decides this figure; do not compare it with the others."
        )
    elif count is None:
        explanation += " The model file does not say how many lines: do not compare it with the others."
    else:
        explanation += " Compare it only with figures measured on the same set."
    return text, measured, explanation, few or count is None


def is_encoder(entry: models.ModelEntry) -> bool:
    return entry.metadata.get("kind") == "encoder"


class ModelManagerDialog(QDialog):
    active_changed = Signal(str)  # the new AppSettings.model value ("" = the default model)

    def __init__(self, settings: AppSettings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.entries: list[models.ModelEntry] = []
        self.setWindowTitle(self.tr("Models"))
        self.resize(1000, 360)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TRAINED, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table)
        folder = QLabel(self.tr("Your models are kept in {folder}").replace("{folder}", str(models.user_models_dir())))
        folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(folder)
        row = QHBoxLayout()
        self.import_button = self._button(self.tr("Import…"), self.import_model, row)
        self.import_button.setToolTip(self.tr("Add a model file (.safetensors) or folder (choose its model.json)"))
        self.export_button = self._button(self.tr("Export…"), self.export_selected, row)
        self.export_button.setToolTip(self.tr("Save the model as one .safetensors file to share"))
        self.rename_button = self._button(self.tr("Rename…"), self.rename_selected, row)
        self.delete_button = self._button(self.tr("Delete"), self.delete_selected, row)
        self.active_button = self._button(self.tr("Set active"), self.set_active_selected, row)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row.addWidget(buttons)
        layout.addLayout(row)
        self.refresh()

    def _button(self, text: str, slot, row: QHBoxLayout) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        row.addWidget(button)
        return button

    # --- the table ---------------------------------------------------------------------------

    def active_path(self) -> Path | None:
        try:
            return models.resolve(self.settings.model or None).resolve()
        except MsptError:
            return None  # the setting names a model that is gone; none is marked

    def refresh(self, select: str | None = None) -> None:
        """Reread the registry; keep (or move to ``select``) the selected model."""
        current = self.selected()
        select = select or (current.name if current else None)
        try:
            self.entries = models.list_models()
        except (MsptError, OSError) as error:
            self.entries = []
            dialogs.show_error(self, self.tr("Could not list the models."), error)
        active = self.active_path()
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            few = cer_figures(entry.metadata.get("provenance", {}) or {})[3]
            for column, (text, tip) in enumerate(self._cells(entry, entry.path.resolve() == active)):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if few and column in (CER, MEASURED):
                    item.setBackground(FEW_LINES_BACKGROUND)
                self.table.setItem(row, column, item)
            if entry.path.resolve() == active:
                font = QFont(self.table.font())
                font.setBold(True)
                name_cell = self.table.item(row, NAME)
                if name_cell is not None:  # set just above
                    name_cell.setFont(font)
        rows = [r for r, e in enumerate(self.entries) if e.name == select]
        self.table.clearSelection()
        if rows:
            self.table.selectRow(rows[0])
        self._update_buttons()

    def _cells(self, entry: models.ModelEntry, active: bool) -> list[tuple[str, str]]:
        meta = entry.metadata
        prov = meta.get("provenance", {}) or {}
        name = entry.name + (self.tr(" (active)") if active else "")
        kind = self.tr("Pre-trained encoder") if is_encoder(entry) else self.tr("Recognizer")
        kind_tip = (
            self.tr("Learned from unlabeled lines; it cannot read text until fine-tuned into a recognizer")
            if is_encoder(entry)
            else self.tr("Reads text lines")
        )
        origin = self.tr("Bundled") if entry.bundled else self.tr("User")
        millions = f"{meta.get('parameters', 0) / 1e6:.1f} M"
        size = f"{named_size(meta)}, {millions}" if named_size(meta) else millions
        charset = meta.get("charset", []) or []
        chars_tip = "".join(charset) if charset else self.tr("An encoder has no characters of its own")
        data = prov.get("data") or prov.get("store") or ""
        lines = prov.get("train_lines", prov.get("lines"))
        trained = data
        if lines is not None:
            template = self.tr("{data} ({n} lines)") if data else self.tr("{n} lines")
            trained = template.replace("{data}", data).replace("{n}", str(lines))
        trained_tip = "\n".join(
            f"{key}: {prov[key]}"
            for key in ("data", "store", "train_lines", "val_lines", "lines", "steps", "precision", "note")
            if key in prov
        )
        cer_text, measured, explanation, _ = cer_figures(prov)
        created = str(prov.get("created", ""))
        date_tip = f"{created}\nmspt {prov.get('mspt_version', '?')}"
        return [
            (name, str(entry.path)),
            (kind, kind_tip),
            (origin, ""),
            (size, self.tr("parameters")),
            (str(len(charset)) if charset else "—", chars_tip),
            (trained, trained_tip),
            (cer_text, explanation),
            (measured, explanation),
            (created[:10], date_tip),
        ]

    def selected(self) -> models.ModelEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None

    def _update_buttons(self) -> None:
        entry = self.selected()
        user = entry is not None and not entry.bundled
        self.export_button.setEnabled(entry is not None)
        for button in (self.rename_button, self.delete_button):
            button.setEnabled(user)
            button.setToolTip(
                self.tr("Bundled models cannot be changed; export one to get your own copy")
                if entry is not None and entry.bundled
                else ""
            )
        readable = entry is not None and not is_encoder(entry)
        self.active_button.setEnabled(readable)
        self.active_button.setToolTip(
            self.tr(
                "A pre-trained encoder cannot read text: fine-tune it into a recognizer first "
                "(mspt finetune --encoder NAME)"
            )
            if entry is not None and is_encoder(entry)
            else self.tr("Use this model to recognize text")
        )

    # --- prompts (small methods so that tests can replace them) -----------------------------

    def ask_import_path(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Import a model"), str(Path.home()), self.tr("mspt models (*.safetensors model.json)")
        )
        if not path:
            return None
        chosen = Path(path)
        return chosen.parent if chosen.name == models.METADATA else chosen  # a model folder

    def ask_export_path(self, name: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            self.tr("Export a model"),
            str(Path.home() / f"{name}.safetensors"),
            self.tr("mspt model (*.safetensors)"),
        )
        return Path(path) if path else None

    def ask_name(self, title: str, default: str) -> str | None:
        name, ok = QInputDialog.getText(self, title, self.tr("Model name:"), text=default)
        return name.strip() if ok and name.strip() else None

    def confirm_delete(self, entry: models.ModelEntry) -> bool:
        answer = QMessageBox.question(
            self,
            self.tr("Delete model"),
            self.tr("Delete the model “{name}”? This cannot be undone.").replace("{name}", entry.name),
        )
        return answer == QMessageBox.StandardButton.Yes

    # --- actions ----------------------------------------------------------------------------

    @contextmanager
    def _attempt(self, what: str):
        """Run an action with a busy cursor; an MsptError or OSError becomes an error dialog."""
        error = None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            yield
        except (MsptError, OSError) as caught:
            error = caught
        finally:
            QApplication.restoreOverrideCursor()
        if error is not None:
            dialogs.show_error(self, what, error)

    def import_model(self) -> None:
        source = self.ask_import_path()
        if source is None:
            return
        name = self.ask_name(self.tr("Import a model"), source.name.removesuffix(".safetensors"))
        if name is None:
            return
        with self._attempt(self.tr("Could not import the model.")):
            entry = models.import_model(source, name)
            self.refresh(select=entry.name)

    def export_selected(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        dest = self.ask_export_path(entry.name)
        if dest is not None:
            with self._attempt(self.tr("Could not export the model.")):
                models.export_model(str(entry.path), dest)

    def rename_selected(self) -> None:
        entry = self.selected()
        if entry is None or entry.bundled:
            return
        new = self.ask_name(self.tr("Rename model"), entry.name)
        if new is None or new == entry.name:
            return
        was_active = entry.path.resolve() == self.active_path()
        with self._attempt(self.tr("Could not rename the model.")):
            renamed = models.rename_model(entry.name, new)
            if was_active:
                self._set_active(renamed.name)
            self.refresh(select=renamed.name)

    def delete_selected(self) -> None:
        entry = self.selected()
        if entry is None or entry.bundled or not self.confirm_delete(entry):
            return
        was_active = entry.path.resolve() == self.active_path()
        with self._attempt(self.tr("Could not delete the model.")):
            models.remove_model(entry.name)
            if was_active:
                self._set_active("")  # back to the default model
            self.refresh()

    def set_active_selected(self) -> None:
        entry = self.selected()
        if entry is None or is_encoder(entry):
            return  # an encoder cannot read text; the button says so
        shadowed = any(e.name == entry.name for e in self.entries[: self.entries.index(entry)])
        self._set_active(str(entry.path) if shadowed else entry.name)
        self.refresh()

    def _set_active(self, value: str) -> None:
        self.settings.model = value
        self.active_changed.emit(value)

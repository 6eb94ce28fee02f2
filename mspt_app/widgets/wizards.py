"""The pre-train and fine-tune wizards. Their last page starts a training run in its own
process (``mspt_app.training``) and shows it live (``RunView``); closing the wizard leaves the
run going, watched by the main window."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import cast

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from mspt_app import training, workers
from mspt_app.settings import AppSettings
from mspt_app.widgets import dialogs
from mspt_app.widgets.look import duration_text
from mspt_app.widgets.run_view import RunView
from mspt_core import choose
from mspt_core.data.lines import MIN_VALIDATION_LINES, validation_count
from mspt_core.errors import MsptError
from mspt_core.model.config import CPU_TRAIN_SECONDS_PER_LINE as CPU_SECONDS_PER_LINE
from mspt_core.model.config import SIZES as MODEL_SIZES
from mspt_core.models import AUTO, NAME_HINT, is_model_name, list_models
from mspt_core.presets import (
    DEFAULT_PRETRAIN_PRESET,
    ENCODER,
    FINETUNE,
    PRETRAIN_PRESETS,
    TrainingPreset,
    pretrain_preset,
    training_preset,
)
from mspt_core.project import snapshot
from mspt_core.train import runs
from mspt_core.train.runspec import RunSpec

SIZES = tuple(MODEL_SIZES)
BASE_KIND_ROLE = Qt.ItemDataRole.UserRole + 1  # a base model's kind: "recognizer" or "encoder"
SEGMENT_SECONDS_PER_PAGE = 1.15  # benchmarks/RESULTS.md, segmentation (learned line finder, one thread)
# Fitting the k-means targets: 50,000 columns x 256 clusters x 200 iterations took ~7 minutes on
# one thread (the joint recipe's pre-training, features of the default model included).
KMEANS_SECONDS_PER_UNIT = 420 / (50_000 * 256 * 200)

log = logging.getLogger(__name__)


def gpu_present() -> bool:
    import torch

    return torch.cuda.is_available()


def kmeans_seconds(columns: int, clusters: int, iterations: int) -> float:
    return columns * clusters * iterations * KMEANS_SECONDS_PER_UNIT


def estimate_text(pages: int, steps: int, batch: int, size: str, on_gpu: bool, clustering_seconds: float = 0.0) -> str:
    """The time a run will take on this computer, in its parts."""
    finding = pages * SEGMENT_SECONDS_PER_PAGE
    parts = [f"finding lines {duration_text(finding)}"]
    if clustering_seconds:
        parts.append(f"fitting the k-means targets {duration_text(clustering_seconds)}")
    if on_gpu:
        return f"Time: {', '.join(parts)}; training time is shown once the first steps have run (this computer's GPU)."
    training = steps * batch * CPU_SECONDS_PER_LINE[size]
    parts.append(f"training {duration_text(training)}")
    total = finding + clustering_seconds + training
    return f"Time on this computer's CPU: about {duration_text(total)} ({', '.join(parts)})."


class RunPage(QWizardPage):
    """The last page of every training wizard: starts the run on entry and shows it."""

    def __init__(self, wizard: TrainingWizard):
        super().__init__()
        self.setTitle(wizard.tr("Training"))
        self.setSubTitle(
            wizard.tr(
                "Training runs in its own process: you can close this window and keep "
                "working; the run goes on and can be watched from Training ▸ Runs."
            )
        )
        self.layout_ = QVBoxLayout(self)
        self.view: RunView | None = None
        self.setFinalPage(True)

    def initializePage(self) -> None:
        wizard = cast(TrainingWizard, self.wizard())
        if self.view is None:
            try:
                watcher = wizard.start_run()
            except (MsptError, OSError, ValueError) as error:
                dialogs.show_error(self, self.tr("The training could not start."), error)
                return
            self.view = RunView(watcher, self)
            self.layout_.addWidget(self.view)
            wizard.run_started(watcher, self.view)

    def isComplete(self) -> bool:
        return self.view is not None


class SummaryPage(QWizardPage):
    """What is about to run, on one page, before hours of training start: the wizard's
    ``summary()`` rows, and any warning it has."""

    def __init__(self, wizard: TrainingWizard):
        super().__init__()
        self.setTitle(wizard.tr("Ready to start"))
        self.setSubTitle(wizard.tr("Check what will be trained. Back changes it; Start training starts the run."))
        self.setButtonText(QWizard.WizardButton.NextButton, wizard.tr("Start training"))
        self.rows = QFormLayout()
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("QLabel { color: #9a3412; }")
        layout = QVBoxLayout(self)
        layout.addLayout(self.rows)
        layout.addWidget(self.warning)
        layout.addStretch(1)

    def initializePage(self) -> None:
        wizard = cast(TrainingWizard, self.wizard())
        while self.rows.rowCount():
            self.rows.removeRow(0)
        for label, value in wizard.summary():
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.rows.addRow(label, text)
        warning = wizard.summary_warning()
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))

    def _row_text(self, row: int, role: QFormLayout.ItemRole) -> str:
        item = self.rows.itemAt(row, role)
        widget = item.widget() if item is not None else None
        return widget.text() if isinstance(widget, QLabel) else ""

    def text(self) -> str:
        """The summary as plain text (what a person reads on the page)."""
        lines = []
        for row in range(self.rows.rowCount()):
            label = self._row_text(row, QFormLayout.ItemRole.LabelRole)
            value = self._row_text(row, QFormLayout.ItemRole.FieldRole)
            lines.append(f"{label}: {value}")
        return "\n".join(lines + ([self.warning.text()] if self.warning.text() else []))


class TrainingWizard(QWizard):
    """What the training wizards share: the run page, and handing the run to the main window."""

    def __init__(self, settings: AppSettings, on_run=None, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.on_run = on_run  # called with (watcher, view) when the run starts
        self.watcher: training.RunWatcher | None = None
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, self.tr("Close"))
        self.resize(860, 640)

    def spec(self) -> RunSpec:
        raise NotImplementedError

    def summary(self) -> list[tuple[str, str]]:
        """(what, value) rows of the summary page."""
        raise NotImplementedError

    def summary_warning(self) -> str:
        return ""

    def start_run(self) -> training.RunWatcher:
        spec = self.spec()
        run_dir = runs.create_run(training.new_run_dir(spec.kind, spec.name), spec)
        self.prepare(run_dir, spec)
        self.watcher = training.RunWatcher(run_dir)
        self.watcher.start()
        return self.watcher

    def prepare(self, run_dir: Path, spec: RunSpec) -> None:
        """Write what the run needs before it starts (fine-tuning: the training lines)."""

    def run_started(self, watcher: training.RunWatcher, view: RunView) -> None:
        if self.on_run:
            self.on_run(watcher, view)


def starting_model(project, settings: AppSettings, base: str | None) -> str:
    """The model a wizard starts from: ``base``, else the project's or the default model; for
    ``auto`` (not one model), the bundled one that reads most of the project's lines."""
    preferred = base or settings.model or AUTO
    if preferred != AUTO:
        return preferred
    try:
        return choose.preferred_base(project)
    except MsptError as error:
        log.warning("cannot tell which bundled model suits this project: %s", error)
        return "default"


class ModelChoice(QWidget):
    """The models a wizard may start from, ``preferred`` selected. When it is not among them (a
    removed model, a file path, an encoder where a reader is needed), the first is, and a note
    says so until the person picks one."""

    def __init__(self, entries: list[tuple[str, str, str]], preferred: str | None):
        """``entries``: (name, text shown, kind) of each model offered."""
        super().__init__()
        self.models = QListWidget()
        for name, text, kind in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setData(BASE_KIND_ROLE, kind)
            self.models.addItem(item)
            if name == preferred:
                self.models.setCurrentItem(item)
        self.note = QLabel()
        self.note.setWordWrap(True)
        if self.models.currentItem() is None and self.models.count():
            self.models.setCurrentRow(0)
            self.note.setText(
                self.tr("“{p}” is not among these models: “{c}” is chosen instead.").format(
                    p=preferred, c=self.chosen()
                )
            )
        self.note.setVisible(bool(self.note.text()))
        self.models.currentRowChanged.connect(lambda _: self.note.hide())  # the person chose
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.models)
        layout.addWidget(self.note)

    def chosen(self) -> str | None:
        item = self.models.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def kind(self) -> str:
        """ "encoder" or "recognizer": the chosen model's kind."""
        item = self.models.currentItem()
        return (item.data(BASE_KIND_ROLE) if item else None) or "recognizer"


def lay_out_settings(
    page: QWizardPage, main: list[tuple], advanced: list[tuple], below_main=()
) -> tuple[QCheckBox, QGroupBox]:
    """Lay out a settings page: its ``main`` form rows (label, widget), the ``below_main``
    widgets, then the ``advanced`` rows behind "Show advanced options". A row of one widget spans
    the form. Returns the toggle and the advanced group."""
    toggle = QCheckBox(page.tr("Show advanced options"))
    group = QGroupBox(page.tr("Advanced"))
    form = QFormLayout(group)
    for row in advanced:
        form.addRow(*row)
    group.setVisible(False)
    toggle.toggled.connect(group.setVisible)
    main_form = QFormLayout()
    for row in main:
        main_form.addRow(*row)
    layout = QVBoxLayout(page)
    layout.addLayout(main_form)
    for widget in below_main:
        layout.addWidget(widget)
    layout.addWidget(toggle)
    layout.addWidget(group)
    layout.addStretch(1)
    return toggle, group


def name_ok(field: QLineEdit) -> bool:
    """Checked before hours of training, not at their end when the model is installed."""
    ok = is_model_name(field.text().strip())
    field.setToolTip("" if ok else field.tr("A model name may hold ") + NAME_HINT)
    field.setStyleSheet("" if ok else "QLineEdit { background: #fde2e2; }")
    return ok


def int_spin(low: int, high: int, value: int, step: int | None = None) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if step:
        spin.setSingleStep(step)
    return spin


def real_spin(low: float, high: float, value: float, decimals: int, step: float | None = None) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setRange(low, high)
    spin.setValue(value)
    if step:
        spin.setSingleStep(step)
    return spin


# --- pre-training --------------------------------------------------------------------------------


class ArchivePage(QWizardPage):
    def __init__(self, wizard: PretrainWizard):
        super().__init__()
        self.setTitle(wizard.tr("Your archive"))
        self.setSubTitle(
            wizard.tr(
                "Choose folders of page scans (images, TIFF, PDF) or ALTO/PAGE files. "
                "Pre-training needs no transcriptions: it learns from the page images alone."
            )
        )
        self.folders = QListWidget()
        add = QPushButton(wizard.tr("Add folder…"))
        add.clicked.connect(self._add)
        remove = QPushButton(wizard.tr("Remove"))
        remove.clicked.connect(self._remove)
        self.count_label = QLabel(wizard.tr("No folder chosen yet."))
        self.count_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.folders, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.count_label)
        self.task: workers.Task | None = None
        self.pages = 0
        self.lines_estimate = 0

    def ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, self.tr("Archive folder"))

    def _add(self) -> None:
        folder = self.ask_folder()
        if folder and folder not in self.paths():
            self.folders.addItem(folder)
            self._count()

    def _remove(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))
        self._count()

    def paths(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def _count(self) -> None:
        """Count pages and estimate lines in the background (a big archive takes a while)."""
        if self.task is not None:
            self.task.cancel()
        self.pages, self.lines_estimate = 0, 0
        self.completeChanged.emit()
        if not self.paths():
            self.count_label.setText(self.tr("No folder chosen yet."))
            return
        self.count_label.setText(self.tr("Counting pages…"))
        task = workers.Task(self.tr("Counting pages"), workers.archive_count_job(self.paths()), self)
        task.succeeded.connect(self._counted)
        task.failed.connect(lambda message, details: self.count_label.setText(message))
        self.task = task
        task.start()

    def _counted(self, value) -> None:
        if self.sender() is not self.task:
            return  # an older count, for folders since changed
        files, self.pages, self.lines_estimate = value
        self.task = None
        if not self.pages:
            self.count_label.setText(self.tr("No page images or ALTO/PAGE files were found in these folders."))
        elif not self.lines_estimate:
            self.count_label.setText(self.tr("{f} files, {p} pages.").format(f=files, p=self.pages))
        else:
            self.count_label.setText(
                self.tr("{f} files, {p} pages, about {l} lines.").format(f=files, p=self.pages, l=self.lines_estimate)
            )
        self.completeChanged.emit()
        cast(PretrainWizard, self.wizard()).settings_page.update_estimate()

    def isComplete(self) -> bool:
        return self.pages > 0 and self.task is None


class PretrainSettingsPage(QWizardPage):
    def __init__(self, wizard: PretrainWizard):
        super().__init__()
        self.setTitle(wizard.tr("How to pre-train"))
        self.setSubTitle(
            wizard.tr(
                "Masked self-supervised pre-training (Kišš & Hradiš 2025): the model learns "
                "to fill in hidden columns of your lines. A preset is chosen for your hardware."
            )
        )
        self.name = QLineEdit("pretrained")
        self.preset = QComboBox()
        for key, chosen in PRETRAIN_PRESETS.items():
            self.preset.addItem(f"{key} — {chosen.description}", key)
        self.preset.setCurrentIndex(self.preset.findData("gpu-base" if gpu_present() else DEFAULT_PRETRAIN_PRESET))
        self.steps = int_spin(1, 10_000_000, 3000)
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.model_size = QComboBox()
        self.model_size.addItems(SIZES)
        self.schedule = QComboBox()
        self.schedule.addItems(["linear", "cosine", "step", "constant"])
        self.p_start = real_spin(0.0, 0.95, 0.1, 2, 0.05)
        self.p_end = real_spin(0.05, 0.95, 0.5, 2, 0.05)
        self.unmasked_weight = real_spin(0.0, 10.0, 0.5, 2, 0.1)
        self.target = QComboBox()
        self.target.addItem(wizard.tr("k-means pseudo-labels"), "kmeans")
        self.target.addItem(wizard.tr("pixel reconstruction"), "pixels")
        self.clusters = int_spin(2, 65536, 256)
        self.batch = int_spin(1, 4096, 16)
        self.checkpoint_every = int_spin(1, 1_000_000, 250)
        self.advanced_toggle, self.advanced = lay_out_settings(
            self,
            [
                (wizard.tr("Name of the encoder"), self.name),
                (wizard.tr("Preset"), self.preset),
                (wizard.tr("Training steps"), self.steps),
            ],
            [
                (wizard.tr("Model size"), self.model_size),
                (wizard.tr("Masking schedule"), self.schedule),
                (wizard.tr("Masked share at the start"), self.p_start),
                (wizard.tr("Masked share at the end"), self.p_end),
                (wizard.tr("Loss weight of visible columns"), self.unmasked_weight),
                (wizard.tr("Target"), self.target),
                (wizard.tr("Clusters (K)"), self.clusters),
                (wizard.tr("Lines per step"), self.batch),
                (wizard.tr("Checkpoint every … steps"), self.checkpoint_every),
            ],
            below_main=[self.estimate],
        )
        self.preset.currentIndexChanged.connect(self._apply_preset)
        for widget in (self.steps, self.batch, self.clusters):
            widget.valueChanged.connect(self.update_estimate)
        self.model_size.currentIndexChanged.connect(self.update_estimate)
        self.target.currentIndexChanged.connect(self.update_estimate)
        self.name.textChanged.connect(self.completeChanged)
        self._apply_preset()

    def _apply_preset(self) -> None:
        method, loop = pretrain_preset(self.preset.currentData())
        self.model_size.setCurrentText(method.size)
        self.schedule.setCurrentText(method.schedule)
        self.p_start.setValue(method.p_start)
        self.p_end.setValue(method.p_end)
        self.unmasked_weight.setValue(method.unmasked_weight)
        self.target.setCurrentIndex(self.target.findData(method.target))
        self.clusters.setValue(method.clusters)
        self.steps.setValue(loop.steps)
        self.batch.setValue(loop.batch_size)
        self.checkpoint_every.setValue(loop.checkpoint_every)
        self.update_estimate()

    def update_estimate(self) -> None:
        pages = cast(PretrainWizard, self.wizard()).archive_page.pages if self.wizard() else 0
        clustering = 0.0
        if self.target.currentData() == "kmeans":
            method, _ = pretrain_preset(self.preset.currentData())
            clustering = kmeans_seconds(method.kmeans_columns, self.clusters.value(), method.kmeans_iterations)
        self.estimate.setText(
            self.tr(
                estimate_text(
                    pages,
                    self.steps.value(),
                    self.batch.value(),
                    self.model_size.currentText(),
                    gpu_present(),
                    clustering,
                )
            )
        )

    def isComplete(self) -> bool:
        return name_ok(self.name)


class PretrainWizard(TrainingWizard):
    def __init__(self, settings: AppSettings, on_run=None, parent=None):
        super().__init__(settings, on_run, parent)
        self.setWindowTitle(self.tr("Pre-train on my archive"))
        self.archive_page = ArchivePage(self)
        self.settings_page = PretrainSettingsPage(self)
        self.summary_page = SummaryPage(self)
        self.run_page = RunPage(self)
        for page in (self.archive_page, self.settings_page, self.summary_page, self.run_page):
            self.addPage(page)

    def summary(self) -> list[tuple[str, str]]:
        s, archive = self.settings_page, self.archive_page
        lines = self.tr(", about {l} lines").format(l=archive.lines_estimate) if archive.lines_estimate else ""
        target = (
            self.tr("k-means pseudo-labels, {k} clusters").format(k=s.clusters.value())
            if s.target.currentData() == "kmeans"
            else self.tr("pixel reconstruction")
        )
        return [
            (self.tr("New encoder"), s.name.text().strip()),
            (
                self.tr("Archive"),
                self.tr("{f} ({p} pages{l})").format(f="; ".join(archive.paths()), p=archive.pages, l=lines),
            ),
            (self.tr("Preset"), s.preset.currentText()),
            (self.tr("Encoder size"), s.model_size.currentText()),
            (
                self.tr("Masking"),
                self.tr("{sch}: {a:.0%} → {b:.0%} of the columns; visible columns weigh {w:g}").format(
                    sch=s.schedule.currentText(), a=s.p_start.value(), b=s.p_end.value(), w=s.unmasked_weight.value()
                ),
            ),
            (self.tr("Target"), target),
            (self.tr("Training"), self.tr("{n} steps of {b} lines").format(n=s.steps.value(), b=s.batch.value())),
            (self.tr("Time"), s.estimate.text()),
            (
                self.tr("Where"),
                self.tr("a run folder under {d}; it can be paused, stopped and resumed").format(d=training.runs_dir()),
            ),
        ]

    def spec(self) -> RunSpec:
        s = self.settings_page
        return RunSpec(
            kind="pretrain",
            name=s.name.text().strip(),
            archive=self.archive_page.paths(),
            preset=s.preset.currentData(),
            device=self.settings.device,
            method={
                "size": s.model_size.currentText(),
                "schedule": s.schedule.currentText(),
                "p_start": s.p_start.value(),
                "p_end": s.p_end.value(),
                "unmasked_weight": s.unmasked_weight.value(),
                "target": s.target.currentData(),
                "clusters": s.clusters.value(),
            },
            loop={
                "steps": s.steps.value(),
                "batch_size": s.batch.value(),
                "checkpoint_every": s.checkpoint_every.value(),
            },
        )


# --- fine-tuning ---------------------------------------------------------------------------------


class BasePage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard, preferred: str | None):
        super().__init__()
        self.setTitle(wizard.tr("Start from"))
        self.setSubTitle(
            wizard.tr(
                "A pre-trained encoder (from the pre-train wizard) gets a new reading head; "
                "a recognizer (the default model or one of yours) learns your material "
                "and keeps what it knew."
            )
        )
        entries = []
        for entry in list_models():
            kind = entry.metadata.get("kind", "recognizer")
            label = wizard.tr("pre-trained encoder") if kind == "encoder" else wizard.tr("recognizer")
            entries.append((entry.name, f"{entry.name}  ({label}{', bundled' if entry.bundled else ''})", kind))
        self.choice = ModelChoice(entries, preferred)
        self.models, self.note = self.choice.models, self.choice.note
        self.models.currentRowChanged.connect(self.completeChanged)
        QVBoxLayout(self).addWidget(self.choice)

    def base(self) -> str | None:
        return self.choice.chosen()

    def base_kind(self) -> str:
        """ "encoder" or "recognizer": which fine-tuning preset fits the chosen base."""
        return self.choice.kind()

    def isComplete(self) -> bool:
        return self.base() is not None


class LinesPage(QWizardPage):
    def __init__(self, wizard: FinetuneWizard):
        super().__init__()
        self.project = wizard.project
        self.setTitle(wizard.tr("Training lines"))
        counted = snapshot.count_corrected(self.project) if self.project else snapshot.LineCount(0, 0)
        self.use_project = QCheckBox(
            wizard.tr("The corrected lines of this project: {l} lines on {p} pages").format(
                l=counted.lines, p=counted.pages
            )
        )
        self.use_project.setChecked(counted.lines > 0)
        self.use_project.setEnabled(counted.lines > 0)
        self.folders = QListWidget()
        add = QPushButton(wizard.tr("Add ground-truth folder (ALTO/PAGE with images)…"))
        add.clicked.connect(self._add)
        self.auto_val = QRadioButton(wizard.tr("Validate on 10% of the lines, chosen at random"))
        self.page_val = QRadioButton(wizard.tr("Validate on these pages (their lines are not trained on):"))
        self.auto_val.setChecked(True)
        self.val_pages = QListWidget()
        for index in range(len(self.project) if self.project else 0):
            corrected, _ = self.project.progress(index)
            if corrected:
                name = Path(self.project.entries[index].image).stem
                item = QListWidgetItem(f"{index + 1}. {name}  ({corrected} corrected lines)")
                item.setData(Qt.ItemDataRole.UserRole, index)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                self.val_pages.addItem(item)
        self.val_pages.setEnabled(False)
        self.page_val.toggled.connect(self.val_pages.setEnabled)
        self.page_val.setEnabled(self.val_pages.count() > 1)
        for signal in (self.use_project.toggled, self.page_val.toggled, self.val_pages.itemChanged):
            signal.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(self.use_project)
        layout.addWidget(QLabel(wizard.tr("More ground truth (optional):")))
        layout.addWidget(self.folders)
        layout.addWidget(add)
        layout.addWidget(self.auto_val)
        layout.addWidget(self.page_val)
        layout.addWidget(self.val_pages)

    def ask_folder(self) -> str:
        return QFileDialog.getExistingDirectory(self, self.tr("Ground-truth folder"))

    def _add(self) -> None:
        folder = self.ask_folder()
        if folder:
            self.folders.addItem(folder)
            self.completeChanged.emit()

    def extra_folders(self) -> list[str]:
        return [self.folders.item(i).text() for i in range(self.folders.count())]

    def validation_pages(self) -> list[int]:
        if not self.page_val.isChecked():
            return []
        return [
            self.val_pages.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.val_pages.count())
            if self.val_pages.item(i).checkState() == Qt.CheckState.Checked
        ]

    def isComplete(self) -> bool:
        validation = self.validation_pages()
        project_trains = self.use_project.isChecked() and len(validation) < self.val_pages.count()
        has_lines = project_trains or bool(self.extra_folders())
        return has_lines and (not self.page_val.isChecked() or bool(validation))


class FinetuneSettingsPage(QWizardPage):
    """The values start from the preset that fits the chosen base (``mspt_core.presets``): a
    recognizer adapts to a few pages; a pre-trained encoder gets a new head."""

    def __init__(self, wizard: FinetuneWizard):
        super().__init__()
        self.setTitle(wizard.tr("How to fine-tune"))
        self.name = QLineEdit("my-model")
        self.steps = int_spin(1, 1_000_000, 1)
        self.lr = real_spin(1e-6, 1.0, 1e-6, 6, 1e-4)
        self.batch = int_spin(1, 4096, 1)
        self.warmup = int_spin(0, 1_000_000, 0)
        self.encoder_lr = real_spin(0.0, 10.0, 0.0, 2, 0.1)
        self.freeze = int_spin(0, 1_000_000, 0)
        self.val_every = int_spin(1, 1_000_000, 1)
        self.checkpoint_every = int_spin(1, 1_000_000, 1)
        self.patience = int_spin(0, 1_000_000, 0)
        self.tuned_share = real_spin(0.0, 1.0, 0.0, 2, 0.05)
        self.augment = QCheckBox(wizard.tr("Vary the training lines as scans vary (augmentation)"))
        self.preset_kind: str | None = None
        self.advanced_toggle, self.advanced = lay_out_settings(
            self,
            [(wizard.tr("Name of the new model"), self.name), (wizard.tr("Training steps"), self.steps)],
            [
                (wizard.tr("Learning rate"), self.lr),
                (wizard.tr("Lines per step"), self.batch),
                (wizard.tr("Warm-up steps"), self.warmup),
                (wizard.tr("Encoder learning-rate multiplier"), self.encoder_lr),
                (wizard.tr("Keep the encoder frozen for … steps"), self.freeze),
                (wizard.tr("Validate every … steps"), self.val_every),
                (wizard.tr("Checkpoint every … steps"), self.checkpoint_every),
                (wizard.tr("Stop after … validations without gain (0: never)"), self.patience),
                (wizard.tr("Share of the fine-tuned weights (the rest: the base's; 1: no blend)"), self.tuned_share),
                (self.augment,),
            ],
        )
        self.name.textChanged.connect(self.completeChanged)

    def initializePage(self) -> None:
        kind = cast(FinetuneWizard, self.wizard()).base_page.base_kind()
        if kind != self.preset_kind:  # a new kind of base; values typed for the same kind stay
            self.apply_preset(training_preset(ENCODER if kind == "encoder" else FINETUNE))
            self.preset_kind = kind
        # A recognizer learns at its preset's encoder rate (every layer at the one rate, chosen
        # on val) and is never frozen; both are set here for a new head on a pre-trained encoder.
        for field in (self.encoder_lr, self.freeze):
            field.setEnabled(kind == "encoder")
            field.setToolTip("" if kind == "encoder" else self.tr("Only for a pre-trained encoder as the base"))
        # A new head has no base to blend back toward.
        self.tuned_share.setEnabled(kind != "encoder")
        self.tuned_share.setToolTip(self.tr("Only for a recognizer as the base") if kind == "encoder" else "")

    def apply_preset(self, preset: TrainingPreset) -> None:
        loop = preset.settings()
        self.steps.setValue(loop.steps)
        self.lr.setValue(loop.lr)
        self.batch.setValue(loop.batch_size)
        self.warmup.setValue(loop.warmup)
        self.val_every.setValue(loop.val_every)
        self.checkpoint_every.setValue(loop.checkpoint_every)
        self.patience.setValue(loop.patience)
        self.encoder_lr.setValue(preset.encoder_lr_scale)
        self.freeze.setValue(preset.freeze_steps)
        self.tuned_share.setValue(preset.tuned_share)
        self.augment.setChecked(preset.augment)

    def isComplete(self) -> bool:
        return name_ok(self.name)


class FinetuneWizard(TrainingWizard):
    def __init__(self, project, settings: AppSettings, on_run=None, base: str | None = None, parent=None):
        super().__init__(settings, on_run, parent)
        self.project = project
        self.setWindowTitle(self.tr("Fine-tune on my corrections"))
        self.base_page = BasePage(self, starting_model(project, settings, base))
        self.lines_page = LinesPage(self)
        self.settings_page = FinetuneSettingsPage(self)
        self.summary_page = SummaryPage(self)
        self.run_page = RunPage(self)
        for page in (self.base_page, self.lines_page, self.settings_page, self.summary_page, self.run_page):
            self.addPage(page)

    def _project_lines(self) -> tuple[int, int]:
        """(training, validation) corrected lines of the project, as the run will split them."""
        if self.project is None or not self.lines_page.use_project.isChecked():
            return 0, 0
        val_pages = set(self.lines_page.validation_pages())
        per_page = [self.project.progress(i)[0] for i in range(len(self.project))]
        if val_pages:
            val = sum(n for i, n in enumerate(per_page) if i in val_pages)
            return sum(per_page) - val, val
        total = sum(per_page)
        val = validation_count(total, RunSpec.val_fraction) if total else 0  # as the run will hold out
        return total - val, val

    def summary(self) -> list[tuple[str, str]]:
        s, lines = self.settings_page, self.lines_page
        kind = self.base_page.base_kind()
        train, val = self._project_lines()
        data = self.tr("{t} corrected lines of this project").format(t=train) if train else ""
        extra = lines.extra_folders()
        if extra:
            data += ("; " if data else "") + self.tr("the ground truth in {f}").format(f="; ".join(extra))
        validation = (
            self.tr("{v} lines of the chosen pages").format(v=val)
            if lines.validation_pages()
            else self.tr("10% of the lines, chosen at random (about {v})").format(v=val)
        )
        how = self.tr("{n} steps of {b} lines, learning rate {lr:g}, warm-up {w}").format(
            n=s.steps.value(), b=s.batch.value(), lr=s.lr.value(), w=min(s.warmup.value(), s.steps.value())
        )
        if s.patience.value():
            how += self.tr("; stops after {p} validations without gain").format(p=s.patience.value())
        encoder = self.tr("learns at {x:g}× the rate").format(x=s.encoder_lr.value())
        if s.freeze.value():
            encoder += self.tr(", frozen for the first {f} steps").format(f=s.freeze.value())
        if kind != "encoder":
            encoder = self.tr("learns with the rest of the model (a recognizer as the base)")
            if s.tuned_share.value() < 1:
                encoder += self.tr("; the best weights are then blended back toward the base ({a:g} tuned)").format(
                    a=s.tuned_share.value()
                )
        return [
            (self.tr("New model"), s.name.text().strip()),
            (
                self.tr("Starting from"),
                f"{self.base_page.base()} ("
                + (self.tr("pre-trained encoder: a new reading head") if kind == "encoder" else self.tr("recognizer"))
                + ")",
            ),
            (self.tr("Training lines"), data or self.tr("none")),
            (self.tr("Validation"), validation),
            (self.tr("Training"), how),
            (self.tr("Encoder"), encoder),
            (self.tr("Augmentation"), self.tr("on") if s.augment.isChecked() else self.tr("off")),
            (
                self.tr("Where"),
                self.tr("a run folder under {d}; it can be paused, stopped and resumed").format(d=training.runs_dir()),
            ),
        ]

    def summary_warning(self) -> str:
        _, val = self._project_lines()
        if val and val < MIN_VALIDATION_LINES and not self.lines_page.extra_folders():
            return self.tr(
                "Only about {v} validation lines: too few to judge a model by (at least {m} are needed). The "
                "model kept and the CER reported will be chance. Correct more lines, or choose validation pages."
            ).format(v=val, m=MIN_VALIDATION_LINES)
        return ""

    def spec(self) -> RunSpec:
        s = self.settings_page
        return RunSpec(
            kind="finetune",
            name=s.name.text().strip(),
            base=self.base_page.base(),
            device=self.settings.device,
            encoder_lr_scale=s.encoder_lr.value(),
            freeze_steps=s.freeze.value(),
            tuned_share=s.tuned_share.value(),
            augment=s.augment.isChecked(),
            description=self.tr("corrected lines of project {p}").format(p=self.project.name if self.project else "—"),
            loop={
                "steps": s.steps.value(),
                "batch_size": s.batch.value(),
                "lr": s.lr.value(),
                "warmup": min(s.warmup.value(), s.steps.value()),
                "val_every": s.val_every.value(),
                "checkpoint_every": s.checkpoint_every.value(),
                "patience": s.patience.value(),
            },
        )

    def prepare(self, run_dir: Path, spec: RunSpec) -> None:
        """Snapshot the training lines into the run folder and record them in its spec."""
        val_pages = self.lines_page.validation_pages()
        if self.project is not None and self.lines_page.use_project.isChecked():
            indices = [i for i in range(len(self.project)) if i not in val_pages]
            written = snapshot.write_training_pages(self.project, run_dir / "lines/train", indices)
            spec.train += [str(p) for p in written]
            # Which pages taught the model: the re-read after it starts with the others.
            spec.project = str(self.project.root)
            spec.project_pages = [p.stem for p in written]
            spec.val += [str(p) for p in snapshot.write_training_pages(self.project, run_dir / "lines/val", val_pages)]
        spec.train += self.lines_page.extra_folders()
        runs.write_spec(run_dir, spec)

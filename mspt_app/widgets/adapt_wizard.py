"""The adapt wizard: a recognizer adapted to the project's pages nobody corrected, learning from
the surest share of its own readings of them (self-training, ``mspt_core.train.self_training``;
the app's side of ``mspt adapt``). Its last page starts the run in its own process, as the other
training wizards do."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from mspt_app import training
from mspt_app.settings import AppSettings
from mspt_app.widgets.wizards import (
    ModelChoice,
    RunPage,
    SummaryPage,
    TrainingWizard,
    int_spin,
    lay_out_settings,
    name_ok,
    real_spin,
    starting_model,
)
from mspt_core.models import list_models
from mspt_core.presets import SELF_TRAINING, SUREST_SHARE, training_preset
from mspt_core.project import snapshot
from mspt_core.train import runs
from mspt_core.train.runspec import RunSpec
from mspt_core.train.self_training import few_lines_warning


class AdaptPagesPage(QWizardPage):
    """Which recognizer adapts, and to which pages (those with lines nobody corrected)."""

    def __init__(self, wizard: AdaptWizard, preferred: str):
        super().__init__()
        self.project = wizard.project
        self.setTitle(wizard.tr("Adapt a model to these pages"))
        self.setSubTitle(
            wizard.tr(
                "The model reads the lines nobody corrected, keeps the readings it is surest of and learns "
                "from them as if you had corrected them. It helps most on a hand it reads badly; corrected "
                "lines (Fine-tune on my corrections) teach much more."
            )
        )
        readers = [
            e for e in list_models() if e.metadata.get("kind", "recognizer") == "recognizer"
        ]  # encoders cannot read
        self.choice = ModelChoice(
            [(e.name, f"{e.name}{wizard.tr('  (bundled)') if e.bundled else ''}", "recognizer") for e in readers],
            preferred,
        )
        self.models, self.note = self.choice.models, self.choice.note
        self.pages = QListWidget()
        for index in range(len(self.project) if self.project else 0):
            corrected, lines = self.project.progress(index)
            name = Path(self.project.entries[index].image).stem
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, index)
            if lines > corrected:
                item.setText(
                    wizard.tr("{i}. {n}  ({u} lines not corrected)").format(i=index + 1, n=name, u=lines - corrected)
                )
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
            else:
                why = wizard.tr("no lines yet: read it first") if not lines else wizard.tr("every line corrected")
                item.setText(f"{index + 1}. {name}  ({why})")
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.pages.addItem(item)
        for signal in (self.models.currentRowChanged, self.pages.itemChanged):
            signal.connect(self.completeChanged)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(wizard.tr("The model to adapt:")))
        layout.addWidget(self.choice)
        layout.addWidget(QLabel(wizard.tr("The pages it adapts to:")))
        layout.addWidget(self.pages)

    def base(self) -> str | None:
        return self.choice.chosen()

    def chosen_pages(self) -> list[int]:
        return [
            self.pages.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.pages.count())
            if self.pages.item(row).checkState() == Qt.CheckState.Checked
            and self.pages.item(row).flags() & Qt.ItemFlag.ItemIsEnabled
        ]

    def isComplete(self) -> bool:
        return self.base() is not None and bool(self.chosen_pages())


class AdaptSettingsPage(QWizardPage):
    """The values start from the self-training preset (``mspt_core.presets``)."""

    def __init__(self, wizard: AdaptWizard):
        super().__init__()
        self.setTitle(wizard.tr("How to adapt"))
        loop = training_preset(SELF_TRAINING).settings()
        self.name = QLineEdit("adapted")
        self.steps = int_spin(1, 1_000_000, loop.steps)
        self.share = real_spin(0.05, 1.0, SUREST_SHARE, 2, 0.05)
        self.lr = real_spin(1e-6, 1.0, loop.lr, 6, 1e-4)
        self.batch = int_spin(1, 4096, loop.batch_size)
        self.warmup = int_spin(0, 1_000_000, loop.warmup)
        self.checkpoint_every = int_spin(1, 1_000_000, loop.checkpoint_every)
        self.advanced_toggle, self.advanced = lay_out_settings(
            self,
            [
                (wizard.tr("Name of the new model"), self.name),
                (wizard.tr("Training steps"), self.steps),
                (wizard.tr("Share of its readings learned from (the surest)"), self.share),
            ],
            [
                (wizard.tr("Learning rate"), self.lr),
                (wizard.tr("Lines per step"), self.batch),
                (wizard.tr("Warm-up steps"), self.warmup),
                (wizard.tr("Checkpoint every … steps"), self.checkpoint_every),
            ],
        )
        self.name.textChanged.connect(self.completeChanged)

    def isComplete(self) -> bool:
        return name_ok(self.name)


class AdaptWizard(TrainingWizard):
    def __init__(self, project, settings: AppSettings, on_run=None, base: str | None = None, parent=None):
        super().__init__(settings, on_run, parent)
        self.project = project
        self.setWindowTitle(self.tr("Adapt to my pages"))
        self.pages_page = AdaptPagesPage(self, starting_model(project, settings, base))
        self.settings_page = AdaptSettingsPage(self)
        self.summary_page = SummaryPage(self)
        self.run_page = RunPage(self)
        for page in (self.pages_page, self.settings_page, self.summary_page, self.run_page):
            self.addPage(page)

    def summary(self) -> list[tuple[str, str]]:
        s = self.settings_page
        counted = snapshot.count_uncorrected(self.project, self.pages_page.chosen_pages())
        return [
            (self.tr("New model"), s.name.text().strip()),
            (self.tr("Adapting"), self.pages_page.base() or ""),
            (
                self.tr("Lines read"),
                self.tr("{l} lines nobody corrected, on {p} page(s) of this project").format(
                    l=counted.lines, p=counted.pages
                ),
            ),
            (
                self.tr("Learned from"),
                self.tr("the surest {s:.0%} of its readings (about {n} lines), as if corrected").format(
                    s=s.share.value(), n=round(s.share.value() * counted.lines)
                ),
            ),
            (
                self.tr("Training"),
                self.tr("{n} steps of {b} lines, learning rate {lr:g}, warm-up {w}").format(
                    n=s.steps.value(), b=s.batch.value(), lr=s.lr.value(), w=min(s.warmup.value(), s.steps.value())
                ),
            ),
            (
                self.tr("Kept"),
                self.tr("the last weights: nothing corrected is there to check the model against"),
            ),
            (
                self.tr("Where"),
                self.tr("a run folder under {d}; it can be paused, stopped and resumed").format(d=training.runs_dir()),
            ),
        ]

    def summary_warning(self) -> str:
        warning = few_lines_warning(snapshot.count_uncorrected(self.project, self.pages_page.chosen_pages()).lines)
        return self.tr("Warning: {w}").format(w=warning) if warning else ""

    def spec(self) -> RunSpec:
        s = self.settings_page
        return RunSpec(
            kind="adapt",
            name=s.name.text().strip(),
            base=self.pages_page.base(),
            device=self.settings.device,
            share=s.share.value(),
            description=self.tr("pages of project {p}").format(p=self.project.name if self.project else "—"),
            loop={
                "steps": s.steps.value(),
                "batch_size": s.batch.value(),
                "lr": s.lr.value(),
                "warmup": min(s.warmup.value(), s.steps.value()),
                "checkpoint_every": s.checkpoint_every.value(),
            },
        )

    def prepare(self, run_dir: Path, spec: RunSpec) -> None:
        """Snapshot the chosen pages' uncorrected lines into the run folder and record them."""
        written = snapshot.write_uncorrected_pages(
            self.project, run_dir / "lines/pages", self.pages_page.chosen_pages()
        )
        spec.train = [str(p) for p in written]
        spec.project = str(self.project.root)
        spec.project_pages = [p.stem for p in written]  # the pages to read again with the new model
        runs.write_spec(run_dir, spec)

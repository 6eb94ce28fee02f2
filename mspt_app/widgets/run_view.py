"""A training run as it happens: live loss and validation-CER curves, steps/s, ETA, device,
Pause / Go on / Stop, Resume for a stopped or interrupted run, and the outcome at the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mspt_app.training import RunWatcher, runs_dir
from mspt_app.widgets.look import duration_text
from mspt_core.train.runs import is_alive, list_runs
from mspt_core.train.runspec import EventKind, RunEvent

REFRESH_MS = 2000  # the runs list looks at the run folders this often
# Marked for Qt's translation tools (lupdate reads only literal strings), said through ``said``.
CONTEXT = "RunView"
STATE_TEXT = {
    "new": QT_TRANSLATE_NOOP("RunView", "Starting…"),
    "running": QT_TRANSLATE_NOOP("RunView", "Running"),
    "paused": QT_TRANSLATE_NOOP("RunView", "Paused"),
    "finished": QT_TRANSLATE_NOOP("RunView", "Finished"),
    "cancelled": QT_TRANSLATE_NOOP("RunView", "Stopped at a checkpoint — it can be resumed"),
    "failed": QT_TRANSLATE_NOOP("RunView", "Failed"),
    "interrupted": QT_TRANSLATE_NOOP("RunView", "Interrupted — it can be resumed from its last checkpoint"),
}
KIND_TEXT = {
    "pretrain": QT_TRANSLATE_NOOP("RunView", "pre-training"),
    "finetune": QT_TRANSLATE_NOOP("RunView", "fine-tuning"),
    "adapt": QT_TRANSLATE_NOOP("RunView", "adapting"),
}


def said(texts: dict[str, object], key: str) -> str:
    """A run's state or kind as said to a person, in the app's language (the key where unknown).
    ``texts`` holds what QT_TRANSLATE_NOOP gave back: the English text (typed ``object``)."""
    return QCoreApplication.translate(CONTEXT, str(texts[key])) if key in texts else key


class RunView(QWidget):
    use_model = Signal(str)  # the person chose to make a new recognizer read the project
    finetune_from = Signal(str)  # ... or to fine-tune a new encoder

    def __init__(self, watcher: RunWatcher, parent=None):
        super().__init__(parent)
        self.watcher = watcher
        self.losses: tuple[list[int], list[float]] = ([], [])
        self.cers: tuple[list[int], list[float]] = ([], [])
        self.base_cer: float | None = None

        self.state_label = QLabel()
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        # Warnings (e.g. a validation set too small to judge by) stay, unlike passing messages.
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #a04000; font-weight: bold")
        self.warning_label.setVisible(False)
        self.device_label = QLabel()
        self.progress = QProgressBar()
        self.pace_label = QLabel()

        pg.setConfigOptions(antialias=True, background="w", foreground="k")
        self.loss_plot = pg.PlotWidget(title=self.tr("Training loss"))
        self.loss_plot.setLabel("bottom", self.tr("step"))
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen((40, 110, 230), width=2))
        self.cer_plot = pg.PlotWidget(title=self.tr("Validation CER (%)"))
        self.cer_plot.setLabel("bottom", self.tr("step"))
        self.cer_curve = self.cer_plot.plot(pen=pg.mkPen((200, 60, 40), width=2), symbol="o", symbolSize=6)
        self.base_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen((120, 120, 120), width=1, style=Qt.PenStyle.DashLine),
            label=self.tr("base model"),
            labelOpts={"position": 0.1},
        )
        self.base_line.setVisible(False)
        self.cer_plot.addItem(self.base_line)
        for plot in (self.loss_plot, self.cer_plot):
            plot.setMinimumHeight(160)
            plot.showGrid(x=True, y=True, alpha=0.2)
        # Pre-training reads no text, and adapting has nothing corrected to validate on.
        self.cer_plot.setVisible(watcher.spec.kind == "finetune")

        self.pause_button = QPushButton(self.tr("Pause"))
        self.pause_button.clicked.connect(self._toggle_pause)
        self.stop_button = QPushButton(self.tr("Stop at a checkpoint"))
        self.stop_button.clicked.connect(self._stop)
        self.resume_button = QPushButton(self.tr("Resume from the last checkpoint"))
        self.resume_button.clicked.connect(watcher.start)
        self.outcome_label = QLabel()
        self.outcome_label.setWordWrap(True)
        self.use_button = QPushButton(self.tr("Use the new model and re-read pages…"))
        self.use_button.setToolTip(
            self.tr("Make it the model of this project and choose the pages whose uncorrected lines it reads again")
        )
        self.use_button.clicked.connect(lambda: self.use_model.emit((self.watcher.result or {})["model"]))
        self.finetune_button = QPushButton(self.tr("Fine-tune a recognizer from it…"))
        self.finetune_button.clicked.connect(lambda: self.finetune_from.emit((self.watcher.result or {})["model"]))

        status = QGridLayout()
        status.addWidget(QLabel(self.tr("State:")), 0, 0)
        status.addWidget(self.state_label, 0, 1)
        status.addWidget(QLabel(self.tr("Device:")), 1, 0)
        status.addWidget(self.device_label, 1, 1)
        status.setColumnStretch(1, 1)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.cer_plot)
        buttons = QHBoxLayout()
        for button in (self.pause_button, self.stop_button, self.resume_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        outcome = QHBoxLayout()
        outcome.addWidget(self.outcome_label, 1)
        outcome.addWidget(self.use_button)
        outcome.addWidget(self.finetune_button)
        layout = QVBoxLayout(self)
        layout.addLayout(status)
        layout.addWidget(self.message_label)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.pace_label)
        layout.addLayout(plots, 1)
        layout.addLayout(buttons)
        layout.addLayout(outcome)

        for event in watcher.events:  # a run opened again: draw what it did so far
            self._on_event(event, redraw=False)
        self._redraw()
        watcher.run_event.connect(self._on_event)
        watcher.state_changed.connect(self._show_state)
        self._show_state(watcher.state)

    # --- events ---------------------------------------------------------------------------------

    def _on_event(self, event: RunEvent, redraw: bool = True) -> None:
        kind = event.kind
        if kind is EventKind.STEP and event.step is not None and event.total is not None:
            steps, losses = self.losses
            if steps and event.step <= steps[-1]:  # resumed from an earlier checkpoint
                cut = next(i for i, s in enumerate(steps) if s >= event.step)
                del steps[cut:], losses[cut:]
            if event.loss is not None:
                steps.append(event.step)
                losses.append(event.loss)
            self.progress.setRange(0, event.total)
            self.progress.setValue(event.step)
            rate = event.steps_per_s
            self.pace_label.setText(
                self.tr("step {s} of {t} · {r} steps/s · about {eta} left").format(
                    s=event.step,
                    t=event.total,
                    r=f"{rate:.2f}" if rate else "—",
                    eta=duration_text(event.eta),
                )
            )
        elif kind is EventKind.VALIDATION and event.cer is not None and event.step is not None:
            while self.cers[0] and self.cers[0][-1] >= event.step:  # resumed from before it
                self.cers[0].pop()
                self.cers[1].pop()
            self.cers[0].append(event.step)
            self.cers[1].append(100 * event.cer)
        elif kind is EventKind.BASE and event.cer is not None:
            self.base_cer = event.cer
        elif kind is EventKind.LINES and event.total is not None and event.done is not None:
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
        elif kind is EventKind.STARTED or event.device:  # training tells its precision with it too
            self.device_label.setText(event.device or "")
        elif kind is EventKind.WARNING:
            self.warning_label.setText(event.message)
            self.warning_label.setVisible(True)
            return
        if event.message:
            self.message_label.setText(event.message)
        if redraw:
            self._redraw()

    def _redraw(self) -> None:
        self.loss_curve.setData(*self.losses)
        self.cer_curve.setData(*self.cers)
        if self.base_cer is not None:
            self.base_line.setPos(100 * self.base_cer)
            self.base_line.setVisible(True)

    def _show_state(self, state: str) -> None:
        self.state_label.setText(said(STATE_TEXT, state))
        active = state in ("running", "paused", "new")
        self.pause_button.setVisible(active)
        self.stop_button.setVisible(active)
        self.pause_button.setText(self.tr("Go on") if state == "paused" else self.tr("Pause"))
        self.resume_button.setVisible(state in ("cancelled", "failed", "interrupted"))
        result = self.watcher.result
        self.outcome_label.setText(self._outcome_text(result) if result else "")
        kind = result.get("kind") if result else None
        # A run that kept its base installed nothing: there is no new model to use.
        self.use_button.setVisible(kind == "recognizer" and bool(result and result.get("model")))
        self.finetune_button.setVisible(kind == "encoder")
        if state == "failed":
            self.outcome_label.setText(
                self.tr("The run failed: {m}\nIts log: {p}").format(
                    m=self.message_label.text(), p=self.watcher.run_dir / "process.log"
                )
            )

    def _outcome_text(self, result: dict) -> str:
        if result.get("adapted"):
            return self.tr(
                "The adapted model “{n}” learned from its surest {k} readings of {l} lines ({s} steps). Nothing "
                "corrected checks it: compare it with “{b}” on a page you correct."
            ).format(
                n=result["model"],
                k=result.get("learned_lines"),
                l=result.get("lines"),
                s=result.get("steps"),
                b=result.get("base"),
            )
        if result.get("kind") == "encoder":
            return self.tr(
                "The pre-trained encoder “{n}” is in the model manager ({l} lines, {s} steps). "
                "Fine-tune a recognizer from it on corrected lines."
            ).format(n=result["model"], l=result.get("lines"), s=result.get("steps"))
        base = result.get("base_cer")
        base_text = f"{100 * base:.2f}%" if base is not None else self.tr("— (an encoder cannot read)")
        new = result.get("new_cer")
        new_text = f"{100 * new:.2f}%" if new is not None else "—"
        if result.get("kept_base"):
            text = self.tr(
                "No improvement over the base model: keeping the base. “{b}” stays as it was and no new "
                "model was installed.\nValidation CER on {v} lines — base model: {bc}, best after "
                "fine-tuning: {c}"
            ).format(b=result.get("base"), v=result.get("val_lines"), bc=base_text, c=new_text)
        else:
            text = self.tr("Validation CER on {v} lines — base model: {b}, new model “{n}”: {c}").format(
                v=result.get("val_lines"), b=base_text, n=result["model"], c=new_text
            )
            blend = result.get("blend")
            if blend and blend.get("kept"):
                text += "\n" + self.tr(
                    "The new model is the fine-tuned one blended back toward the base ({a:g} fine-tuned): "
                    "it forgets less of what the base read well."
                ).format(a=blend["share"])
        if self.warning_label.text():
            text += "\n" + self.tr("These figures cannot be trusted: too few validation lines.")
        return text

    # --- buttons --------------------------------------------------------------------------------

    def _toggle_pause(self) -> None:
        if self.watcher.state == "paused":
            self.watcher.go_on()
        else:
            self.watcher.pause()

    def _stop(self) -> None:
        self.watcher.stop()
        self.stop_button.setEnabled(False)
        self.message_label.setText(self.tr("Stopping at the next step…"))
        self.watcher.state_changed.connect(lambda _: self.stop_button.setEnabled(True))


class RunWindow(QDialog):
    """A run in a window of its own (opened from Training ▸ Runs)."""

    def __init__(self, watcher: RunWatcher, parent=None):
        super().__init__(parent)
        spec = watcher.spec
        self.setWindowTitle(self.tr("{k} “{n}”").format(k=said(KIND_TEXT, spec.kind).capitalize(), n=spec.name))
        self.view = RunView(watcher, self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(860, 560)


class RunsDialog(QDialog):
    """Every training run of this user, newest first: open one to watch it, or to resume it
    when it was stopped or interrupted; delete the folders of runs that are over (their
    checkpoints take space; models they installed stay in the model manager)."""

    def __init__(self, open_run, watched: dict[Path, RunWatcher], parent=None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("Training runs"))
        self.open_run = open_run  # called with a run folder
        self.watched = watched  # runs this window started: their process says more than files
        self.list = QListWidget()
        self.list.itemDoubleClicked.connect(lambda item: self._open())
        open_button = QPushButton(self.tr("Open"))
        open_button.clicked.connect(self._open)
        self.delete_button = QPushButton(self.tr("Delete…"))
        self.delete_button.clicked.connect(self._delete)
        self.list.currentRowChanged.connect(self._update_delete)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        self.resize(720, 400)
        self.states: dict[str, str] = {}
        self.summaries: dict = {}  # list_runs' cache: runs whose files did not change are not re-read
        self.refresh()
        # Runs go on (or end, or start from another window) while the list is open.
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    def refresh(self) -> None:
        """Rebuild the list when a run changed; the selected run stays selected."""
        rows: list[tuple[str, str]] = []  # (text, path)
        states: dict[str, str] = {}
        for summary in list_runs(runs_dir(), self.summaries):
            watcher = self.watched.get(summary.path)
            if watcher is not None:
                watcher.poll()
                summary.state = watcher.state
            kind = said(KIND_TEXT, summary.spec.kind)
            steps = f" · step {summary.step}/{summary.total_steps}" if summary.total_steps else ""
            text = f"{summary.path.name}: {kind} “{summary.spec.name}” — {said(STATE_TEXT, summary.state)}{steps}"
            if summary.result and summary.result.get("kept_base"):
                text += self.tr(" · no improvement: the base model stays")
            rows.append((text, str(summary.path)))
            states[str(summary.path)] = summary.state
        shown = [
            (self.list.item(r).text(), self.list.item(r).data(Qt.ItemDataRole.UserRole))
            for r in range(self.list.count())
        ]
        self.states = states
        if rows != shown:
            selected = self._selected()
            self.list.clear()
            for text, path in rows:
                item = QListWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, path)
                self.list.addItem(item)
            paths = [path for _, path in rows]
            if paths:
                self.list.setCurrentRow(paths.index(selected) if selected in paths else 0)
        self._update_delete()

    def _selected(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _update_delete(self) -> None:
        path = self._selected()
        running = path is not None and self.states.get(path) in ("running", "paused")
        self.delete_button.setEnabled(path is not None and not running)
        self.delete_button.setToolTip(self.tr("Stop the run first") if running else "")

    def confirm_delete(self, path: Path) -> bool:
        answer = QMessageBox.question(
            self,
            "mspt",
            self.tr(
                "Delete the run folder {p} with its checkpoints? It cannot be resumed "
                "afterwards; models it installed stay."
            ).format(p=path),
        )
        return answer == QMessageBox.StandardButton.Yes

    def _delete(self) -> None:
        path = self._selected()
        if path is None or is_alive(Path(path)):  # a run started elsewhere since the list was made
            self.refresh()
            return
        if self.confirm_delete(Path(path)):
            shutil.rmtree(path, ignore_errors=True)
            self.refresh()

    def _open(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.open_run(Path(item.data(Qt.ItemDataRole.UserRole)))

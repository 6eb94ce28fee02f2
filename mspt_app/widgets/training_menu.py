"""The Training menu of the main window: the wizards, the list of runs, the model manager, and
the runs this window watches (so that closing it asks what to do with them)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from mspt_app.training import RunWatcher
from mspt_app.widgets.adapt_wizard import AdaptWizard
from mspt_app.widgets.model_manager import ModelManagerDialog
from mspt_app.widgets.reread import RereadDialog
from mspt_app.widgets.run_view import STATE_TEXT, RunsDialog, RunView, RunWindow, said
from mspt_app.widgets.wizards import FinetuneWizard, PretrainWizard
from mspt_core.train.runspec import RunSpec

KEEP, STOP, STAY = "keep", "stop", "stay"


class TrainingControl(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.watchers: dict[Path, RunWatcher] = {}
        self.open_dialogs: list = []  # wizards and run windows, kept alive while shown

    def build_menu(self, bar) -> None:
        menu = bar.addMenu(self.tr("&Training"))
        w = self.window
        self.act_pretrain = w._action(menu, "&Pre-train on my archive…", self.open_pretrain_wizard)
        self.act_finetune = w._action(menu, "&Fine-tune on my corrections…", self.open_finetune_wizard)
        self.act_adapt = w._action(menu, "&Adapt to my pages without corrections…", self.open_adapt_wizard)
        self.act_runs = w._action(menu, "Training &runs…", self.open_runs)
        menu.addSeparator()
        self.act_models = w._action(menu, "&Models…", self.open_models)

    # --- windows ----------------------------------------------------------------------------------

    def _show(self, dialog) -> None:
        self.open_dialogs.append(dialog)
        dialog.finished.connect(lambda _=0, d=dialog: self.open_dialogs.remove(d) if d in self.open_dialogs else None)
        dialog.show()

    def open_pretrain_wizard(self) -> PretrainWizard:
        wizard = PretrainWizard(self.window.settings, self.adopt, self.window)
        self._show(wizard)
        return wizard

    def open_finetune_wizard(self, base: str | None = None) -> FinetuneWizard:
        """The fine-tune wizard, starting from ``base``, else from the model that reads the project."""
        project = self.window.project
        base = base or (project.model if project is not None else "") or None
        wizard = FinetuneWizard(project, self.window.settings, self.adopt, base, self.window)
        self._show(wizard)
        return wizard

    def open_adapt_wizard(self, base: str | None = None) -> AdaptWizard | None:
        """The adapt wizard for the open project, starting from ``base``, else from the model that
        reads the project; with no project open, says so."""
        project = self.window.project
        if project is None:
            self.window.status_label.setText(self.tr("Open a project first: a model adapts to its pages."))
            return None
        wizard = AdaptWizard(project, self.window.settings, self.adopt, base or project.model or None, self.window)
        self._show(wizard)
        return wizard

    def open_runs(self) -> RunsDialog:
        dialog = RunsDialog(self.open_run, self.watchers, self.window)
        self._show(dialog)
        return dialog

    def open_run(self, run_dir: Path) -> RunWindow:
        run_dir = Path(run_dir)
        watcher = self.watchers.get(run_dir) or RunWatcher(run_dir, self)
        window = RunWindow(watcher, self.window)
        self.adopt(watcher, window.view)
        self._show(window)
        return window

    def open_models(self) -> ModelManagerDialog:
        dialog = ModelManagerDialog(self.window.settings, self.window)
        dialog.active_changed.connect(
            lambda name: self.window.status_label.setText(self.tr("Default model: {m}").format(m=name or "default"))
        )
        dialog.active_changed.connect(lambda _: self.window.refresh_model_chooser())
        self._show(dialog)
        return dialog

    # --- runs -------------------------------------------------------------------------------------

    def adopt(self, watcher: RunWatcher, view: RunView) -> None:
        """Watch a run for as long as the window lives, and act on what its view offers."""
        if watcher.run_dir not in self.watchers:
            self.watchers[watcher.run_dir] = watcher
            watcher.setParent(self)
            name = watcher.spec.name

            # The words the run's own view uses ("stopped at a checkpoint", not "cancelled").
            def show_state(state: str) -> None:
                text = said(STATE_TEXT, state)
                self.window.status_label.setText(self.tr("Training “{n}”: {s}").format(n=name, s=text))

            watcher.state_changed.connect(show_state)
        view.use_model.connect(lambda model, spec=watcher.spec: self.use_model(model, spec))
        view.finetune_from.connect(self.open_finetune_wizard)

    def active_runs(self) -> list[RunWatcher]:
        for watcher in self.watchers.values():
            watcher.poll()  # fresh: a run may have ended since the last tick
        return [w for w in self.watchers.values() if w.active]

    def use_model(self, name: str, spec: RunSpec | None = None) -> RereadDialog | None:
        """Ask which pages a newly trained recognizer reads again, then make it read the open
        project (this one only, not the others) and re-read the uncorrected lines of those pages:
        one undo step for all of it. ``spec``: the run that trained it; a fine-tune's says the
        pages it was trained on (unticked at first), an adapted model's pages stay ticked."""
        window = self.window
        window.refresh_model_chooser()  # the new model is in the registry now
        project = window.project
        if project is None:
            window.status_label.setText(
                self.tr("Open a project, then choose {m} in the toolbar to read it.").format(m=name)
            )
            return None
        trained: set[str] = set()
        # An adapted model's pages are the ones to read again: only a fine-tune's are unticked.
        if spec is not None and spec.kind == "finetune" and spec.project:
            if Path(spec.project).resolve() == project.root.resolve():
                trained = set(spec.project_pages)
        dialog = RereadDialog(project, name, trained, window)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)  # the project stays the one it lists

        def chosen() -> None:
            if window.project is not project:
                return  # another project was opened meanwhile
            if window.use_model(name, reread=dialog.chosen()) is None:
                window.status_label.setText(
                    self.tr("Wait for {t} to finish, then use {m} again.").format(
                        t=window.task.title if window.task else self.tr("the running task"), m=name
                    )
                )

        dialog.accepted.connect(chosen)
        self._show(dialog)
        return dialog

    def ask_about_running(self, count: int) -> str:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "mspt",
            self.tr("{n} training run(s) are still going.").format(n=count),
            parent=self.window,
        )
        box.setInformativeText(
            self.tr(
                "They can go on in the background (Training ▸ Runs shows them the next "
                "time), or stop now at a checkpoint and be resumed later."
            )
        )
        keep = box.addButton(self.tr("Keep training in the background"), QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton(self.tr("Stop at a checkpoint"), QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return KEEP if box.clickedButton() is keep else STOP if box.clickedButton() is stop else STAY

    def ask_close(self) -> str | None:
        """Asked when the window is about to close: None when no run is going, else the
        person's choice (KEEP, STOP or STAY). Nothing is done yet: see ``apply_close``."""
        active = self.active_runs()
        return self.ask_about_running(len(active)) if active else None

    def apply_close(self, choice: str | None) -> None:
        """The window closes: stop the runs at a checkpoint or leave them going."""
        for watcher in self.active_runs():
            if choice == STOP:
                watcher.stop()  # the process saves a checkpoint and ends by itself
            watcher.detach()
        for dialog in list(self.open_dialogs):
            dialog.close()

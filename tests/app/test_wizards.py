"""The training wizards, driven end to end on real train-split pages with the tiny model and a
few steps: pre-training puts an encoder into the model manager, fine-tuning from it makes a
recognizer whose validation CER is shown; pause, stop and resume work; a killed training
process leaves the project intact and the run resumable; closing the window asks."""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from PySide6.QtCore import Qt

from mspt_app.widgets import model_manager, training_menu
from mspt_app.widgets.reread import RereadDialog
from mspt_core.document import LineStatus
from mspt_core.locks import FolderLock
from mspt_core.models import import_model
from mspt_core.presets import FINETUNE, training_preset
from mspt_core.train import runs
from mspt_core.train.checkpoint import CHECKPOINT
from mspt_core.train.runspec import RunSpec
from tests.app.test_workflow import wait_for_task
from tests.conftest import precision_on_this_cpu

RUN_TIMEOUT = 180_000  # ms; a few tiny steps, but each run starts a Python process with torch


@pytest.fixture
def archive(small_train_export, tmp_path):
    """Page scans without any transcription, as an archive is."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for image in small_train_export.glob("*.png"):
        shutil.copy(image, folder / image.name)
    return folder


@pytest.fixture
def corrected_project(window, small_train_export, tmp_path):
    window.new_project(tmp_path / "project")
    window.add_pages([small_train_export])
    return window


def click(qtbot, button):
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def finetune_run(window, qtbot, base: str, steps: int, name: str = "my-reader", checkpoint_every: int = 5):
    wizard = window.training.open_finetune_wizard(base)
    assert wizard.base_page.base() == base
    wizard.next()
    assert wizard.lines_page.use_project.isChecked()
    wizard.next()
    s = wizard.settings_page
    s.name.setText(name)
    s.steps.setValue(steps)
    s.advanced_toggle.setChecked(True)
    s.batch.setValue(2)
    s.val_every.setValue(steps)
    s.checkpoint_every.setValue(checkpoint_every)
    wizard.next()
    assert wizard.currentPage() is wizard.summary_page and wizard.watcher is None  # nothing runs yet
    assert f"{steps} steps of 2 lines" in wizard.summary_page.text()
    wizard.next()
    view = wizard.run_page.view
    assert view is not None and wizard.watcher.active
    return wizard, view, wizard.watcher


def model_rows(window) -> dict[str, list[str]]:
    dialog = window.training.open_models()
    table = dialog.table
    rows = {
        table.item(r, model_manager.NAME).text().split(" (")[0]: [
            table.item(r, c).text() for c in range(table.columnCount())
        ]
        for r in range(table.rowCount())
    }
    dialog.close()
    return rows


def test_pretrain_then_finetune_from_the_new_encoder(qtbot, corrected_project, archive, monkeypatch):
    window = corrected_project
    wizard = window.training.open_pretrain_wizard()
    monkeypatch.setattr(wizard.archive_page, "ask_folder", lambda: str(archive))
    wizard.archive_page._add()
    qtbot.waitUntil(wizard.archive_page.isComplete, timeout=60_000)
    assert "2 pages" in wizard.archive_page.count_label.text()
    assert "lines" in wizard.archive_page.count_label.text()  # an estimate from segmenting a sample
    wizard.next()
    s = wizard.settings_page
    assert "CPU" in s.estimate.text()
    s.name.setText("archive-encoder")
    s.advanced_toggle.setChecked(True)
    assert s.advanced.isVisible()
    s.model_size.setCurrentText("tiny")
    s.clusters.setValue(8)
    s.steps.setValue(6)
    s.batch.setValue(4)
    s.checkpoint_every.setValue(3)
    wizard.next()
    summary = wizard.summary_page.text()
    assert "k-means pseudo-labels, 8 clusters" in summary and "6 steps of 4 lines" in summary
    assert "fitting the k-means targets" in summary  # the estimate counts the clustering
    wizard.next()
    view, watcher = wizard.run_page.view, wizard.watcher
    assert watcher.spec.method["size"] == "tiny" and watcher.spec.archive == [str(archive)]
    qtbot.waitUntil(lambda: watcher.state == "finished", timeout=RUN_TIMEOUT)

    assert len(view.losses[0]) >= 1 and view.progress.value() == 6  # the curve was drawn live
    assert view.cer_plot.isHidden()  # pre-training reads no text: no CER plot to leave empty
    assert "archive-encoder" in view.outcome_label.text()
    rows = model_rows(window)
    assert rows["archive-encoder"][model_manager.KIND] == "Pre-trained encoder"
    trained_on = rows["archive-encoder"][model_manager.TRAINED]
    assert str(archive) in trained_on and "work" not in trained_on  # what was chosen, not the run's store

    # Fine-tune a recognizer from it on the project's corrected lines.
    assert view.finetune_button.isVisible()
    click(qtbot, view.finetune_button)
    finetune = window.training.open_dialogs[-1]
    assert finetune.base_page.base() == "archive-encoder"
    finetune.close()
    wizard2, view2, watcher2 = finetune_run(window, qtbot, "archive-encoder", steps=6)
    snapshot = watcher2.spec.train
    assert snapshot and all(p.endswith(".xml") for p in snapshot)  # the corrected lines, copied
    qtbot.waitUntil(lambda: watcher2.state == "finished", timeout=RUN_TIMEOUT)
    result = watcher2.result
    assert result["model"] == "my-reader" and result["base_cer"] is None and result["new_cer"] is not None
    assert f"{100 * result['new_cer']:.2f}%" in view2.outcome_label.text()
    assert "encoder cannot read" in view2.outcome_label.text()
    # The sample project's few validation lines cannot judge a model: said, and it stays said.
    assert result["val_lines"] < 30 and "too few to judge a model by" in view2.warning_label.text()
    assert "cannot be trusted" in view2.outcome_label.text()
    assert len(view2.cers[0]) == 1 and not view2.cer_plot.isHidden()  # the validation point on the curve
    assert rows_kind(window, "my-reader") == "Recognizer"

    click(qtbot, view2.use_button)
    dialog = window.training.open_dialogs[-1]
    # Both pages taught the model and hold no uncorrected line: nothing is ticked to re-read.
    assert isinstance(dialog, RereadDialog) and dialog.chosen() == []
    assert all("(trained on)" in dialog.pages.item(r).text() for r in range(dialog.pages.count()))
    dialog.ok_button.click()
    assert window.project.model == "my-reader" and window.settings.model != "my-reader"  # this project only
    wait_for_task(qtbot, window)


def rows_kind(window, name):
    return model_rows(window)[name][model_manager.KIND]


def test_finetuning_a_recognizer_pauses_stops_resumes_and_compares_cers(qtbot, corrected_project, tiny_model):
    window = corrected_project
    import_model(tiny_model, "tiny-base")
    wizard, view, watcher = finetune_run(window, qtbot, "tiny-base", steps=30)
    qtbot.waitUntil(lambda: view.progress.value() >= 2, timeout=RUN_TIMEOUT)

    click(qtbot, view.pause_button)
    qtbot.waitUntil(lambda: watcher.state == "paused", timeout=30_000)
    assert view.pause_button.text() == "Go on" and "Paused" in view.state_label.text()
    click(qtbot, view.pause_button)
    qtbot.waitUntil(lambda: watcher.state == "running", timeout=30_000)

    click(qtbot, view.stop_button)
    qtbot.waitUntil(lambda: watcher.state == "cancelled", timeout=60_000)
    stopped_at = view.progress.value()
    assert stopped_at < 30 and view.resume_button.isVisible() and not view.pause_button.isVisible()
    assert (watcher.run_dir / runs.WORK / "train" / CHECKPOINT).exists()

    click(qtbot, view.resume_button)
    qtbot.waitUntil(lambda: watcher.state == "finished", timeout=RUN_TIMEOUT)
    result = watcher.result
    assert result["steps"] == 30
    text = view.outcome_label.text()
    assert f"base model: {100 * result['base_cer']:.2f}%" in text and f"{100 * result['new_cer']:.2f}%" in text
    assert view.base_line.isVisible()  # the base CER drawn as a line on the CER plot
    assert view.device_label.text() == ("cpu (bf16)" if precision_on_this_cpu() == "bf16" else "cpu")
    if not result.get("kept_base"):  # the preset blends the kept model back toward the base, and says so
        blend = result["blend"]
        assert blend["share"] == pytest.approx(training_preset(FINETUNE).tuned_share)
        assert ("blended back toward the base" in text) == blend["kept"]
    used = {"share": 0.75, "val_cer": 0.1, "kept": True}  # the words for a blend used, and for one not
    shown = view._outcome_text(dict(result, blend=used, model="m", kept_base=False))
    assert "blended back toward the base (0.75 fine-tuned)" in shown
    unused = dict(used, kept=False)
    assert "blended" not in view._outcome_text(dict(result, blend=unused, model="m", kept_base=False))


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX")
def test_killing_the_training_process_loses_nothing_and_the_run_resumes(qtbot, corrected_project, tiny_model):
    window = corrected_project
    import_model(tiny_model, "tiny-base")
    project_files = {p: p.read_bytes() for p in window.project.root.rglob("*.xml")}
    wizard, view, watcher = finetune_run(window, qtbot, "tiny-base", steps=20, checkpoint_every=3)
    qtbot.waitUntil(lambda: (watcher.run_dir / runs.WORK / "train" / CHECKPOINT).exists(), timeout=RUN_TIMEOUT)
    os.kill(watcher.process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: watcher.state == "interrupted", timeout=10_000)

    assert {p: p.read_bytes() for p in window.project.root.rglob("*.xml")} == project_files
    page = window.project.page(0)
    line = next(page.lines())
    assert line.status == LineStatus.CORRECTED  # and the window goes on working
    assert view.resume_button.isVisible() and "Interrupted" in view.state_label.text()

    # Closing the wizard and finding the run again from Training ▸ Runs.
    wizard.close()
    dialog = window.training.open_runs()
    assert "Interrupted" in dialog.list.item(0).text()
    dialog._open()
    run_window = window.training.open_dialogs[-1]
    click(qtbot, run_window.view.resume_button)
    qtbot.waitUntil(lambda: watcher.state == "finished", timeout=RUN_TIMEOUT)
    result = watcher.result  # a model is installed only if it beat its base
    assert result["steps"] == 20 and result["model"] == (
        "my-reader" if result["new_cer"] < result["base_cer"] else None
    )


@pytest.mark.parametrize("choice", [training_menu.KEEP, training_menu.STOP])
def test_closing_the_window_keeps_training_or_stops_it_at_a_checkpoint(
    qtbot, corrected_project, tiny_model, monkeypatch, choice
):
    window = corrected_project
    import_model(tiny_model, "tiny-base")
    wizard, view, watcher = finetune_run(window, qtbot, "tiny-base", steps=2000)
    qtbot.waitUntil(lambda: view.progress.value() >= 1, timeout=RUN_TIMEOUT)
    process = watcher.process
    asked = []
    monkeypatch.setattr(window.training, "ask_about_running", lambda n: asked.append(n) or choice)
    try:
        window.close()
        assert asked == [1] and not window.isVisible()
        if choice == training_menu.KEEP:
            qtbot.wait(1500)
            assert process.poll() is None and runs.is_alive(watcher.run_dir)
            runs.set_control(watcher.run_dir, "stop")
        assert process.wait(60) == 3  # stopped at a checkpoint
        summary = runs.summarize(watcher.run_dir)
        assert summary.state == "cancelled" and summary.resumable
    finally:
        if process.poll() is None:
            process.kill()


def test_fine_tuning_trains_only_on_corrected_lines_snapshotted_from_the_project(corrected_project, tmp_path):
    from mspt_core.data.lines import load_lines
    from mspt_core.project.snapshot import count_corrected, write_training_pages

    window = corrected_project
    page = window.project.page(0)
    lines = list(page.lines())
    lines[0].status = LineStatus.RECOGNIZED  # read by a model, never checked by a person
    lines[1].text = "   "  # corrected to nothing
    window.project.changed(page.id)
    expected = [line.text for line in lines if line.status == LineStatus.CORRECTED and line.text.strip()]

    counted = count_corrected(window.project)
    corrected = sum(line.status == LineStatus.CORRECTED for i in range(2) for line in window.project.page(i).lines())
    assert counted.pages == 2 and counted.lines == corrected
    written = write_training_pages(window.project, tmp_path / "snapshot", [0])
    assert len(written) == 1
    snapshot = load_lines(written, 40)
    assert snapshot.texts == expected and not snapshot.skipped
    lines[2].text = "edited after the snapshot"  # the person goes on working; the run's data stays
    assert load_lines(written, 40).texts == expected


def test_the_fine_tune_wizard_refuses_a_bad_name_and_an_empty_training_set(corrected_project):
    """Checked before training starts, not when its model is installed hours later."""
    wizard = corrected_project.training.open_finetune_wizard("default")
    lines = wizard.lines_page
    assert lines.isComplete()
    lines.page_val.setChecked(True)
    assert not lines.isComplete()  # validation on chosen pages, none chosen
    for row in range(lines.val_pages.count()):
        lines.val_pages.item(row).setCheckState(Qt.CheckState.Checked)
    assert not lines.isComplete()  # every corrected page is for validation: nothing to train on
    lines.val_pages.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert lines.isComplete() and lines.validation_pages() == [lines.val_pages.item(1).data(Qt.ItemDataRole.UserRole)]

    settings = wizard.settings_page
    settings.name.setText("letters 1850/60")
    assert not settings.isComplete() and "may hold" in settings.name.toolTip()
    settings.name.setText("letters 1850-60")
    assert settings.isComplete()


def test_the_runs_list_deletes_finished_runs_but_not_running_ones(window, monkeypatch, qtbot):
    import json

    from mspt_app.training import runs_dir

    def made(name: str, *events: dict):
        run_dir = runs.create_run(runs_dir() / name, RunSpec(kind="finetune", name=name, base="default"))
        (run_dir / runs.EVENTS).write_text("".join(json.dumps(e) + "\n" for e in events))
        return run_dir

    done = made("1-done", {"event": "started"}, {"event": "end", "status": "finished", "message": "done"})
    going = made("2-going", {"event": "started"}, {"event": "step", "step": 3, "total": 10})
    holder = FolderLock(going / runs.LOCK)  # this test plays the run's process
    assert holder.acquire()
    try:
        dialog = window.training.open_runs()
        rows = {dialog.list.item(r).data(Qt.ItemDataRole.UserRole): r for r in range(dialog.list.count())}
        dialog.list.setCurrentRow(rows[str(going)])
        assert not dialog.delete_button.isEnabled()  # a running run is never deleted
        monkeypatch.setattr(dialog, "confirm_delete", lambda path: True)
        dialog._delete()
        assert going.exists()

        dialog.list.setCurrentRow(rows[str(done)])
        assert dialog.delete_button.isEnabled()
        dialog._delete()
        assert not done.exists() and going.exists()
        assert dialog.list.count() == 1

        # The list follows the folders while it is open: a run going on, and a new one.
        with open(going / runs.EVENTS, "a") as events:
            events.write(json.dumps({"event": "step", "step": 7, "total": 10}) + "\n")
        made("3-new", {"event": "started"}, {"event": "end", "status": "cancelled", "message": "stopped"})
        qtbot.waitUntil(lambda: dialog.list.count() == 2, timeout=10_000)
        texts = [dialog.list.item(r).text() for r in range(dialog.list.count())]
        assert any("step 7/10" in t for t in texts) and any("Stopped at a checkpoint" in t for t in texts)
        assert dialog._selected() == str(going)  # the selection stays on the run it was on
    finally:
        holder.release()


def test_a_runs_state_and_kind_are_said_in_the_apps_language(qapp):
    """The words for a run's state and kind go through Qt's translation, not around it."""
    from PySide6.QtCore import QCoreApplication, QTranslator

    from mspt_app.widgets.run_view import KIND_TEXT, STATE_TEXT, said
    from mspt_core.train.runspec import KINDS

    assert set(KIND_TEXT) == set(KINDS)  # every kind of run has its words

    class Shouting(QTranslator):  # a stand-in for a language file: every RunView text in capitals
        def translate(self, context, text, disambiguation=None, n=-1):
            return text.upper() if context == "RunView" else ""

        def isEmpty(self):
            return False

    translator = Shouting()
    assert QCoreApplication.installTranslator(translator)
    try:
        assert said(STATE_TEXT, "cancelled") == "STOPPED AT A CHECKPOINT — IT CAN BE RESUMED"
        assert said(KIND_TEXT, "pretrain") == "PRE-TRAINING"
        assert said(STATE_TEXT, "a state from a newer version") == "a state from a newer version"
    finally:
        QCoreApplication.removeTranslator(translator)
    assert said(KIND_TEXT, "pretrain") == "pre-training"


def test_the_finetune_wizard_starts_from_the_preset_that_fits_the_base(corrected_project):
    from mspt_core.presets import ENCODER

    wizard = corrected_project.training.open_finetune_wizard("default")
    wizard.next()
    wizard.next()
    s = wizard.settings_page
    few_pages = training_preset(FINETUNE)
    assert s.steps.value() == few_pages.settings().steps and s.lr.value() == pytest.approx(few_pages.settings().lr)
    assert not s.encoder_lr.isEnabled() and not s.freeze.isEnabled()  # a recognizer learns as a whole
    assert s.tuned_share.isEnabled() and s.tuned_share.value() == pytest.approx(few_pages.tuned_share)
    s.steps.setValue(77)  # typed by the user: kept while the base stays a recognizer
    wizard.back()
    wizard.next()
    assert s.steps.value() == 77
    spec = wizard.spec()
    assert spec.loop["steps"] == 77 and spec.loop["patience"] == few_pages.settings().patience
    assert spec.encoder_lr_scale == few_pages.encoder_lr_scale
    assert spec.tuned_share == pytest.approx(few_pages.tuned_share)
    wizard.next()  # the summary: what will run, before anything does
    summary = wizard.summary_page.text()
    assert "77 steps of 16 lines" in summary and "default (recognizer)" in summary
    assert f"blended back toward the base ({few_pages.tuned_share:g} tuned)" in summary
    assert "corrected lines of this project" in summary
    assert "too few to judge a model by" in summary  # the sample project's 10% is a handful of lines
    assert wizard.watcher is None
    wizard.back()
    # A pre-trained encoder as the base: the new-head preset.
    wizard.back()
    from mspt_app.widgets.wizards import BASE_KIND_ROLE

    wizard.base_page.models.currentItem().setData(BASE_KIND_ROLE, "encoder")  # as an encoder's row says
    wizard.next()
    assert s.encoder_lr.value() == training_preset(ENCODER).encoder_lr_scale and s.encoder_lr.isEnabled()
    assert not s.tuned_share.isEnabled()  # a new head has no base to blend back toward
    assert s.steps.value() == training_preset(ENCODER).settings().steps
    wizard.close()


def test_the_fine_tune_wizard_says_when_the_model_to_start_from_is_gone(corrected_project):
    # A project that named a model since removed (or a file path the chooser kept) starts elsewhere, and says so.
    wizard = corrected_project.training.open_finetune_wizard("removed-model")
    page = wizard.base_page
    assert page.base() is not None and page.base() != "removed-model"
    assert not page.note.isHidden() and "“removed-model” is not among these models" in page.note.text()
    wizard.close()
    wizard = corrected_project.training.open_finetune_wizard("default")
    assert wizard.base_page.base() == "default" and wizard.base_page.note.isHidden()
    wizard.close()

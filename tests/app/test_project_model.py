"""Models per project (issues 16 and 20): the project records which model reads it, the toolbar
shows and changes it, and "use the new model" after fine-tuning applies to this project only,
re-reads only the lines nobody corrected, and is undone with one Ctrl+Z."""

from __future__ import annotations

import json

import pytest

from mspt_core.document import LineStatus
from mspt_core.models import import_model
from tests.app.test_workflow import wait_for_task


@pytest.fixture
def my_hand(tiny_model):
    """A fine-tuned model in the registry (the tiny one under another name: it reads differently
    from the made-up readings of the ``read`` fixture, which is what matters here)."""
    return import_model(tiny_model, "my-hand").name


def texts(window):
    return [(line.text, line.status) for i in range(len(window.project)) for line in window.project.page(i).lines()]


def test_the_new_model_reads_this_project_only_and_one_undo_takes_it_back(qtbot, read, my_hand, tmp_path):
    window = read
    first = window.panel.order[0]
    window.focus_line(first)
    window.act_confirm.trigger()  # a line the person checked: never re-read
    before = texts(window)
    steps = len(window.editor.history.done)
    default = window.settings.model

    dialog = window.training.use_model(my_hand)  # no run behind it: no page was trained on
    assert dialog.chosen() == [0, 1]  # both pages have lines nobody corrected
    dialog.ok_button.click()
    wait_for_task(qtbot, window)
    after = texts(window)
    assert window.project.model == "my-hand" and window.settings.model == default
    assert json.loads((window.project.root / "project.json").read_text(encoding="utf-8"))["model"] == "my-hand"
    assert after[0] == before[0] == ("line 0", LineStatus.CORRECTED)
    changed = [b != a for b, a in zip(before[1:], after[1:], strict=True)]
    assert all(changed) and {status for _, status in after[1:]} == {LineStatus.RECOGNIZED}
    assert window.model_chooser.currentData() == "my-hand" and "my-hand" in window.model_chooser.currentText()
    assert len(window.editor.history.done) == steps + 1  # every page re-read: one step
    assert window.act_undo.text() == "&Undo use model my-hand"

    window.undo()
    assert texts(window) == before and window.project.model == ""
    assert window.model_chooser.currentData() == ""
    window.redo()
    assert texts(window) == after and window.project.model == "my-hand"

    # Another project is still read by the default.
    assert window.close_project()
    other = window.new_project(tmp_path / "other")
    assert other.model == "" and window.model_chooser.currentData() == ""
    assert window.model_chooser.currentText().startswith("Default")


def test_the_toolbar_chooses_the_projects_model_and_recognition_uses_it(qtbot, read, my_hand, monkeypatch):
    from mspt_app import workers

    window = read
    chooser = window.model_chooser
    chooser.showPopup()  # the list is read when it opens: the model imported since is in it
    chooser.hidePopup()
    assert chooser.isEnabled() and chooser.findData("my-hand") >= 0
    chooser.setCurrentIndex(chooser.findData("my-hand"))
    chooser.activated.emit(chooser.currentIndex())
    assert window.project.model == "my-hand" and window.act_undo.text() == "&Undo use model my-hand"
    used = []
    load = workers.load_reader
    monkeypatch.setattr(workers, "load_reader", lambda model, device: used.append(model) or load(model, device))
    window.act_recognize.trigger()
    wait_for_task(qtbot, window)
    assert used == ["my-hand"]
    wizard = window.training.open_finetune_wizard()  # fine-tuning starts from the project's model
    assert wizard.base_page.base() == "my-hand"
    wizard.close()
    window.close_project()
    reopened = window.open_project(window.settings.recent_projects[0])
    assert reopened.model == "my-hand" and window.model_chooser.currentData() == "my-hand"


def test_the_projects_line_finder_is_chosen_in_the_page_menu_and_finds_its_lines(qtbot, read, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from mspt_app import workers

    window = read
    actions = window.line_finder_actions
    assert window.line_finder_menu.isEnabled() and actions["auto"].isChecked()
    steps = len(window.editor.history.done)
    actions["classical"].trigger()
    assert window.project.segmenter == "classical" and actions["classical"].isChecked()
    assert not actions["auto"].isChecked()
    manifest = window.project.root / "project.json"
    assert json.loads(manifest.read_text(encoding="utf-8"))["segmenter"] == "classical"
    assert window.act_undo.text() == "&Undo use line finder classical"
    assert "from now on" in window.status_label.text() and "re-segment" in window.status_label.text()

    # Finding the page's lines again uses it, and so does recognition.
    found, reading = [], []
    find_lines = workers.pipeline.find_lines
    monkeypatch.setattr(workers.pipeline, "find_lines", lambda image, s: found.append(s) or find_lines(image, s))
    job = workers.recognition_job
    monkeypatch.setattr(workers, "recognition_job", lambda *a: reading.append(a[3]) or job(*a))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.act_segment.trigger()
    wait_for_task(qtbot, window)
    assert found == ["classical"]
    assert window.project.page(0).metadata["segmentation"] == "mspt classical"
    window.act_recognize.trigger()
    wait_for_task(qtbot, window)
    assert reading == ["classical"]

    # Undo takes back the recognition, the new lines, then the line finder: one step.
    while window.project.segmenter == "classical":
        window.undo()
    assert actions["auto"].isChecked() and len(window.editor.history.done) == steps
    assert json.loads(manifest.read_text(encoding="utf-8"))["segmenter"] == "auto"
    window.redo()
    assert window.project.segmenter == "classical" and actions["classical"].isChecked()

    # It is the project's: it survives reopening; without a project there is nothing to choose.
    root = window.project.root
    assert window.close_project()
    assert not window.line_finder_menu.isEnabled()
    reopened = window.open_project(root)
    assert reopened.segmenter == "classical" and actions["classical"].isChecked()

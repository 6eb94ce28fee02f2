"""Nothing typed is lost: atomic autosave, recovery after a crash, no accidental quit, and
errors that reach the person as a dialog (details in the log file)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mspt_core.document import LineStatus
from mspt_core.project import Project, ProjectError
from mspt_core.project.folder import LOCK_FILE
from mspt_core.project.journal import JOURNAL_FILE
from tests.core.project.test_folder import project_naming


@pytest.fixture
def opened(window, small_export, tmp_path):
    window.new_project(tmp_path / "p")
    window.add_pages([small_export])
    return window


def test_edits_typed_just_before_a_crash_are_recovered(qtbot, opened, tmp_path):
    window = opened
    window.autosave.setInterval(60_000)  # the crash comes before the autosave
    target = window.panel.order[1]
    window.focus_line(target)
    editor = window.panel.current_editor()
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, "typed before the crash")
    xml = window.project.xml_path(0)
    assert "typed before the crash" not in xml.read_text(encoding="utf-8")
    root = window.project.root
    assert (root / LOCK_FILE).exists() and (root / JOURNAL_FILE).exists()
    window.project = None  # the process dies: no close, no save
    window.autosave.stop()

    recovered = Project.open(root)
    assert recovered.recovered
    line = next(line for line in recovered.page(0).lines() if line.id == target)
    assert (line.text, line.status) == ("typed before the crash", LineStatus.CORRECTED)
    assert "typed before the crash" in xml.read_text(encoding="utf-8")  # written back at once
    recovered.close()
    assert not (root / LOCK_FILE).exists() and not (root / JOURNAL_FILE).exists()


def test_the_app_says_why_it_refuses_such_a_project(qtbot, window, tmp_path):
    root, _ = project_naming(tmp_path, "xml", "../elsewhere/precious.xml")
    assert window.open_project(root) is None and window.project is None
    boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]
    assert boxes and "../elsewhere/precious.xml" in boxes[-1].text()


def test_saving_is_atomic(opened, monkeypatch):
    """A write that fails half-way leaves the previous file whole."""
    window = opened
    xml = window.project.xml_path(0)
    before = xml.read_bytes()
    import mspt_core.formats.pagexml as pagexml

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    window.editor.set_text(window.project.entries[0].id, window.panel.order[0], "new text")
    with monkeypatch.context() as patch:
        patch.setattr(pagexml, "to_bytes", broken)
        with pytest.raises(ProjectError, match="No space left"):
            window.project.save()
    assert xml.read_bytes() == before
    assert not [p for p in xml.parent.iterdir() if p.name.endswith(".tmp")]
    window.project.save()  # the disk has room again: the edit is written
    assert "new text" in xml.read_text(encoding="utf-8")


def test_quitting_with_unsaved_work_asks(qtbot, opened, monkeypatch):
    window = opened
    xml = window.project.xml_path(0)
    window.editor.set_text(window.project.entries[0].id, window.panel.order[0], "not yet saved")

    def fail():
        raise ProjectError("could not save page 1: disk full")

    asked = []
    with monkeypatch.context() as patch:
        patch.setattr(window.project, "save", fail)
        patch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Cancel)
        assert not window.close()  # the person cancelled: the window and the project stay open
    assert window.isVisible() and window.project is not None and "disk full" in asked[0]
    assert window.close()
    assert "not yet saved" in xml.read_text(encoding="utf-8")


def test_quitting_during_recognition_asks(qtbot, opened, monkeypatch):
    window = opened
    window.act_recognize.trigger()
    with monkeypatch.context() as patch:
        patch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
        assert not window.close() and window.task is not None
        patch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        assert window.close() and window.task is None and window.project is None


def test_errors_reach_the_person_and_the_log(qtbot, window, tmp_path):
    window.new_project(tmp_path / "p")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert window.add_pages([broken]) == []
    boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "rejectedDialog"]
    assert boxes and "broken.png" in boxes[-1].text()
    assert "image" in boxes[-1].informativeText().lower()  # what to do about it
    from mspt_app.main import setup_logging

    log = setup_logging()
    window.add_pages([broken])
    assert "broken.png" in log.read_text(encoding="utf-8")
    assert log.parent == tmp_path / "logs"

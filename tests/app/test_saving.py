"""Nothing typed is lost: atomic autosave, recovery after a crash, no accidental quit, and
errors that reach the person as a dialog (details in the log file)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from mspt_app.project import JOURNAL_FILE, LOCK_FILE, Project, ProjectError
from mspt_core.document import LineStatus


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
    line = next(l for l in recovered.page(0).lines() if l.id == target)
    assert (line.text, line.status) == ("typed before the crash", LineStatus.CORRECTED)
    assert "typed before the crash" in xml.read_text(encoding="utf-8")  # written back at once
    recovered.close()
    assert not (root / LOCK_FILE).exists() and not (root / JOURNAL_FILE).exists()


def test_a_torn_journal_line_is_skipped(small_export, tmp_path):
    project = Project.create(tmp_path / "p")
    project.add_files([small_export])
    page = project.page(0)
    line = next(page.lines())
    record = {"page": page.id, "line": line.id, "text": "kept", "status": "corrected"}
    (project.root / JOURNAL_FILE).write_text(json.dumps(record) + "\n" + '{"page": "0001", "li', encoding="utf-8")
    reopened = Project.open(project.root)  # the lock of the "crashed" session is still there
    assert next(reopened.page(0).lines()).text == "kept"


def test_a_project_open_elsewhere_is_refused(tmp_path, monkeypatch):
    project = Project.create(tmp_path / "p")
    import mspt_app.project as project_module

    lock = json.loads((project.root / LOCK_FILE).read_text())
    (project.root / LOCK_FILE).write_text(json.dumps(dict(lock, pid=lock["pid"] + 1)))
    monkeypatch.setattr(project_module, "_pid_alive", lambda pid: True)
    with pytest.raises(ProjectError, match="already open"):
        Project.open(project.root)


SAMPLE_PAGE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "sample-page.png"


def _project_naming(tmp_path, field: str, name) -> tuple[Path, Path]:
    """A one-page project whose project.json gives page 1's ``field`` as ``name`` (a callable
    gets the project folder), and a file outside the project that the entry may point at."""
    outside = tmp_path / "elsewhere" / "precious.xml"  # a PAGE file a save would overwrite
    outside.parent.mkdir()
    outside.write_bytes(SAMPLE_PAGE.with_suffix(".xml").read_bytes())
    project = Project.create(tmp_path / "p")
    project.add_files([SAMPLE_PAGE])
    project.close()
    manifest = project.root / "project.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["pages"][0][field] = name(project.root) if callable(name) else name
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return project.root, outside


def _link_out(root: Path) -> str:
    (root / "page" / "linked.xml").symlink_to(root.parent / "elsewhere" / "precious.xml")
    return "page/linked.xml"


@pytest.mark.parametrize(
    "field, name",
    [
        ("xml", "../elsewhere/precious.xml"),
        ("xml", lambda root: str(root.parent / "elsewhere" / "precious.xml")),
        ("xml", _link_out),
        ("image", "../elsewhere/precious.xml"),
        ("image", "/etc/hostname"),
        ("xml", ""),
    ],
    ids=["xml-dotdot", "xml-absolute", "xml-link", "image-dotdot", "image-absolute", "xml-empty"],
)
def test_a_project_file_naming_files_outside_the_project_is_refused(tmp_path, field, name):
    root, outside = _project_naming(tmp_path, field, name)
    with pytest.raises(ProjectError) as info:
        project = Project.open(root)
        project.changed(project.entries[0].id)  # what an edit does: the page is saved next
        project.close()
    assert str(root / "project.json") in str(info.value) and "outside the project folder" in str(info.value)
    assert outside.read_bytes() == SAMPLE_PAGE.with_suffix(".xml").read_bytes()


def test_the_app_says_why_it_refuses_such_a_project(qtbot, window, tmp_path):
    root, _ = _project_naming(tmp_path, "xml", "../elsewhere/precious.xml")
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
    boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog"]
    assert boxes and "broken.png" in boxes[-1].text()
    assert "image" in boxes[-1].informativeText().lower()  # what to do about it
    from mspt_app.main import setup_logging

    log = setup_logging()
    window.add_pages([broken])
    assert "broken.png" in log.read_text(encoding="utf-8")
    assert log.parent == tmp_path / "logs"

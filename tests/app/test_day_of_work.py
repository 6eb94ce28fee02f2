"""What broke or confused in a day of real work (issue 16, problems 2-5), through the window as
a person uses it: project operations that never lose context, adding a mixed bag of files, a scan
that keeps its room, F8 without bouncing, highlights and undo steps that match what was done."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

from mspt_core.document import LineStatus
from tests.app.test_editing import line_of
from tests.core.cli.test_hostile_inputs import _png_header


def message_boxes(window, name: str) -> list[QMessageBox]:
    return [w for w in window.findChildren(QMessageBox) if w.objectName() == name]


# --- 2. project operations never lose context ---------------------------------------------------


def test_a_failed_open_or_new_keeps_the_open_project(qtbot, window, small_export, tmp_path):
    project = window.new_project(tmp_path / "mine", "Mine")
    window.add_pages([small_export])
    not_a_project = tmp_path / "photos"
    not_a_project.mkdir()
    (not_a_project / "cat.jpg").write_bytes(b"not a project")

    assert window.open_project(not_a_project) is None
    assert window.new_project(not_a_project) is None  # not empty: refused
    assert window.project is project and window.page_list.count() == 2 and window.panel.order
    assert window.windowTitle().startswith("Mine")
    assert len(message_boxes(window, "errorDialog")) == 2
    assert (project.root / ".mspt-lock").exists()  # still held by this window


def test_new_project_takes_a_typed_folder_name_and_shows_it(qtbot, window, tmp_path):
    dialog = window.ask_new_project()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no name yet
    dialog.location.setText(str(tmp_path / "projects"))  # not made yet either
    dialog.name_edit.setText("Letters 1905")
    assert ok.isEnabled() and str(tmp_path / "projects" / "Letters 1905") in dialog.preview.text()
    ok.click()
    assert window.project is not None and window.project.root == tmp_path / "projects" / "Letters 1905"
    assert window.windowTitle().startswith("Letters 1905")

    again = window.ask_new_project()
    again.location.setText(str(tmp_path / "projects"))
    again.name_edit.setText("Letters 1905")  # now a folder with a project in it
    assert not again.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    assert "already exists" in again.preview.text()
    again.reject()


def test_adding_pages_adds_the_good_files_and_names_every_bad_one(qtbot, window, fondue_page, tmp_path):
    window.new_project(tmp_path / "p")
    bad = {
        "broken.png": b"\x89PNG\r\n\x1a\n not really",
        "empty.jpg": b"",
        "huge.png": _png_header(30_000, 30_000),
        "notes.tif": b"this is text",
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    chosen = [tmp_path / name for name in ("broken.png", "empty.jpg")] + [fondue_page]
    chosen += [tmp_path / name for name in ("huge.png", "notes.tif")]

    assert window.add_pages(chosen) == [0]
    assert window.page_list.count() == 1 and window.page_index == 0
    boxes = message_boxes(window, "rejectedDialog")
    assert len(boxes) == 1 and not message_boxes(window, "errorDialog")
    text = boxes[0].text()
    assert "1 page(s) added; 4 file(s)" in text and all(name in text for name in bad)
    huge = next(line for line in text.splitlines() if "huge.png" in line)
    assert "too large" in huge and "bomb" not in huge and "DOS" not in huge


# --- 4. the scan keeps its room; sizes are remembered -----------------------------------------


def test_the_scan_is_not_squeezed_and_sizes_are_remembered(qtbot, window, settings, small_export, tmp_path):
    from mspt_app.widgets.main_window import MainWindow

    window.new_project(tmp_path / "p")
    window.add_pages([small_export])
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.width() == 1600)
    assert window.splitter.widget(2).minimumSizeHint().width() < 400  # the palette wraps
    assert window.page_view.width() > 500  # the scan, not the special characters, gets the room

    # The offscreen screen is small: what it can show is what a restored window gets.
    window.resize(700, 500)
    window.splitter.setSizes([120, 380, 200])
    qtbot.waitUntil(lambda: window.width() == 700)
    sizes = window.splitter.sizes()
    assert window.close()

    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (700, 500)
    assert again.splitter.sizes() == sizes


# --- 5. F8, highlights, undo steps ----------------------------------------------------------------


def test_f8_visits_lines_in_confidence_order_without_bouncing(qtbot, read):
    window = read
    order = [(p.page_index, p.line_id) for p in window.project.least_confident_lines()]
    visited = []
    for _ in range(4):  # skip each line: look, do not correct
        window.act_least.trigger()
        visited.append((window.page_index, window.panel.current))
    assert visited == order[:4]
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_Return)  # the 4th is corrected
    window.act_least.trigger()
    assert (window.page_index, window.panel.current) == order[4]


def test_corrected_lines_lose_the_unsure_character_highlights(qtbot, read):
    window = read

    def marked(line_id) -> list[int]:
        editor = window.panel.rows[line_id].editor
        formats = editor.document().firstBlock().layout().formats()
        return [r.start for r in formats if r.format.background().style() != Qt.BrushStyle.NoBrush]

    first, second = window.panel.order[:2]
    assert marked(first) == [2] and marked(second) == [2]
    window.focus_line(first)
    window.act_confirm.trigger()
    assert marked(first) == [] and marked(second) == [2]
    window.undo()
    assert marked(first) == [2]


def test_one_action_is_one_correctly_named_undo_step(qtbot, read):
    window = read
    first, second = window.panel.order[:2]
    window.focus_line(first)
    editor = window.panel.current_editor()
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClicks(editor, "X")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # accept the typed line and go on
    assert window.panel.current == second
    assert window.act_undo.text() == "&Undo mark corrected"
    window.undo()  # takes back the acceptance, not the typing
    assert (line_of(window, first).text, line_of(window, first).status) == ("line 0X", LineStatus.RECOGNIZED)
    assert window.act_undo.text() == "&Undo typing"
    window.undo()
    assert (line_of(window, first).text, line_of(window, first).status) == ("line 0", LineStatus.RECOGNIZED)
    window.redo()
    window.redo()
    assert (line_of(window, first).text, line_of(window, first).status) == ("line 0X", LineStatus.CORRECTED)

    # Accepted first, typed afterwards: undoing the typing leaves the line accepted.
    window.focus_line(second)
    window.act_confirm.trigger()
    editor = window.panel.current_editor()
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClicks(editor, "Y")
    assert window.act_undo.text() == "&Undo typing"
    window.undo()
    assert (line_of(window, second).text, line_of(window, second).status) == ("line 1", LineStatus.CORRECTED)
    assert window.act_undo.text() == "&Undo mark corrected"


# --- what a format could not keep is shown on export --------------------------------------------


def test_export_says_what_a_format_could_not_keep(qtbot, read, tmp_path):
    window = read
    written = window.export([0, 1], ["alto", "txt"], tmp_path / "out")
    assert len(written) == 3
    boxes = message_boxes(window, "exportNotesDialog")
    assert len(boxes) == 1
    text = boxes[0].text()
    assert "ALTO: per-character confidences have no place in ALTO; not kept (2 files)" in text
    assert "out" in text and str(tmp_path / "out" / "alto") not in text  # one line per kind of loss


@pytest.mark.parametrize("formats", [["page"], ["txt"]])
def test_an_export_that_keeps_everything_says_nothing(qtbot, read, tmp_path, formats):
    window = read
    assert window.export([0], formats, tmp_path / "out")
    assert not message_boxes(window, "exportNotesDialog")

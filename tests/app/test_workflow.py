"""A person's day with the app, driven through the real widgets: a new project from a real
page, find lines, recognize, correct a line with the keyboard, undo, autosave, close and
reopen, export in all five formats."""

from __future__ import annotations

import time

import pypdfium2
from PySide6.QtCore import QPointF, Qt

from mspt_app.widgets.main_window import AUTOSAVE_MS
from mspt_core.document import LineStatus
from mspt_core.formats import read_document


def wait_for_task(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: window.task is None, timeout=timeout)


def click_line(qtbot, window, line_id):
    """Click the middle of a line's polygon on the page view, as a person would."""
    view = window.page_view
    rect = view.line_items[line_id].polygon().boundingRect()
    view.centerOn(rect.center())
    point = view.mapFromScene(QPointF(rect.center()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_a_page_from_scan_to_export(qtbot, window, fondue_page, tmp_path):
    root = tmp_path / "project"
    assert window.new_project(root, "Dracula") is not None
    assert window.add_pages([fondue_page]) == [0]
    assert window.page_list.count() == 1
    assert "0/0" in window.page_list.item(0).text()

    # Find lines (in the background), then recognize.
    window.act_segment.trigger()
    wait_for_task(qtbot, window)
    line_ids = window.panel.order
    assert len(line_ids) >= 20  # the page has 29 text lines
    assert set(line_ids) == set(window.page_view.line_items)
    window.act_recognize.trigger()
    wait_for_task(qtbot, window)
    page = window.project.page(0)
    assert all(line.status == LineStatus.RECOGNIZED and line.confidence is not None for line in page.lines())

    # Clicking a line on the scan puts the cursor in its text field.
    target = line_ids[3]
    click_line(qtbot, window, target)
    assert window.panel.current == target
    assert window.page_view.selected == target
    editor = window.panel.current_editor()
    assert editor.hasFocus()
    recognized = editor.toPlainText()

    # Type a correction; the line counts as corrected.
    qtbot.keyClick(editor, Qt.Key.Key_End)
    qtbot.keyClicks(editor, " xyz")
    line = next(ln for ln in window.project.page(0).lines() if ln.id == target)
    assert line.text == recognized + " xyz" and line.status == LineStatus.CORRECTED

    # Undo (Ctrl+Z in the field) takes the whole typing back in one step.
    qtbot.keyClick(editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert line.text == recognized and line.status == LineStatus.RECOGNIZED
    assert editor.toPlainText() == recognized

    # Replace the text; autosave writes the PAGE XML within seconds, unasked.
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    typed_at = time.monotonic()
    qtbot.keyClicks(editor, "Fixed by hand")
    xml = window.project.xml_path(0)
    qtbot.waitUntil(lambda: "Fixed by hand" in xml.read_text(encoding="utf-8"), timeout=AUTOSAVE_MS + 3000)
    assert time.monotonic() - typed_at < AUTOSAVE_MS / 1000 + 2
    saved = {ln.id: ln for ln in read_document(xml).lines()}
    assert saved[target].text == "Fixed by hand" and saved[target].status == LineStatus.CORRECTED

    # Enter confirms the line under the cursor and moves on to the next one.
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert window.panel.current == line_ids[4]
    assert "1/" in window.page_list.item(0).text()

    # Close and reopen: the edit is there.
    assert window.close_project()
    assert window.open_project(root) is not None
    reopened = window.panel.rows[target].editor.toPlainText()
    assert reopened == "Fixed by hand"
    assert not window.project.recovered

    # Export every format.
    out = tmp_path / "out"
    written = window.export([0], ["txt", "page", "alto", "hocr", "pdf"], out)
    assert {p.suffix for p in written} == {".txt", ".xml", ".hocr", ".pdf"} and len(written) == 5
    assert "Fixed by hand" in (out / "Dracula.txt").read_text(encoding="utf-8")
    assert "Fixed by hand" in (out / "Dracula.hocr").read_text(encoding="utf-8")
    for fmt in ("page", "alto"):
        exported = read_document(next((out / fmt).glob("*.xml")))
        assert "Fixed by hand" in [ln.text for ln in exported.lines()]
    pdf = pypdfium2.PdfDocument(out / "Dracula.pdf")
    assert "Fixed by hand" in pdf[0].get_textpage().get_text_range()


def test_an_export_with_images_becomes_a_project(qtbot, window, fondue_export, tmp_path):
    """An eScriptorium export (images + ALTO) imports with its lines and transcriptions."""
    window.new_project(tmp_path / "imported")
    added = window.add_pages([fondue_export])
    assert added == [0, 1]
    for index in added:
        corrected, total = window.project.progress(index)
        assert total > 20 and corrected == total  # a person's transcription counts as corrected
        assert f"{total}/{total}" in window.page_list.item(index).text()
    assert window.panel.rows[window.panel.order[0]].editor.toPlainText().strip()
    assert sorted(p.name for p in (tmp_path / "imported" / "page").iterdir()) == sorted(
        window.project.entries[i].xml.split("/")[1] for i in added
    )

"""Editing for speed and segmentation editing, through the window as a person uses it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt

from mspt_core.document import LineStatus
from tests.app.test_workflow import click_line


def line_of(window, line_id):
    return next(line for line in window.project.page(window.page_index).lines() if line.id == line_id)


def test_keys_move_between_lines_and_pages(qtbot, read):
    window = read
    order = window.panel.order
    window.focus_line(order[0])
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_Down)
    assert window.panel.current == order[1] and window.page_view.selected == order[1]
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_Up)
    assert window.panel.current == order[0]
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_PageDown)
    assert window.page_index == 1 and window.panel.current == window.panel.order[0]
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_PageUp)
    assert window.page_index == 0


def test_unsure_characters_are_highlighted(read):
    editor = read.panel.rows[read.panel.order[0]].editor
    formats = editor.document().firstBlock().layout().formats()
    marked = sorted(
        r.start
        for r in formats
        if r.format.background().color().isValid() and r.format.background().style() != Qt.BrushStyle.NoBrush
    )
    assert marked == [2]


def test_palette_inserts_at_the_cursor(qtbot, read):
    window = read
    window.focus_line(window.panel.order[0])
    editor = window.panel.current_editor()
    qtbot.keyClick(editor, Qt.Key.Key_Home)
    window.char_palette.buttons[0].click()  # ſ
    assert line_of(window, window.panel.order[0]).text == "ſline 0"
    window.insert_palette(16)  # a combining acute: it joins the character before it
    assert editor.toPlainText().startswith("ſ\u0301")
    assert line_of(window, window.panel.order[0]).status == LineStatus.CORRECTED


def test_undo_and_redo_span_lines_and_pages(qtbot, read):
    window = read
    a, b = window.panel.order[:2]
    window.focus_line(a)
    qtbot.keyClicks(window.panel.current_editor(), "A")
    window.focus_line(b)
    qtbot.keyClicks(window.panel.current_editor(), "B")
    window.show_page(1)
    window.undo()  # back to page 1, line b
    assert window.page_index == 0 and window.panel.current == b
    assert line_of(window, b).text == "line 1" and line_of(window, a).text == "Aline 0"
    window.undo()
    assert line_of(window, a).text == "line 0" and line_of(window, a).status == LineStatus.RECOGNIZED
    window.redo()
    window.redo()
    assert (line_of(window, a).text, line_of(window, b).text) == ("Aline 0", "Bline 1")


def test_next_least_confident_line_goes_across_pages(qtbot, read):
    window = read
    window.act_least.trigger()
    weakest = list(window.project.page(1).lines())[7]
    assert window.page_index == 1 and window.panel.current == weakest.id
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_Return)  # checked: now corrected
    window.act_least.trigger()
    nxt = min(
        (line for i in range(2) for line in window.project.page(i).lines() if line.status == LineStatus.RECOGNIZED),
        key=lambda line: line.confidence,
    )
    assert window.panel.current == nxt.id


def test_segmentation_editing(qtbot, read):
    window = read
    order = list(window.panel.order)
    total = len(order)

    # Delete a line: the next one takes the cursor.
    window.focus_line(order[2])
    window.act_delete.trigger()
    assert window.panel.order == order[:2] + order[3:] and window.panel.current == order[3]

    # Draw a new line box in the margin: it joins the page in reading order.
    window.set_mode("draw")
    view = window.page_view
    view.fit()
    first = view.line_items[order[0]].polygon().boundingRect()
    top_left = view.mapFromScene(QPointF(first.left(), first.top() - 3 * first.height()))
    bottom_right = view.mapFromScene(QPointF(first.right(), first.top() - 2 * first.height()))
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=top_left)
    qtbot.mouseMove(view.viewport(), bottom_right)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=bottom_right)
    new_id = window.panel.current
    assert new_id not in order and len(window.panel.order) == total
    assert window.panel.order.index(new_id) == 0  # above the first line: read first
    assert line_of(window, new_id).status == LineStatus.UNRECOGNIZED

    # Drag one of its points.
    window.set_mode("points")
    window.focus_line(new_id)
    handle = view.handles[2]
    before = line_of(window, new_id).polygon[2]
    start = view.mapFromScene(handle.pos())
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view.viewport(), start + type(start)(30, 20))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=start + type(start)(30, 20))
    after = line_of(window, new_id).polygon[2]
    assert after[0] > before[0] and after[1] > before[1]
    window.set_mode("select")

    # Move the new line down in the reading order, then undo it.
    window.focus_line(new_id)
    window.act_down.trigger()
    assert window.panel.order.index(new_id) == 1
    window.undo()
    assert window.panel.order.index(new_id) == 0

    # Split a line at the cursor, then join it back.
    target = order[0]
    window.focus_line(target, cursor_at=4)
    window.act_split.trigger()
    right = window.panel.current
    assert (line_of(window, target).text, line_of(window, right).text) == ("line", "0")
    assert line_of(window, right).bbox()[0] >= line_of(window, target).bbox()[2] - 1
    window.focus_line(target)
    window.act_merge.trigger()
    assert line_of(window, target).text == "line 0" and right not in window.panel.order

    # Undo everything back to the page as it was.
    while window.editor.history.done:
        window.undo()
    assert window.panel.order == order


def test_find_lines_again_asks_first(qtbot, read, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    asked = []
    with monkeypatch.context() as patch:
        patch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.No)
        read.act_segment.trigger()
    assert asked and read.task is None  # declined: nothing replaced


def test_clicking_a_line_on_the_scan_focuses_its_text(qtbot, read):
    window = read
    target = window.panel.order[5]
    click_line(qtbot, window, target)
    assert window.panel.current == target and window.panel.current_editor().hasFocus()


def test_page_numbers_found_on_a_scan_are_labelled_as_such(qtbot, window, tmp_path):
    """Find lines on a real printed page (val) with its page number above the text: the number's
    row in the transcription panel says so, as does its outline on the scan, and so it stays
    after the project is closed and opened again."""
    from tests.app.test_workflow import wait_for_task
    from tests.conftest import DATA, _half, _image_of, split_xmls

    fondue = DATA / "fondue-en-print-20"
    if not fondue.exists():
        pytest.skip(f"needs {fondue} (the shared ground truth beside the clone); not present here")
    xml = next(x for x in split_xmls(fondue, "val") if x.name == "Turn_Screw.pdf_page_86.xml")
    folder = tmp_path / "scan"
    folder.mkdir()
    page = _half(_image_of(xml), folder / "page-86.png")
    window.new_project(tmp_path / "kinds")
    window.add_pages([page])
    window.act_segment.trigger()
    wait_for_task(qtbot, window)

    def labelled():
        rows = window.panel.rows
        return {
            line_id: rows[line_id].kind.text()
            for line_id in window.panel.order
            if rows[line_id].kind.isVisibleTo(window)
        }

    numbers = labelled()
    assert list(numbers.values()) == ["Page number"], numbers
    (number,) = numbers
    assert window.page_view.line_items[number].toolTip() == "Page number"
    assert window.panel.order.index(number) == 0  # read first: it stands above the text
    others = [i for i in window.panel.order if i != number]
    assert len(others) >= 20 and all(window.page_view.line_items[i].toolTip() == "" for i in others)

    folder = window.project.root
    window.project.close()
    window.project = None
    window.open_project(folder)
    assert list(labelled().values()) == ["Page number"]


def test_a_gallica_banner_left_out_is_said_in_the_status_line(qtbot, window, tmp_path):
    """Find lines on a real Gallica page (val) with the library's banner under the scan: no line
    is found in it, and the status line says it was not taken for text."""
    import shutil

    from mspt_core.formats import read_document
    from tests.app.test_workflow import wait_for_task
    from tests.conftest import DATA, split_xmls

    tapuscorpus = DATA / "tapuscorpus-typewritten-fr"
    if not tapuscorpus.exists():
        pytest.skip(f"needs {tapuscorpus} (the shared ground truth beside the clone); not present here")
    xml = next(x for x in split_xmls(tapuscorpus, "val") if "Curie" in x.name)
    image = read_document(xml).image_path
    folder = tmp_path / "scan"
    folder.mkdir()
    window.new_project(tmp_path / "gallica")
    window.add_pages([shutil.copy(image, folder / f"page{image.suffix}")])
    window.act_segment.trigger()
    wait_for_task(qtbot, window)
    window.show_page(0)
    page = window.project.page(0)
    first = int(page.metadata["library_banner"].split("-")[0])
    assert all(max(y for _, y in line.polygon) <= first for line in page.lines())
    assert "banner" in window.status_label.text()


def test_lines_seen_through_the_paper_left_out_are_said_in_the_status_line(qtbot, window, tmp_path):
    """Find lines on a real letter (val) laid over another sheet whose writing shows: the status
    line says how many far fainter lines were not taken for text, and the page keeps its own."""
    import shutil

    from mspt_core.formats import read_document
    from mspt_core.layout.evaluate import pair_lines
    from tests.app.test_workflow import wait_for_task
    from tests.conftest import DATA, split_xmls

    cremma = DATA / "cremma-mss-19-handwritten-fr"
    if not cremma.exists():
        pytest.skip(f"needs {cremma} (the shared ground truth beside the clone); not present here")
    truth = read_document(next(x for x in split_xmls(cremma, "val") if x.stem == "f392"))
    folder = tmp_path / "scan"
    folder.mkdir()
    window.new_project(tmp_path / "letter")
    window.add_pages([shutil.copy(truth.image_path, folder / f"page{truth.image_path.suffix}")])
    window.act_segment.trigger()
    wait_for_task(qtbot, window)
    window.show_page(0)
    page = window.project.page(0)
    left_out = page.metadata["faint_lines"]
    assert f"{left_out} lines far fainter than the page's writing were not" in window.status_label.text()
    # the letter's own lines are all there, each matched to one the transcriber gave, and no other
    given = [line.polygon for line in truth.lines()]
    found = [line.polygon for line in page.lines()]
    assert len(pair_lines(given, found, (truth.height, truth.width))) == len(given) == len(found)

"""Recognition runs on a background worker: the window keeps answering, Cancel is heard
within a second, and nothing a person corrected is ever overwritten."""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest
from PySide6.QtCore import Qt, QTimer

from mspt_app import workers
from mspt_core.document import LineStatus
from tests.app.test_workflow import wait_for_task


@pytest.fixture
def unread(window, small_export, tmp_path):
    """A four-page project of real pages (two, twice) whose lines are known but not yet read:
    enough lines that recognition takes seconds on the tiny model."""
    window.new_project(tmp_path / "unread")
    window.add_pages([small_export, small_export])
    for index in range(len(window.project)):
        page = window.project.page(index)
        for line in page.lines():
            line.text, line.confidence, line.char_confidences = "", None, None
            line.status = LineStatus.UNRECOGNIZED
        window.project.changed(page.id)
    window.show_page(0)
    return window


def statuses(window):
    return [line.status for i in range(len(window.project)) for line in window.project.page(i).lines()]


def test_the_window_answers_while_recognizing(qtbot, unread, monkeypatch):
    window = unread
    reading_threads: set[str] = set()
    load = workers.load_reader

    def watched_reader(model, device):
        reader = load(model, device)
        read = reader.read

        def read_and_note(images):
            reading_threads.add(threading.current_thread().name)
            return read(images)

        monkeypatch.setattr(reader, "read", read_and_note)
        return reader

    monkeypatch.setattr(workers, "load_reader", watched_reader)
    gc.collect()  # a collection of the whole test session's garbage would pause every thread alike
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    progress: list[tuple[int, int]] = []
    start = time.monotonic()
    timer.start()
    window.act_recognize_all.trigger()
    window.task.progressed.connect(lambda done, total, _: progress.append((done, total)))
    wait_for_task(qtbot, window)
    timer.stop()
    duration = time.monotonic() - start

    assert set(statuses(window)) == {LineStatus.RECOGNIZED}
    # The model read on a worker thread, never on the GUI thread ...
    assert reading_threads and threading.main_thread().name not in reading_threads
    # ... and the GUI thread's timer kept ticking throughout: a job on the GUI thread would
    # stop it for the whole job (seconds); a loaded 2-core CI machine delays single ticks by a
    # few hundred ms, which is scheduling, not a frozen window.
    assert duration > 1.0, "too short a job to say anything about responsiveness"
    gaps = [b - a for a, b in zip([start] + ticks, ticks + [start + duration], strict=True)]
    print(f"recognition took {duration:.2f} s; longest event-loop gap {max(gaps) * 1000:.0f} ms")
    assert max(gaps) < 1.0, f"event loop stalled for {max(gaps):.3f} s"
    totals = {total for _, total in progress if total}
    assert len(totals) == 1 and max(done for done, _ in progress) == totals.pop()


def test_cancel_stops_within_a_second(qtbot, unread):
    window = unread
    window.act_recognize_all.trigger()
    qtbot.waitUntil(lambda: window.progress.maximum() > 0 and window.progress.value() > 0, timeout=30_000)
    assert window.cancel_button.isVisible()
    pressed = time.monotonic()
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.task is None, timeout=5_000)
    assert time.monotonic() - pressed < 1.0
    assert LineStatus.UNRECOGNIZED in statuses(window)  # it really stopped early
    assert "cancelled" in window.status_label.text()
    assert not window.cancel_button.isVisible()


def test_a_corrected_line_survives_re_recognition(qtbot, unread):
    window = unread
    window.act_recognize.trigger()
    wait_for_task(qtbot, window)
    first, second = window.panel.order[:2]
    window.focus_line(second)
    editor = window.panel.current_editor()
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(editor, "my reading")
    window.focus_line(first)
    qtbot.keyClick(window.panel.current_editor(), Qt.Key.Key_Return)  # confirmed as it is
    kept = window.project.page(0).lines()
    confirmed_text = next(kept).text

    window.act_recognize.trigger()
    wait_for_task(qtbot, window)
    lines = list(window.project.page(0).lines())
    assert (lines[0].text, lines[0].status) == (confirmed_text, LineStatus.CORRECTED)
    assert (lines[1].text, lines[1].status) == ("my reading", LineStatus.CORRECTED)
    assert window.panel.rows[second].editor.toPlainText() == "my reading"
    assert {line.status for line in lines[2:]} == {LineStatus.RECOGNIZED}


def test_the_app_prepares_the_line_finder_while_the_person_looks_around():
    # at start the app makes the line finder's ONNX session on a thread of its own, so the first
    # page opened does not wait for the export
    from mspt_app.main import prepare_line_finder
    from mspt_core import onnx_engine
    from mspt_core.layout import linefinder

    if not onnx_engine.available() or os.environ.get(linefinder.ENGINE_VARIABLE) == "torch":
        pytest.skip("the line finder does not run on ONNX Runtime here")
    finder = linefinder.bundled()
    assert finder is not None and finder.onnx
    finder._onnx_net = None  # as at a fresh start (an earlier test may have made it)
    thread = prepare_line_finder()
    assert thread is not None and thread.daemon  # never holds the app open at quit
    thread.join(timeout=120)
    assert not thread.is_alive() and finder._onnx_net is not None and finder._onnx_net.path.is_file()


def test_quitting_during_the_line_finders_first_export_waits_for_it(qtbot, monkeypatch, tmp_path):
    # the preparing thread is a daemon (it never keeps the app open by itself), so the app
    # waits for it after its window has gone: ending the interpreter under an export can crash
    import threading
    import time

    from PySide6.QtWidgets import QApplication

    from mspt_app import main as app_main

    exporting = threading.Thread(target=time.sleep, args=(1.0,), daemon=True)
    monkeypatch.setattr(app_main, "prepare_line_finder", lambda: exporting.start() or exporting)
    monkeypatch.setattr(app_main, "open_at_start", lambda window, *args: qtbot.addWidget(window))  # closed after
    monkeypatch.setattr(app_main, "setup_logging", lambda: tmp_path / "mspt.log")
    monkeypatch.setattr(app_main, "install_excepthook", lambda window_getter: None)
    monkeypatch.setattr(app_main, "install_translations", lambda app, language: [])
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)  # the person quits at once
    assert app_main.main([]) == 0
    assert not exporting.is_alive()

    # the wait is bounded: an export that never ends does not hold the app open
    stuck = threading.Thread(target=time.sleep, args=(30.0,), daemon=True)
    monkeypatch.setattr(app_main, "prepare_line_finder", lambda: stuck.start() or stuck)
    monkeypatch.setattr(app_main, "QUIT_WAIT_SECONDS", 0.2)
    started = time.monotonic()
    assert app_main.main([]) == 0
    assert stuck.is_alive() and time.monotonic() - started < 20

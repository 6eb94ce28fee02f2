"""Fixtures for the app tests: a random tiny model (behaviour, not accuracy, is under test),
isolated settings/data/log folders, and a ready main window (the downscaled real pages are in
tests/conftest.py, shared with the project tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspt_core.document import LineStatus

CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:'-"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    import torch

    from mspt_core.charset import Charset
    from mspt_core.model import Recognizer, config_for
    from mspt_core.models import build_metadata, save_model

    torch.manual_seed(0)
    charset = Charset(list(CHARS))
    model = Recognizer(config_for("tiny"), len(charset)).eval()
    return save_model(tmp_path_factory.mktemp("model") / "tiny", model, charset, build_metadata(model, charset, "tiny"))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Nothing a test does reaches the real settings, data or log folders."""
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MSPT_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("MSPT_SETTINGS", str(tmp_path / "settings.ini"))


@pytest.fixture
def settings(tiny_model, tmp_path):
    from PySide6.QtCore import QSettings

    from mspt_app.settings import AppSettings

    s = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    s.model = str(tiny_model)
    s.device = "cpu"
    s.line_height = 32
    return s


@pytest.fixture
def window(qtbot, settings):
    from mspt_app.widgets.main_window import MainWindow

    win = MainWindow(settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    # A training run a test left going is stopped at a checkpoint, without a question box.
    win.training.ask_about_running = lambda count: "stop"
    if win.task is not None:
        win.cancel_task(wait=True)
    if win.project is not None:
        win.project.close()
        win.project = None


@pytest.fixture
def read(window, small_export, tmp_path):
    """A project of two real pages with their lines; page 1's lines carry made-up readings
    with known confidences (the weakest line is on page 2)."""
    window.new_project(tmp_path / "read")
    window.add_pages([small_export])
    for index in range(len(window.project)):
        page = window.project.page(index)
        for number, line in enumerate(page.lines()):
            line.text = f"line {number}"
            line.char_confidences = [0.99] * len(line.text)
            line.char_confidences[2] = 0.3  # 'n' looks unsure
            line.confidence = 0.9 - 0.01 * number - (0.5 if index == 1 and number == 7 else 0)
            line.status = LineStatus.RECOGNIZED
        window.project.changed(page.id)
    window.show_page(0)
    return window

"""Fixtures for the app tests: a random tiny model (behaviour, not accuracy, is under test),
downscaled real pages, isolated settings/data/log folders, and a ready main window."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import split_xmls

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


def _image_of(xml: Path) -> Path:
    return next(xml.with_suffix(s) for s in (".png", ".jpg", ".jpeg", ".tif") if xml.with_suffix(s).exists())


def _half(source: Path, dest: Path) -> Path:
    with Image.open(source) as image:
        image.convert("L").resize((image.width // 2, image.height // 2)).save(dest)
    return dest


@pytest.fixture(scope="session")
def fondue_page(fondue, tmp_path_factory) -> Path:
    """A real printed page at half size, alone in its folder (no ground truth beside it)."""
    image = _image_of(split_xmls(fondue, "test")[0])
    return _half(image, tmp_path_factory.mktemp("fondue") / f"{image.stem}.png")


@pytest.fixture(scope="session")
def fondue_export(fondue, tmp_path_factory) -> Path:
    """An eScriptorium export in miniature: two real page images with their ALTO files."""
    folder = tmp_path_factory.mktemp("export")
    for xml in split_xmls(fondue, "test")[:2]:
        image = _image_of(xml)
        shutil.copy(image, folder / image.name)
        shutil.copy(xml, folder / xml.name)
    return folder


def _halved_export(fondue, split: str, folder: Path) -> Path:
    """Two real pages of a split at half size, with their lines as PAGE XML (coordinates halved)."""
    from mspt_core.formats import read_document, write_document

    for xml in split_xmls(fondue, split)[:2]:
        image = _half(_image_of(xml), folder / f"{xml.stem}.png")
        page = read_document(xml)
        half = lambda points: [(x / 2, y / 2) for x, y in points]  # noqa: E731
        page.width, page.height, page.image_path = page.width // 2, page.height // 2, image
        for region in page.regions:
            region.polygon = half(region.polygon)
            for line in region.lines:
                line.polygon, line.baseline, line.words = half(line.polygon), half(line.baseline), []
        write_document(page, folder / f"{xml.stem}.xml", "page")
    return folder


@pytest.fixture(scope="session")
def small_export(fondue, tmp_path_factory) -> Path:
    """Like ``fondue_export`` at half size (PAGE XML with the coordinates halved): the same
    real pages and lines at a quarter of the pixels, to keep the tests quick."""
    return _halved_export(fondue, "test", tmp_path_factory.mktemp("small-export"))


@pytest.fixture(scope="session")
def small_train_export(fondue, tmp_path_factory) -> Path:
    """Two train-split pages at half size with their transcriptions: what training may see."""
    return _halved_export(fondue, "train", tmp_path_factory.mktemp("small-train-export"))


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

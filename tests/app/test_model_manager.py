"""The model manager dialog: what it lists, and import, export, rename, delete and set active
going through the registry, with the prompts replaced by answers."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from mspt_app.settings import AppSettings
from mspt_app.widgets import dialogs
from mspt_app.widgets.model_manager import (
    CER,
    CHARS,
    DATE,
    KIND,
    MEASURED,
    NAME,
    ORIGIN,
    SIZE,
    TRAINED,
    ModelManagerDialog,
)
from mspt_core import models
from mspt_core.errors import ModelFileError
from tests.app.conftest import CHARS as TINY_CHARS


@pytest.fixture(scope="session")
def measured_model(tmp_path_factory):
    """A tiny recognizer whose provenance says what it was trained on and its validation CER."""
    import torch

    from mspt_core.charset import Charset
    from mspt_core.model import Recognizer, config_for

    torch.manual_seed(1)
    charset = Charset(list(TINY_CHARS))
    model = Recognizer(config_for("tiny"), len(charset)).eval()
    provenance = {"data": "corrected letters", "train_lines": 50, "val_lines": 10, "val_cer": 0.0123}
    return models.save_model(
        tmp_path_factory.mktemp("measured") / "letters.safetensors",
        model,
        charset,
        models.build_metadata(model, charset, "letters", provenance),
    )


@pytest.fixture(scope="session")
def encoder_file(tmp_path_factory):
    """A tiny pre-trained encoder, saved the way `mspt pretrain` saves one."""
    import torch

    from mspt_core.model import config_for
    from mspt_core.pretrain.job import save_encoder
    from mspt_core.pretrain.model import MaskedEncoder

    torch.manual_seed(2)
    return save_encoder(
        tmp_path_factory.mktemp("encoder") / "archive-encoder",
        MaskedEncoder(config_for("tiny"), 8),
        {"lines": 1234, "store": "/archive/lines", "pretraining": {"size": "tiny"}},
    )


@pytest.fixture
def errors(monkeypatch):
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, what, error, details="": shown.append((what, error)))
    return shown


@pytest.fixture
def manager(qtbot, errors):
    dialog = ModelManagerDialog(AppSettings())
    qtbot.addWidget(dialog)
    return dialog


def row_of(dialog: ModelManagerDialog, name: str, bundled: bool = False) -> int:
    return next(r for r, e in enumerate(dialog.entries) if e.name == name and e.bundled == bundled)


def cell(dialog: ModelManagerDialog, row: int, column: int):
    return dialog.table.item(row, column)


def select(dialog: ModelManagerDialog, name: str, bundled: bool = False) -> None:
    dialog.table.selectRow(row_of(dialog, name, bundled))
    assert dialog.selected().name == name


def user_names() -> list[str]:
    return [e.name for e in models.list_models() if not e.bundled]


def test_lists_the_bundled_default_and_user_models_with_their_metadata(qtbot, measured_model, errors):
    models.import_model(measured_model, "letters")
    dialog = ModelManagerDialog(AppSettings())
    qtbot.addWidget(dialog)
    default = row_of(dialog, "default", bundled=True)
    meta = models.read_metadata(models.bundled_models_dir() / "default")
    assert cell(dialog, default, NAME).text().startswith("default") and "active" in cell(dialog, default, NAME).text()
    assert cell(dialog, default, NAME).font().bold()
    assert cell(dialog, default, KIND).text() == "Recognizer" and cell(dialog, default, ORIGIN).text() == "Bundled"
    assert cell(dialog, default, CER).text() == f"{meta['provenance']['val_cer'] * 100:.2f} %"
    assert cell(dialog, default, DATE).text() == meta["provenance"]["created"][:10]
    assert cell(dialog, default, CHARS).toolTip() == "".join(meta["charset"])
    row = row_of(dialog, "letters")
    assert cell(dialog, row, NAME).text() == "letters" and not cell(dialog, row, NAME).font().bold()
    assert cell(dialog, row, KIND).text() == "Recognizer" and cell(dialog, row, ORIGIN).text() == "User"
    assert cell(dialog, row, CER).text().startswith("1.23 %")
    assert cell(dialog, row, SIZE).text().startswith("tiny, ") and cell(dialog, row, SIZE).text().endswith(" M")
    assert cell(dialog, row, CHARS).text() == str(len(TINY_CHARS))
    assert cell(dialog, row, CHARS).toolTip() == TINY_CHARS
    assert cell(dialog, row, TRAINED).text() == "corrected letters (50 lines)"
    assert not errors


def test_a_cer_from_a_few_validation_lines_is_not_shown_as_comparable(qtbot, measured_model):
    """A fine-tuned model judged on 10 lines beside the default judged on over a thousand: each
    figure says what it was measured on, and the one from too few lines is flagged."""
    models.import_model(measured_model, "letters")
    dialog = ModelManagerDialog(AppSettings())
    qtbot.addWidget(dialog)
    default, letters = row_of(dialog, "default", bundled=True), row_of(dialog, "letters")
    prov = models.read_metadata(models.bundled_models_dir() / "default")["provenance"]
    assert prov["val_lines"] >= 30
    assert cell(dialog, default, CER).text() == f"{prov['val_cer'] * 100:.2f} %"
    assert cell(dialog, default, MEASURED).text().startswith(f"{prov['val_lines']} lines: fondue-en-print-20/val")
    assert "same set" in cell(dialog, default, CER).toolTip()

    assert cell(dialog, letters, CER).text() == "1.23 %  ⚠ too few lines"
    assert cell(dialog, letters, MEASURED).text() == "10 lines: held out from corrected letters"
    assert "do not compare" in cell(dialog, letters, CER).toolTip()
    flagged = cell(dialog, letters, CER).background().color()
    assert flagged.isValid() and flagged != cell(dialog, default, CER).background().color()


def test_an_encoder_is_listed_as_such_and_cannot_be_set_active(qtbot, manager, encoder_file):
    models.import_model(encoder_file, "archive-encoder")
    manager.refresh()
    row = row_of(manager, "archive-encoder")
    assert cell(manager, row, KIND).text() == "Pre-trained encoder"
    assert cell(manager, row, TRAINED).text() == "/archive/lines (1234 lines)"
    assert cell(manager, row, CER).text() == "—" and cell(manager, row, SIZE).text().startswith("tiny, ")
    select(manager, "archive-encoder")
    assert not manager.active_button.isEnabled()
    assert "cannot read text" in manager.active_button.toolTip()
    with qtbot.assertNotEmitted(manager.active_changed):
        manager.set_active_selected()
    assert AppSettings().model == ""
    assert manager.export_button.isEnabled() and manager.rename_button.isEnabled()


def test_set_active_stores_the_model_and_says_so(qtbot, manager, tiny_model):
    models.import_model(tiny_model, "tiny")
    manager.refresh()
    select(manager, "tiny")
    assert manager.active_button.isEnabled()
    with qtbot.waitSignal(manager.active_changed) as signal:
        qtbot.mouseClick(manager.active_button, Qt.MouseButton.LeftButton)
    assert signal.args == ["tiny"]
    assert AppSettings().model == "tiny"  # a fresh reader of the same settings file
    assert cell(manager, row_of(manager, "tiny"), NAME).text() == "tiny (active)"
    assert "active" not in cell(manager, row_of(manager, "default", bundled=True), NAME).text()
    assert manager.selected().name == "tiny"


def test_import_through_the_prompts(qtbot, manager, tiny_model, monkeypatch):
    monkeypatch.setattr(manager, "ask_import_path", lambda: tiny_model)
    monkeypatch.setattr(manager, "ask_name", lambda title, default: "from-a-colleague" if default == "tiny" else None)
    qtbot.mouseClick(manager.import_button, Qt.MouseButton.LeftButton)
    assert user_names() == ["from-a-colleague"]
    assert models.read_metadata(models.resolve("from-a-colleague"))["name"] == "from-a-colleague"
    assert manager.selected().name == "from-a-colleague"
    monkeypatch.setattr(manager, "ask_name", lambda title, default: None)  # cancelled
    manager.import_model()
    assert user_names() == ["from-a-colleague"]


def test_importing_a_broken_file_shows_an_error_and_changes_nothing(qtbot, manager, tmp_path, errors, monkeypatch):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    rows = manager.table.rowCount()
    monkeypatch.setattr(manager, "ask_import_path", lambda: junk)
    monkeypatch.setattr(manager, "ask_name", lambda title, default: "junk")
    manager.import_model()
    assert len(errors) == 1 and isinstance(errors[0][1], ModelFileError) and "junk.safetensors" in str(errors[0][1])
    assert user_names() == [] and manager.table.rowCount() == rows
    assert not models.user_models_dir().exists() or not any(models.user_models_dir().iterdir())


def test_rename_the_active_model_follows_it(qtbot, manager, tiny_model, monkeypatch, errors):
    models.import_model(tiny_model, "tiny")
    manager.refresh()
    select(manager, "tiny")
    manager.set_active_selected()
    monkeypatch.setattr(manager, "ask_name", lambda title, default: "letters-v2")
    with qtbot.waitSignal(manager.active_changed) as signal:
        qtbot.mouseClick(manager.rename_button, Qt.MouseButton.LeftButton)
    assert signal.args == ["letters-v2"] and AppSettings().model == "letters-v2"
    assert user_names() == ["letters-v2"]
    assert models.read_metadata(models.resolve("letters-v2"))["name"] == "letters-v2"
    assert cell(manager, row_of(manager, "letters-v2"), NAME).text() == "letters-v2 (active)"
    select(manager, "default", bundled=True)
    assert not manager.rename_button.isEnabled() and not manager.delete_button.isEnabled()
    select(manager, "letters-v2")
    monkeypatch.setattr(manager, "ask_name", lambda title, default: "default")  # taken by the bundled model
    manager.rename_selected()
    assert len(errors) == 1 and "already exists" in str(errors[0][1]) and user_names() == ["letters-v2"]


def test_export_writes_a_file_that_loads_as_the_same_model(qtbot, manager, measured_model, tmp_path, monkeypatch):
    models.import_model(measured_model, "letters")
    manager.refresh()
    select(manager, "letters")
    monkeypatch.setattr(manager, "ask_export_path", lambda name: tmp_path / "shared" / f"{name}-copy.safetensors")
    qtbot.mouseClick(manager.export_button, Qt.MouseButton.LeftButton)
    loaded = models.load_model(tmp_path / "shared" / "letters-copy.safetensors")
    assert loaded.metadata["name"] == "letters" and "".join(loaded.charset.chars) == TINY_CHARS
    assert loaded.metadata["provenance"]["val_cer"] == 0.0123
    select(manager, "default", bundled=True)  # bundled models can be exported too
    monkeypatch.setattr(manager, "ask_export_path", lambda name: tmp_path / "shared" / "default")
    manager.export_selected()
    assert models.read_metadata(tmp_path / "shared" / "default.safetensors")["name"] == "default"


def test_delete_asks_first_and_never_touches_bundled_models(qtbot, manager, tiny_model, monkeypatch):
    models.import_model(tiny_model, "tiny")
    manager.refresh()
    select(manager, "tiny")
    manager.set_active_selected()
    asked = []
    monkeypatch.setattr(manager, "confirm_delete", lambda entry: asked.append(entry.name) or False)
    manager.delete_selected()
    assert asked == ["tiny"] and user_names() == ["tiny"]
    monkeypatch.setattr(manager, "confirm_delete", lambda entry: asked.append(entry.name) or True)
    with qtbot.waitSignal(manager.active_changed) as signal:
        qtbot.mouseClick(manager.delete_button, Qt.MouseButton.LeftButton)
    assert signal.args == [""] and AppSettings().model == ""  # back to the default model
    assert user_names() == [] and all(e.bundled for e in manager.entries)
    select(manager, "default", bundled=True)
    assert not manager.delete_button.isEnabled()
    manager.delete_selected()
    assert asked == ["tiny", "tiny"] and (models.bundled_models_dir() / "default").is_dir()

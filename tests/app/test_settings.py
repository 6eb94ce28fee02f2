"""The preferences: kept between sessions, changed through the settings dialog."""

from __future__ import annotations


def test_settings_round_trip(settings, tiny_model):
    from PySide6.QtCore import QSettings

    from mspt_app.settings import AppSettings, palette_characters

    settings.device = "cuda"
    settings.line_height = 64
    again = AppSettings(QSettings(settings.store.fileName(), QSettings.Format.IniFormat))
    assert (again.device, again.line_height, again.model) == ("cuda", 64, str(tiny_model))
    assert "\u0301" in palette_characters(again.palette) and "ſ" in palette_characters(again.palette)


def test_settings_dialog_applies_choices(qtbot, settings):
    from mspt_app.widgets.dialogs import SettingsDialog

    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentText("cpu")
    dialog.line_height.setValue(40)
    dialog.palette_edit.setText("ſ ꝑ")
    dialog.apply()
    assert (settings.device, settings.line_height, settings.palette) == ("cpu", 40, "ſ ꝑ")

"""The person's preferences (QSettings) and the folders mspt uses (platformdirs).

``MSPT_DATA_DIR`` moves the data folder (models, sample project) and ``MSPT_LOG_DIR`` the log
folder, e.g. for tests; ``MSPT_SETTINGS`` names an INI file to use instead of the system store.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtGui import QFont

from mspt_core.models import user_data_dir

DEFAULT_PALETTE = "ſ ¬ æ œ Æ Œ ꝑ ꝓ ꝗ ꝯ ꝰ ȝ þ ð ß ⁊ ◌́ ◌̀ ◌̂ ◌̈ ◌̃ ◌̄ ◌̧ – — „ “ ” « » § ¶ †"
DEVICES = ("auto", "cpu", "cuda")
COMBINING_MARK = "◌"  # shown before a combining accent in the palette; not inserted


def data_dir() -> Path:
    return user_data_dir()


def log_dir() -> Path:
    if "MSPT_LOG_DIR" in os.environ:
        return Path(os.environ["MSPT_LOG_DIR"])
    if "MSPT_DATA_DIR" in os.environ:
        return Path(os.environ["MSPT_DATA_DIR"]) / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir("mspt", appauthor=False))


def palette_characters(spec: str) -> list[str]:
    """Palette entries from the settings string (space-separated); '◌́' means a combining acute."""
    return [item.replace(COMBINING_MARK, "") or item for item in spec.split()]


def _flag(value) -> bool:
    """A yes/no setting: an INI file gives back the text "true" or "false", not a bool."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")


def _bytes(value) -> QByteArray | None:
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


class AppSettings:
    """Typed access to the preferences; every value has a sensible default."""

    def __init__(self, store: QSettings | None = None):
        if store is None:
            path = os.environ.get("MSPT_SETTINGS")
            store = QSettings(path, QSettings.Format.IniFormat) if path else QSettings("mspt", "mspt")
        self.store = store

    def _get(self, key: str, default, kind=str):
        value = self.store.value(key, default)
        try:
            return kind(value) if value is not None else default
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value) -> None:
        self.store.setValue(key, value)
        self.store.sync()

    device = property(
        lambda self: self._get("recognition/device", "auto"), lambda self, v: self._set("recognition/device", v)
    )
    model = property(
        lambda self: self._get("recognition/model", ""),  # "" means the default model
        lambda self, v: self._set("recognition/model", v),
    )
    line_height = property(
        lambda self: self._get("editor/line_height", 48, int), lambda self, v: self._set("editor/line_height", int(v))
    )
    low_confidence = property(
        lambda self: self._get("editor/low_confidence", 0.8, float),
        lambda self, v: self._set("editor/low_confidence", float(v)),
    )
    palette = property(
        lambda self: self._get("editor/palette", DEFAULT_PALETTE), lambda self, v: self._set("editor/palette", v)
    )
    language = property(
        lambda self: self._get("interface/language", ""),  # "" means the system's
        lambda self, v: self._set("interface/language", v),
    )
    show_welcome = property(  # the welcome panel at a start with no project to open
        lambda self: self._get("interface/show_welcome", True, _flag),
        lambda self, v: self._set("interface/show_welcome", bool(v)),
    )

    @property
    def editor_font(self) -> QFont:
        font = QFont()
        text = self._get("editor/font", "")
        if not text or not font.fromString(text):
            font = QFont("DejaVu Sans")
            font.setPointSize(13)
        return font

    @editor_font.setter
    def editor_font(self, font: QFont) -> None:
        self._set("editor/font", font.toString())

    @property
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """The main window's geometry and its splitter's state as last closed (None: never)."""
        return _bytes(self.store.value("window/geometry")), _bytes(self.store.value("window/splitter"))

    @window_state.setter
    def window_state(self, value: tuple[QByteArray, QByteArray]) -> None:
        self.store.setValue("window/geometry", value[0])
        self._set("window/splitter", value[1])

    @property
    def recent_projects(self) -> list[str]:
        value = self.store.value("projects/recent", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return []  # nothing stored (None), or something this version did not write
        return [v for v in value if Path(v).is_dir()]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        recent = [path] + [p for p in self.recent_projects if p != path]
        self._set("projects/recent", recent[:10])

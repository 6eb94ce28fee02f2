"""Where mspt's bundled files are: the default models, the line finder, the sample page and the
app's translations. Every reader of a bundled file asks here, so the source tree, an installed
wheel and a PyInstaller bundle all work the same way.

In the source tree the files live in the checkout's top-level ``resources/`` folder. A wheel
(and the bundle) carries the same folder as package data ``mspt_core/_resources`` (the mapping is
in ``pyproject.toml`` and ``packaging/mspt.spec``). ``$MSPT_RESOURCES`` overrides both.

The folder is found once, when this module is first imported:

1. ``$MSPT_RESOURCES`` when set;
2. ``mspt_core/_resources`` found through ``importlib.resources`` (an installed wheel, a bundle);
3. ``resources/`` beside the ``mspt_core`` package (a checkout, an editable install).
"""

from __future__ import annotations

import os
from importlib import resources as _importlib_resources
from pathlib import Path

PACKAGED = "_resources"  # the folder's name inside the installed mspt_core package


def _find_root() -> Path:
    if os.environ.get("MSPT_RESOURCES"):
        return Path(os.environ["MSPT_RESOURCES"])
    packaged = _importlib_resources.files("mspt_core") / PACKAGED
    # Wheels are installed unpacked and PyInstaller unpacks its data files, so the packaged
    # folder is a real folder: model files are opened by path (safetensors, ONNX Runtime).
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "resources"


ROOT = _find_root()


def models_dir() -> Path:
    """The bundled recognizer models (one folder each; ``default`` is the default model)."""
    return ROOT / "models"


def line_finder() -> Path:
    """The bundled learned line finder."""
    return ROOT / "layout" / "line-finder.safetensors"


def line_kinds() -> Path:
    """The bundled classifier of found lines' SegmOnto kinds (``mspt_core.layout.kinds``)."""
    return ROOT / "layout" / "line-kinds.safetensors"


def orientation() -> Path:
    """The bundled classifier of which way up a page was scanned (``mspt_core.layout.orient``)."""
    return ROOT / "layout" / "orientation.safetensors"


def script_classifier() -> Path:
    """The classifier that sends handwritten lines to the handwriting model (``mspt_core.choose``)."""
    return ROOT / "reading" / "script-classifier.safetensors"


def language_model(name: str) -> Path:
    """A bundled character language model (``charlm``), by the name a model file gives it."""
    return ROOT / "reading" / f"{name}.charlm.json"


def lexicon(name: str) -> Path:
    """A bundled word list (``charlm.Lexicon``), by the name a model file gives it."""
    return ROOT / "reading" / f"{name}.words.gz"


def samples_dir() -> Path:
    """The sample page (``sample-page.png`` with its true lines ``.xml`` and text ``.txt``) and
    sample line images."""
    return ROOT / "samples"


def sample_page() -> Path:
    """The bundled sample page image; its true lines are ``sample_page().with_suffix('.xml')``."""
    return samples_dir() / "sample-page.png"


def translations_dir() -> Path:
    """The app's translations (``mspt_<lang>.qm``)."""
    return ROOT / "translations"

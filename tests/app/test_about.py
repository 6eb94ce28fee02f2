"""Help ▸ About mspt: the one version string, the licence, and whether a GPU was found, in plain words."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from mspt_core import __version__
from mspt_core.devices import gpu_summary


def test_the_about_box_names_the_version_the_licence_and_the_gpu(window, qtbot):
    (help_menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Help"]
    (about,) = [a for a in help_menu.actions() if a.text() == "&About mspt"]
    about.trigger()
    box = window.findChild(QMessageBox, "aboutDialog")
    assert box is not None and box.isVisible()
    text = box.text()
    assert f"mspt {__version__}" in text and "Apache License 2.0" in text
    assert gpu_summary() in text
    assert gpu_summary().startswith(("GPU found:", "No GPU"))
    if gpu_summary().startswith("No GPU in use"):  # a CPU build of PyTorch: say what to install
        assert "CUDA build" in gpu_summary() and "pip install torch" in gpu_summary()
    box.accept()

"""Screenshots of the real application for the README, taken offscreen.

    .venv/bin/python packaging/screenshots.py [--model NAME_OR_PATH] [--out docs/images] [--wizards]

Builds the sample project (resources/samples/sample-page.png) in a temporary data folder,
recognizes it with the model (the default model when there is one), types the first lines'
corrections from the sample's known text as a person would, and saves window grabs.
Without any model the lines are shown unread, and the script says so.

With --wizards it also runs the training wizards for real (a few minutes on a CPU): pre-training
a tiny encoder on the sample page for a few dozen steps, then fine-tuning the default model on
the sample's corrected lines, and grabs their pages.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def wait(app, condition, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the app did not finish in time")
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or path (default: the default model)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images")
    parser.add_argument("--corrected", type=int, default=3, help="lines to correct by typing")
    parser.add_argument("--wizards", action="store_true", help="also run and grab the training wizards")
    args = parser.parse_args()

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = Path(tempfile.mkdtemp(prefix="mspt-shots-"))
    os.environ["MSPT_SETTINGS"] = str(scratch / "settings.ini")
    os.environ["MSPT_LOG_DIR"] = str(scratch / "logs")
    os.environ["MSPT_DATA_DIR"] = str(scratch / "data")  # runs and trained models stay in the scratch folder
    sys.path.insert(0, str(REPO))

    from PySide6.QtWidgets import QApplication

    from mspt_app.settings import AppSettings
    from mspt_app.widgets.main_window import MainWindow
    from mspt_app.widgets.welcome import show_welcome
    from mspt_core.errors import MsptError
    from mspt_core.models import resolve
    from mspt_core.project.sample import SAMPLE_IMAGE, sample_project

    app = QApplication([])
    settings = AppSettings()
    settings.model = args.model or ""
    settings.device = "auto"
    try:
        model = resolve(args.model or None)
    except MsptError as error:
        model = None
        print(f"note: {error}; the screenshots show the lines unread")
    folder = sample_project(scratch / "Sample")
    if folder is None:
        print(f"error: no sample page at {SAMPLE_IMAGE}")
        return 1
    window = MainWindow(settings)
    window.resize(1500, 920)
    window.show()
    # The welcome panel, as a first start shows it, before any project is open.
    welcome = show_welcome(window)
    app.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    welcome_shot = args.out / "app-welcome.png"
    welcome.grab().save(str(welcome_shot))
    welcome.reject()
    window.open_project(folder)
    if model is not None:
        window.recognize_all()
        wait(app, lambda: window.task is None)
    truth_file = SAMPLE_IMAGE.with_suffix(".txt")
    truth = truth_file.read_text(encoding="utf-8").splitlines() if truth_file.exists() else []
    order = list(window.panel.order)
    for line_id, text in list(zip(order, truth, strict=False))[: args.corrected]:
        window.focus_line(line_id)
        editor = window.panel.current_editor()
        editor.selectAll()
        editor.insertPlainText(text)  # typed, as a person would: the line turns corrected
        window.confirm_current()
    if len(order) > args.corrected:
        window.focus_line(order[args.corrected])
    window.page_view.fit()
    app.processEvents()
    args.out.mkdir(parents=True, exist_ok=True)
    shots = [args.out / "app-main.png"]
    window.grab().save(str(shots[0]))

    # Segmentation editing: the selected line's points, zoomed in.
    window.set_mode("points")
    window.page_view.fit()
    window.page_view.zoom_by(2.5)
    item = window.page_view.line_items.get(window.current_line_id())
    if item is not None:
        window.page_view.centerOn(item)
    app.processEvents()
    shots.append(args.out / "app-segmentation.png")
    window.grab().save(str(shots[1]))
    window.set_mode("select")

    shots.append(welcome_shot)
    if args.wizards:
        shots += wizard_shots(app, window, truth, args.out)

    window.project.close()
    window.project = None
    window.close()
    for shot in shots:
        print(shot.relative_to(REPO) if shot.is_relative_to(REPO) else shot)
    return 0


def wizard_shots(app, window, truth: list[str], out: Path) -> list[Path]:
    """Run both wizards for real on the sample and grab their pages."""
    order = list(window.panel.order)
    for line_id, text in zip(order, truth, strict=False):  # the whole sample page corrected
        window.focus_line(line_id)
        editor = window.panel.current_editor()
        editor.selectAll()
        editor.insertPlainText(text)
        window.confirm_current()
    window.save_now()
    import shutil

    from mspt_core.project.sample import SAMPLE_IMAGE

    archive = Path(window.project.root).parent / "archive"  # scans only, as an archive is
    archive.mkdir(exist_ok=True)
    shutil.copy(SAMPLE_IMAGE, archive / SAMPLE_IMAGE.name)
    shots = []

    def grab(widget, name: str) -> None:
        app.processEvents()
        shots.append(out / name)
        widget.grab().save(str(shots[-1]))

    wizard = window.training.open_pretrain_wizard()
    wizard.archive_page.ask_folder = lambda: str(archive)
    wizard.archive_page._add()
    wait(app, wizard.archive_page.isComplete)
    grab(wizard, "wizard-pretrain-archive.png")
    wizard.next()
    s = wizard.settings_page
    s.name.setText("my-archive-encoder")
    s.advanced_toggle.setChecked(True)
    s.model_size.setCurrentText("tiny")
    s.clusters.setValue(32)
    s.steps.setValue(60)
    s.batch.setValue(8)
    s.checkpoint_every.setValue(20)
    grab(wizard, "wizard-pretrain-settings.png")
    wizard.next()  # the summary page
    wizard.next()  # "Start training"
    wait(app, lambda: wizard.watcher is not None and wizard.watcher.state not in ("new", "running", "paused"))
    grab(wizard, "wizard-pretrain-run.png")
    wizard.close()

    finetune = window.training.open_finetune_wizard("default")
    finetune.next()
    grab(finetune, "wizard-finetune-lines.png")
    finetune.next()
    f = finetune.settings_page
    f.name.setText("my-sample-model")
    f.steps.setValue(40)
    f.advanced_toggle.setChecked(True)
    f.batch.setValue(8)
    f.val_every.setValue(10)
    f.lr.setValue(1e-4)
    finetune.next()  # the summary page
    finetune.next()  # "Start training"
    wait(app, lambda: finetune.watcher is not None and finetune.watcher.state not in ("new", "running", "paused"))
    grab(finetune, "wizard-finetune-run.png")
    finetune.close()
    dialog = window.training.open_models()
    dialog.resize(1100, 360)
    grab(dialog, "model-manager.png")
    dialog.close()
    return shots


if __name__ == "__main__":
    sys.exit(main())

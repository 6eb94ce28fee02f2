"""``mspt-app``: start the desktop application.

mspt-app                 the last project, else the welcome panel (sample, new or open, tour)
mspt-app PROJECT_FOLDER  that project
mspt-app --sample        the bundled sample project (created on first use)
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path

from mspt_app.settings import AppSettings, log_dir

log = logging.getLogger("mspt_app")
# How long a quit waits for the line finder's first export (about 8 s in all) to end.
QUIT_WAIT_SECONDS = 60


def setup_logging() -> Path:
    """Everything from INFO up goes to ``mspt.log`` in the user log folder (rotated)."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mspt.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(
        isinstance(h, logging.handlers.RotatingFileHandler) and Path(h.baseFilename) == path for h in root.handlers
    ):
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def prepare_line_finder() -> threading.Thread | None:
    """Make the bundled line finder's ONNX Runtime session in the background (its graph is
    exported the first time on a machine, about 8 s), so that the first page a person opens
    does not wait for it; a page opened sooner waits only for what is left. The finder itself is
    loaded here, before the thread starts, so that every page uses this one."""
    from mspt_core.layout.linefinder import bundled

    finder = bundled()
    if finder is None:
        return None

    def prepare() -> None:
        try:
            finder.ready()  # an ONNX failure is logged there, and PyTorch finds the lines
        except Exception:  # nobody waits on this thread: say it in the log
            log.exception("could not prepare the line finder ahead of the first page")

    thread = threading.Thread(target=prepare, name="line-finder-session", daemon=True)
    thread.start()
    return thread


def install_excepthook(window_getter) -> None:
    """An unexpected error anywhere in a Qt slot reaches the person as a dialog, not a silent
    crash; the trace goes to the log."""

    def hook(kind, error, trace):
        details = "".join(traceback.format_exception(kind, error, trace))
        log.error("unexpected error\n%s", details)
        from mspt_app.widgets.dialogs import show_error

        show_error(window_getter(), "Something went wrong.", error, details)

    sys.excepthook = hook


def install_translations(app, language: str) -> list:
    """Qt's own strings and mspt's (``resources/translations/mspt_<lang>.qm``) in the chosen
    language, or the system's. Returns the translators (they must stay alive)."""
    from PySide6.QtCore import QLibraryInfo, QLocale, QTranslator

    from mspt_core import resources

    locale = QLocale(language) if language else QLocale.system()
    translators = []
    for name, folder in (
        ("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)),
        ("mspt", str(resources.translations_dir())),
    ):
        translator = QTranslator(app)
        if translator.load(locale, name, "_", folder):
            app.installTranslator(translator)
            translators.append(translator)
    return translators


def open_at_start(window, project: str | None = None, sample: bool = False) -> None:
    """Show what the command line asked for: the project named, else the sample project with
    ``sample``, else the last project; with none of them (or a last project that cannot be
    opened), the welcome panel."""
    from mspt_app.widgets.welcome import offer_at_start
    from mspt_core.project.sample import sample_project

    target: Path | None = None
    if project:
        target = Path(project)
    elif sample:
        target = sample_project()
    elif window.settings.recent_projects:
        target = Path(window.settings.recent_projects[0])
    opened = window.open_project(target) if target is not None else None
    # The offer, unless the command line asked for something: also when the remembered project
    # could not be opened (moved or deleted; its error dialog came first).
    if opened is None and not project and not sample:
        offer_at_start(window)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mspt-app", description="mspt desktop transcription")
    parser.add_argument("project", nargs="?", help="project folder to open")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample project")
    args = parser.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from mspt_app.widgets.main_window import MainWindow

    log_path = setup_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("mspt")
    app.setOrganizationName("mspt")
    settings = AppSettings()
    translators = install_translations(app, settings.language)  # noqa: F841 (kept alive)
    window = MainWindow(settings)
    install_excepthook(lambda: window)
    log.info("mspt-app started; log file %s", log_path)

    window.show()
    preparing = prepare_line_finder()
    open_at_start(window, args.project, args.sample)
    code = app.exec()
    if preparing is not None:
        # Quit within the first seconds of a first start: let the export end (the window is
        # gone already) rather than tear the interpreter down under it, which can crash.
        preparing.join(timeout=QUIT_WAIT_SECONDS)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The bundle's `mspt-app` (PyInstaller entry point).

A bundled program's ``sys.executable`` is this program, not a Python: the app starts a training
run as ``sys.executable -m mspt_core.train.runs RUN``, so those arguments run that module here.
With ``$MSPT_BUNDLE_SMOKE_TEST`` set to a file name, the app opens the sample project,
recognizes it, writes what it read to that file (JSON) and quits: `make bundle-test`.
"""

import json
import os
import runpy
import sys
import time


def smoke_test(report: str) -> None:
    """Drive the app once it runs: recognize every page of the sample project, then quit."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    state: dict = {"started": False, "ticks": 0}

    def tick() -> None:
        window = next((w for w in app.topLevelWidgets() if type(w).__name__ == "MainWindow"), None)
        state["ticks"] += 1
        if window is None or window.project is None:
            if state["ticks"] > 600:
                app.exit(3)
            return
        if not state["started"]:  # the window is up with the sample project open: start-up time
            state["shown_after_s"] = time.time() - float(os.environ.get("MSPT_BUNDLE_T0", time.time()))
            window.recognize_all()
            state["started"] = True
            return
        if window.task is not None and state["ticks"] < 1200:
            return
        page = window.project.page(0)
        lines = [line.text for line in page.lines()]
        with open(report, "w", encoding="utf-8") as f:
            json.dump({"project": str(window.project.root), "lines": lines, "shown_after_s": state["shown_after_s"]}, f)
        timer.stop()
        window.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(100)
    smoke_test.timer = timer  # kept alive


def main() -> int:
    if sys.argv[1:3] == ["-m", "mspt_core.train.runs"]:
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module("mspt_core.train.runs", run_name="__main__", alter_sys=True)
        return 0
    if os.environ.get("MSPT_BUNDLE_SMOKE_TEST"):
        smoke_test(os.environ["MSPT_BUNDLE_SMOKE_TEST"])
    from mspt_app.main import main as app_main

    return app_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())

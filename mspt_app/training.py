"""The app's side of training runs: where they live, and a watcher that turns a run folder's
files into Qt signals (what a fine-tuning run trains on: ``mspt_core.project.snapshot``).

The training itself is a separate process (``mspt_core.train.runs``), never a thread of the
app: the window never stutters, and a crash on either side loses nothing of the other.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from mspt_app.settings import data_dir
from mspt_core.models import usable_name
from mspt_core.train import runs
from mspt_core.train.runspec import EventKind, RunEvent

POLL_MS = 300


def runs_dir() -> Path:
    return data_dir() / "runs"


def new_run_dir(kind: str, name: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = usable_name(name, kind).replace(" ", "_")[:40]
    path, number = runs_dir() / f"{stamp}-{kind}-{safe}", 1
    while path.exists():
        number += 1
        path = runs_dir() / f"{stamp}-{kind}-{safe}-{number}"
    return path


# --- watching a run -----------------------------------------------------------------------------


class RunWatcher(QObject):
    """Follows one run folder: starts or resumes its process, relays its events, and says when
    it ends, however it ends (finished, stopped, failed, killed)."""

    run_event = Signal(object)  # a RunEvent
    state_changed = Signal(str)  # the states of ``runs.RunSummary``

    def __init__(self, run_dir: Path, parent=None):
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self.spec = runs.read_spec(self.run_dir)
        self.process: subprocess.Popen | None = None
        self.offset = 0
        self.events: list[RunEvent] = []
        self.state = "new"
        self.started_seen = True  # False from a start until the process says it began
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.poll()
        if self.active or self.state == "new":
            self.timer.start()

    @property
    def active(self) -> bool:
        return self.state in ("running", "paused")

    @property
    def result(self) -> dict | None:
        return runs.read_result(self.run_dir) if self.state == "finished" else None

    def start(self) -> None:
        """Start the run, or resume it from its last checkpoint."""
        if self.active:
            return
        self.started_seen = False
        try:
            self.process = runs.start_run(self.run_dir)
        except runs.RunBusy:
            self.started_seen = True
            self.process = None  # another window's (or a kept background) process has it: follow its files
        self._set_state("running")
        self.timer.start()

    def pause(self) -> None:
        runs.set_control(self.run_dir, "pause")

    def go_on(self) -> None:
        runs.set_control(self.run_dir, "run")

    def stop(self) -> None:
        """Stop at a checkpoint (the run can be resumed later)."""
        runs.set_control(self.run_dir, "stop")

    def detach(self) -> None:
        """Stop watching; the process goes on by itself."""
        self.timer.stop()
        self.process = None

    def poll(self) -> None:
        # Liveness first, events second: a process that wrote its end and exited in between
        # is then seen to have ended, not to have been interrupted.
        alive = self._process_alive()
        new, self.offset = runs.read_events(self.run_dir, self.offset)
        for event in new:
            self.events.append(event)
            if event.kind in (EventKind.STARTED, EventKind.RESUMED):
                self.started_seen = True
            self._set_state(runs.next_state(self.state, event))
            self.run_event.emit(event)
        if self.active and not alive:
            if self.started_seen:
                self._set_state("interrupted")
            else:  # it died before it began: a resume would fail the same way
                self.events.append(
                    RunEvent(
                        EventKind.END,
                        status="failed",
                        message=f"the training process did not start; see {self.run_dir / runs.LOG}",
                    )
                )
                self.run_event.emit(self.events[-1])
                self._set_state("failed")
        if self.state not in ("running", "paused", "new"):
            self.timer.stop()

    def _process_alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        return runs.is_alive(self.run_dir)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

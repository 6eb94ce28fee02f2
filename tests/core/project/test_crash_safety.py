"""Crash safety of a project editing session: kill it at random moments, many times — while it
opens (and replays the journal of the session killed before), while it edits, and inside its
saves — and check after each kill that every edit it confirmed is still there when the project
is opened again (text typed, lines added, deleted and moved), and that no temporary file of a
killed save outlives the next opening. The sessions are tests/core/project/crash_session.py."""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mspt_core.project import Project
from mspt_core.project.folder import LOCK_FILE
from mspt_core.project.journal import JOURNAL_FILE

from .crash_session import outline

REPO = Path(__file__).resolve().parents[3]
KILLS = 40
AUTOSAVE = 0.15  # seconds after the first unsaved edit (the app waits 1.5 s; shorter means more saves to land in)
TEMPORARY = re.compile(r"^\..*\.mspt(\d+)-[^.]+\.tmp$", re.DOTALL)

pytestmark = [
    pytest.mark.crash,
    pytest.mark.skipif(os.name != "posix", reason="sessions are forked, and killed with SIGKILL"),
]


class Server:
    """crash_session.py's server, with its stdout read by a thread into a queue of lines."""

    def __init__(self, root: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.core.project.crash_session", str(root), str(AUTOSAVE)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.next(60) == "READY"

    def _read(self) -> None:
        assert self.process.stdout is not None
        for row in self.process.stdout:
            self.lines.put(row.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout: float) -> str | None:
        """The next line, or None after ``timeout`` seconds."""
        try:
            row = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        assert row is not None, "the session server ended"
        return row

    def run(self, seed: int) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"RUN {seed}\n")
        self.process.stdin.flush()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


def temporaries(root: Path) -> dict[Path, int]:
    """The temporary files in the project, with the process id that made each."""
    found = {}
    for folder in (root, root / "page"):
        for path in folder.iterdir():
            match = TEMPORARY.match(path.name)
            if match:
                found[path] = int(match[1])
    return found


def differences(expected: dict, state: dict) -> dict:
    keys = set(expected) | set(state)
    return {key: (expected.get(key), state.get(key)) for key in sorted(keys) if expected.get(key) != state.get(key)}


def check(state: dict, confirmed: dict, pending: dict | None, kill: int) -> None:
    """The project as opened holds every confirmed edit; the edit under way at the kill may be
    there or not, nothing else."""
    if state == confirmed:
        return
    if pending is not None:
        with_pending = dict(confirmed)
        if pending["value"] is None:
            with_pending.pop(pending["key"], None)
        else:
            with_pending[pending["key"]] = pending["value"]
        if state == with_pending:
            return
    raise AssertionError(
        f"after kill {kill}, the reopened project differs from the confirmed edits "
        f"(edit under way: {pending}): {differences(confirmed, state)}"
    )


class Tracker:
    """What the sessions confirmed: the lines every later opening must show."""

    def __init__(self, lines: dict):
        self.confirmed = lines
        self.pending: dict | None = None  # the edit under way, not yet confirmed
        self.edits = 0

    def take(self, row: str, kill: int) -> None:
        if row.startswith("STATE "):
            state = json.loads(row[6:])
            check(state, self.confirmed, self.pending, kill)
            self.confirmed, self.pending = state, None
        elif row.startswith("BEGIN "):
            self.pending = json.loads(row[6:])
        elif row == "DONE":
            assert self.pending is not None
            if self.pending["value"] is None:
                del self.confirmed[self.pending["key"]]
            else:
                self.confirmed[self.pending["key"]] = self.pending["value"]
            self.pending = None
            self.edits += 1
        elif row.startswith("ERROR "):
            raise AssertionError(f"the session failed: {json.loads(row[6:])}")


def test_killed_editing_sessions_lose_no_confirmed_edit(small_export, tmp_path):
    project = Project.create(tmp_path / "p")
    project.add_files([small_export])
    tracker = Tracker(outline(project))
    project.close()
    root = project.root

    rng = random.Random(18)
    server = Server(root)
    counts = {"while opening": 0, "while editing": 0, "inside a save": 0, "left temporaries": 0}
    started = time.monotonic()
    try:
        for kill in range(KILLS):
            server.run(kill)
            row = server.next(30)
            assert row is not None and row.startswith("PID "), row
            pid = int(row.split()[1])
            moment = rng.random()
            if moment < 0.2:  # while it opens the project and replays the journal
                deadline, at_save = time.monotonic() + rng.uniform(0, 0.05), False
            elif moment < 0.55:  # as soon as it starts a save
                deadline, at_save = time.monotonic() + 10, True
            else:  # at any moment of its editing
                deadline, at_save = time.monotonic() + rng.uniform(0.05, 0.4), False
            opened, last = False, ""
            while (row := server.next(max(0.0, deadline - time.monotonic()))) is not None:
                assert not row.startswith("EXIT "), f"the session ended by itself: {row}"
                tracker.take(row, kill)
                if row.startswith("STATE "):
                    opened = True
                    earlier = {path for path, owner in temporaries(root).items() if owner != pid}
                    assert not earlier, f"opening after kill {kill} left the temporaries of killed saves: {earlier}"
                last = row
                if at_save and row == "SAVING":
                    break
            os.kill(pid, signal.SIGKILL)
            while not (row := server.next(30) or "").startswith("EXIT "):  # what it said before dying counts
                tracker.take(row, kill)
                opened |= row.startswith("STATE ")
                last = row or last
            assert row.split()[1] != "0", "the session ended before it was killed"
            counts["inside a save" if last == "SAVING" else "while editing" if opened else "while opening"] += 1
            counts["left temporaries"] += any(owner == pid for owner in temporaries(root).values())
    finally:
        server.close()

    reopened = Project.open(root)  # the last session was killed too
    check(outline(reopened), tracker.confirmed, tracker.pending, KILLS)
    reopened.close()
    assert not temporaries(root)
    assert not (root / JOURNAL_FILE).exists() and not (root / LOCK_FILE).exists()
    print(f"{KILLS} kills and {tracker.edits} confirmed edits in {time.monotonic() - started:.1f} s: {counts}")
    assert counts["inside a save"] >= 3 and counts["while opening"] >= 1 and tracker.edits >= 100, counts

"""Editing sessions for test_crash_safety.py to kill: a server that imports mspt once, then on
each ``RUN SEED`` line forks a session (a process of its own, so it starts in milliseconds
instead of the seconds importing torch takes) and says ``EXIT STATUS`` when it has died.

A session opens the project (replaying the journal of the one killed before it), says what
it holds, then edits it at random as a person would — typing into a line, adding a line,
deleting one, moving one's outline — and saves it as the app's autosave does, a short while
after the first unsaved edit. It says each step on stdout, one line per write:

    PID n           its process id, to kill
    STATE {...}     the lines of the project after opening: {"page/line": [text, status, polygon]}
    BEGIN {...}     an edit about to be made: {"key": "page/line", "value": [...]} or "value": null
                    for a deletion
    DONE            the edit before has been made (and handed to the journal)
    SAVING / SAVED  an autosave starts / has ended

    python -m tests.core.project.crash_session PROJECT_FOLDER AUTOSAVE_SECONDS
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import traceback
from pathlib import Path

from mspt_core.document import Line, Page
from mspt_core.project import Editor, Project, geometry

RUNS_AT_MOST = 30.0  # seconds; a session nobody kills ends by itself


def say(text: str) -> None:
    os.write(1, (text + "\n").encode("utf-8"))  # one write per line: a kill cannot tear a short one


def shape(line: Line) -> list[list[int]]:
    return [[round(x), round(y)] for x, y in line.polygon]


def outline(project: Project) -> dict[str, list]:
    """What a person sees of every line: its text, status and outline."""
    lines = {}
    for index in range(len(project)):
        page = project.page(index)
        for line in page.lines():
            lines[f"{page.id}/{line.id}"] = [line.text, line.status.value, shape(line)]
    return lines


def edit(rng: random.Random, project: Project, editor: Editor, session: int, number: int) -> None:
    index = rng.randrange(len(project))
    page: Page = project.page(index)
    lines = list(page.lines())
    roll = rng.random()
    if roll < 0.2 or not lines:  # draw a new line
        x, y = rng.randrange(0, page.width - 160), rng.randrange(0, page.height - 30)
        box = [(x, y), (x + 150, y), (x + 150, y + 24), (x, y + 24)]
        new_id = geometry.new_line_id(page)
        value = ["", Line(id=new_id).status.value, [[round(px), round(py)] for px, py in box]]
        say("BEGIN " + json.dumps({"key": f"{page.id}/{new_id}", "value": value}))
        made = editor.add_line(page.id, box)
        assert made == new_id, (made, new_id)
    elif roll < 0.4 and len(lines) > 8:  # delete one
        line = rng.choice(lines)
        say("BEGIN " + json.dumps({"key": f"{page.id}/{line.id}", "value": None}))
        editor.delete_line(page.id, line.id)
    elif roll < 0.5:  # move its outline
        line = rng.choice(lines)
        dx, dy = rng.randrange(-5, 6), rng.randrange(-5, 6)
        polygon = [(max(0, x + dx), max(0, y + dy)) for x, y in shape(line)]
        say("BEGIN " + json.dumps({"key": f"{page.id}/{line.id}", "value": [line.text, line.status.value, polygon]}))
        editor.set_polygon(page.id, line.id, polygon)
    else:  # type into it
        line = rng.choice(lines)
        text = f"session {session} edit {number} ünïcode"
        say("BEGIN " + json.dumps({"key": f"{page.id}/{line.id}", "value": [text, "corrected", shape(line)]}))
        editor.set_text(page.id, line.id, text)
    say("DONE")


def session(root: Path, seed: int, autosave: float) -> None:
    rng = random.Random(seed)
    say(f"PID {os.getpid()}")
    project = Project.open(root)
    say("STATE " + json.dumps(outline(project)))
    editor = Editor(project)
    first_unsaved: float | None = None
    started = time.monotonic()
    number = 0
    while time.monotonic() - started < RUNS_AT_MOST:
        number += 1
        edit(rng, project, editor, seed, number)
        now = time.monotonic()
        first_unsaved = now if first_unsaved is None else first_unsaved
        if now - first_unsaved >= autosave:
            say("SAVING")
            project.save()
            say("SAVED")
            first_unsaved = None
        time.sleep(rng.uniform(0, 0.005))


def serve(root: Path, autosave: float) -> None:
    import mspt_core.formats  # noqa: F401  (imported here once, not in each session)

    say("READY")
    for request in sys.stdin:
        seed = int(request.split()[1])
        pid = os.fork()
        if pid == 0:
            try:
                session(root, seed, autosave)
                code = 0
            except BaseException:
                say("ERROR " + json.dumps(traceback.format_exc()))
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        say(f"\nEXIT {status}")  # the newline ends a line the kill tore


if __name__ == "__main__":
    serve(Path(sys.argv[1]), float(sys.argv[2]))

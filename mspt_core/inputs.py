"""What every input file must be before mspt opens it: there, a regular file (not a folder, and
not a FIFO or device, which would block a read forever), and named in UTF-8 (a name that is not
cannot be written into PAGE/ALTO or printed). Each reader wraps the reason in its own error."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or None when it can."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file"
    except OSError as error:
        return f"cannot read it ({error.strerror or error})"
    if stat.S_ISDIR(mode):
        return "it is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, socket or device); mspt reads only files"
    return name_problem(path)


def name_problem(path: Path) -> str | None:
    """Why the name of ``path`` is unusable, or None."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8 (e.g. Latin-1 from an old archive); rename it"
    return None

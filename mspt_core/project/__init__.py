"""A transcription project, Qt-free, so that the app and the ``mspt project`` commands share it.

folder.py     the project folder: page images, page/*.xml, project.json; adding pages,
              saving (atomic), the lock of the session that has it open, export
journal.py    the crash journal: every edit made between two autosaves survives a crash
edits.py      every change a person makes, undoable (``Editor``, ``History``)
geometry.py   line geometry for segmentation editing: split, merge, reading order
snapshot.py   the corrected lines of a project, written out for a training run
sample.py     the sample project made from the bundled sample page
"""

from mspt_core.project.edits import Editor, History
from mspt_core.project.folder import (
    Change,
    LinePlace,
    PageEntry,
    Project,
    ProjectError,
    ProjectInUseError,
    count_progress,
    find_line,
)

__all__ = [
    "Change",
    "Editor",
    "History",
    "LinePlace",
    "PageEntry",
    "Project",
    "ProjectError",
    "ProjectInUseError",
    "count_progress",
    "find_line",
]

"""The crash journal: every edit is appended to ``.mspt-journal.jsonl`` at once, so what was
changed between two autosaves survives a crash; the next opening replays it, and a successful
save empties it.

One JSON object per line, oldest first, each a whole state (never a difference), so replaying
a record twice, or over a page a save had already written, changes nothing:

- ``{"page": ID, "line": ID, "text": ..., "status": ...}``: one line's text and status (typing,
  "Mark corrected");
- ``{"page": ID, "xml": ...}``: the whole page as PAGE XML, after a change to its lines (added,
  deleted, moved, merged, split, re-ordered, segmented, re-read).

A torn last line (the crash came mid-write) is skipped when read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

JOURNAL_FILE = ".mspt-journal.jsonl"


class Journal:
    def __init__(self, folder: Path):
        self.path = Path(folder) / JOURNAL_FILE
        self._file: IO[str] | None = None

    def has_entries(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def append(self, page_id: str, line_id: str, text: str, status: str) -> None:
        """Record one line's text and status."""
        self._write({"page": page_id, "line": line_id, "text": text, "status": status})

    def append_page(self, page_id: str, xml: str) -> None:
        """Record a whole page (its PAGE XML), after a change to its lines."""
        self._write({"page": page_id, "xml": xml})

    def _write(self, record: dict) -> None:
        """Append one record as one line, handed to the system before returning (a killed
        process loses nothing written here); a failure is logged, not raised (autosave still
        runs: the journal is a second net)."""
        try:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")
                if not self._ends_a_line():
                    self._file.write("\n")  # a record torn by a crash stays apart from the next
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
        except OSError as error:
            log.warning("cannot write the edit journal: %s", error)

    def _ends_a_line(self) -> bool:
        with open(self.path, "rb") as f:
            if f.seek(0, 2) == 0:
                return True
            f.seek(-1, 2)
            return f.read(1) == b"\n"

    def records(self) -> Iterator[dict]:
        """The recorded edits, oldest first; lines that are not a whole record are skipped."""
        if not self.path.exists():
            return
        for row in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(row)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("page"), str):
                continue
            if isinstance(record.get("xml"), str) or ("line" in record and "text" in record):
                yield record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def clear(self) -> None:
        """Everything recorded is on disk elsewhere now: forget it."""
        self.close()
        self.path.unlink(missing_ok=True)

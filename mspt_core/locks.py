""" "A process holds this folder": an operating-system lock on a file in it. The one home of it,
for a training run (``train.runs``), an open project (``project.folder``) and the benchmarks.

The operating system releases the lock whenever its process ends (closed, killed, crashed, power
cut), so a lock can never be left behind by a dead process, and no process id that the system
has since given to another program can make a folder look taken. The lock file itself stays
behind unless its holder removes it on release; what it holds says who took it, for messages."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import IO


class FolderLock:
    """The lock on ``path`` (a file, created if missing). Not re-entrant; one object per holder.

    ``acquire()`` takes it without waiting; ``with FolderLock(path):`` waits for it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._handle: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._handle is not None

    def acquire(self, wait: bool = False) -> bool:
        """Take the lock; False when another process (or another FolderLock here) holds it and
        ``wait`` is false. OSErrors opening the file (a read-only folder) propagate."""
        while self._handle is None:
            handle = open(self.path, "a+b")
            try:
                taken = _lock(handle, wait)
            except BaseException:
                handle.close()
                raise
            if not taken:
                handle.close()
                return False
            if _still_there(handle, self.path):
                self._handle = handle
            else:  # its holder removed the file while we waited: lock the one there now
                _unlock(handle)
                handle.close()
        return True

    def release(self, remove: bool = False) -> None:
        """Let the lock go; with ``remove``, delete its file too (while still holding it, so no
        one locks a file that is about to go). Safe to call when not held."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if remove and os.name != "nt":
            self.path.unlink(missing_ok=True)
        _unlock(handle)
        handle.close()  # closing releases a POSIX lock too
        if remove and os.name == "nt":  # an open file cannot be deleted there
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass

    def write_owner(self, **extra: object) -> None:
        """Record who holds the lock in its file (this process and host, and ``extra``): readable
        by ``read_owner`` while held, e.g. for "open in process 1234" messages."""
        import json

        if self._handle is None:
            raise RuntimeError(f"{self.path}: not held")
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), **extra})
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(text.encode("utf-8"))
        self._handle.flush()

    def __enter__(self) -> FolderLock:
        self.acquire(wait=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_held(path: str | os.PathLike) -> bool:
    """Whether a process holds the lock on ``path`` now (False when there is no such file)."""
    path = Path(path)
    if not path.exists():
        return False
    probe = FolderLock(path)
    try:
        if probe.acquire():
            probe.release()
            return False
    except OSError:
        return False
    return True


def read_owner(path: str | os.PathLike) -> dict:
    """What ``FolderLock.write_owner`` recorded in ``path`` ({} when nothing readable: no file,
    an empty one, or one the system keeps locked from reading)."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _still_there(handle: IO[bytes], path: Path) -> bool:
    """Whether ``path`` is still the file ``handle`` has open (not removed or replaced)."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except OSError:
        return False


def _lock(handle: IO[bytes], wait: bool) -> bool:
    try:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            # LK_LOCK retries for about 10 s, then raises; waiting longer is the caller's loop.
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        if wait:
            raise
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    # elsewhere closing the file releases the lock

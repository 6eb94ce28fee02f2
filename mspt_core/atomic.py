"""Atomic file writes: nothing a user saved is ever left half-written. The one home of the
pattern: ``atomic_write`` for bytes, ``atomic_path`` for a writer that wants a file name (an
exporter), ``atomic_folder`` for a folder written as a whole (a model folder).

The data goes to a temporary file in the target's folder (same file system, so the final
rename is atomic), is fsynced, then renamed over the target. On any error the temporary file
is removed and the old target, if any, is untouched.

Temporary names are ``.NAME.msptPID-RANDOM.tmp`` (files here, model folders in models.py), with
NAME cut to its first 100 bytes so that a target whose own name fits the file system's 255 bytes
always gets a temporary name that fits too. A process killed mid-write leaves its temporary
behind; the next write into that folder removes such leftovers, but only those of this naming
that are older than an hour and whose process (the PID in the name) no longer runs on this
machine, so a write in progress, ours or another mspt's, is never touched. A folder only its
lock holder writes (a project's) is cleaned at once when the lock is taken
(``remove_temporaries_of_others``).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

Payload = bytes | Callable[[BinaryIO], None]


def _default_mode() -> int:
    # mkstemp creates 0600 files; a saved document should get the usual permissions.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


def atomic_write(path: str | os.PathLike, data: Payload) -> Path:
    """Write ``data`` (bytes, or a callable that writes to the binary file it is given) to
    ``path`` atomically. Returns the path written."""
    path = Path(path)
    with _temporary_file(path) as (fd, tmp):
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file name beside ``path`` for a writer that wants a name rather than bytes;
    when the block ends without an error, what was written there is fsynced and renamed over
    ``path``, otherwise removed."""
    path = Path(path)
    with _temporary_file(path) as (fd, tmp):
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "r+b") as f:  # a writer may have replaced the file: sync what is there now
            os.fsync(f.fileno())
        _replace(tmp, path)


@contextmanager
def _temporary_file(path: Path) -> Iterator[tuple[int, str]]:
    """A new temporary file beside ``path`` (its descriptor and name) for the block to fill and
    put in place (``_replace``); removed when the block fails. Errors name ``path``."""
    folder = path.parent
    with naming(path):
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=TEMPORARY_SUFFIX, dir=folder)
        try:
            yield fd, tmp
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
    _fsync_dir(folder)


def _replace(tmp: str | Path, path: Path) -> None:
    """Give the written temporary file the target's permissions (or the usual ones), then put
    it in the target's place."""
    try:
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _MODE)
    except OSError:
        pass
    os.replace(tmp, path)


@contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill (with ``write_synced``); when the block ends
    without an error, it takes the place of ``path`` (an old folder there is removed), otherwise
    it is removed. A reader sees the old folder or the new one, never a mix."""
    path = Path(path)
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=TEMPORARY_SUFFIX, dir=path.parent))
        try:
            yield tmp
            _fsync_dir(tmp)
            _replace_folder(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # e.g. a full disk: nothing half-written stays
            raise
    _fsync_dir(path.parent)


def _replace_folder(new: Path, path: Path) -> None:
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


def write_synced(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it (a file inside an ``atomic_folder``): a full disk is
    an OSError here, not a short file later."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


TEMPORARY_SUFFIX = ".tmp"
_NAME_KEPT = 100  # bytes of the target's name kept in its temporary's name
_TEMPORARY = re.compile(r"^\..*\.mspt(?P<pid>\d+)-[^.]+\.tmp$", re.DOTALL)
STALE_AFTER = 3600.0  # seconds; no write of ours takes that long
_swept: set[str] = set()  # folders already cleaned by this process


def temporary_prefix(path: Path) -> str:
    """Start of the name of a temporary file or folder for ``path`` (see the module docstring)."""
    return f"{_temporary_start(path)}{os.getpid()}-"


def _temporary_start(path: Path) -> str:
    # Cut in bytes, not characters; a character cut in half (or a non-UTF-8 byte) is dropped.
    short = os.fsencode(path.name)[:_NAME_KEPT].decode("utf-8", "ignore")
    return f".{short}.mspt"


def remove_stale_temporaries(folder: Path) -> None:
    """Remove what killed writes left in ``folder`` (the rule is in the module docstring), once per
    folder and process; a leftover that cannot be removed is left for a later try."""
    key = os.path.abspath(folder)
    if key in _swept:
        return
    _swept.add(key)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    _remove(entry for entry in entries if _is_stale(entry))


def remove_temporaries_of_others(folder: str | os.PathLike) -> None:
    """Remove every temporary of this naming in ``folder`` that another process left, whatever
    its age: only for a folder no other process may be writing in, one whose lock this process
    has just taken (a project's, ``mspt_core.project``), so a leftover there is a killed write."""
    try:
        entries = list(os.scandir(Path(folder)))
    except OSError:
        return
    _remove(entry for entry in entries if (match := _TEMPORARY.match(entry.name)) and int(match["pid"]) != os.getpid())


def _remove(entries: Iterable[os.DirEntry]) -> None:
    for entry in entries:
        try:
            shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)
        except OSError:
            pass  # left for a later try


def _is_stale(entry: os.DirEntry) -> bool:
    match = _TEMPORARY.match(entry.name)
    if not match:
        return False
    try:
        old = time.time() - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
    except OSError:
        return False
    return old and not _running(int(match["pid"]))


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (or a nonsense PID: keep it)
        return True
    return True


@contextmanager
def naming(path: str | os.PathLike):
    """OSErrors raised inside that name no file (a full disk) or a temporary file or folder of
    ``path`` name ``path`` instead, the file the person asked for; an error about
    another file, e.g. an input the data callable reads, keeps its own name."""
    try:
        yield
    except OSError as error:
        path = Path(path)
        about_temporary = error.filename is not None and any(
            part.startswith(_temporary_start(path)) for part in Path(error.filename).parts
        )
        if error.errno is None or not (error.filename is None or about_temporary):
            raise
        raise OSError(error.errno, error.strerror, str(path)) from error  # keeps the subclass


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable on POSIX; directories cannot be opened on Windows.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

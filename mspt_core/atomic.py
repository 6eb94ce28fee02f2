"""Atomic file writes: nothing a user saved is ever left half-written.

The data goes to a temporary file in the target's folder (same file system, so the final
rename is atomic), is fsynced, then renamed over the target. On any error the temporary file
is removed and the old target, if any, is untouched.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Union

Payload = Union[bytes, Callable[[BinaryIO], None]]


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
    folder = path.parent
    with naming(path):
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        _write_and_replace(fd, tmp, path, data)
    _fsync_dir(folder)
    return path


def _write_and_replace(fd: int, tmp: str, path: Path, data: Payload) -> None:
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else _MODE)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextmanager
def naming(path: str | os.PathLike):
    """OSErrors raised inside that name no file (a full disk) or a temporary file or folder of
    ``path`` (``.NAME.*``) name ``path`` instead, the file the person asked for; an error about
    another file, e.g. an input the data callable reads, keeps its own name."""
    try:
        yield
    except OSError as error:
        path = Path(path)
        about_temporary = error.filename is not None and any(
            part.startswith(f".{path.name}.") for part in Path(error.filename).parts)
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

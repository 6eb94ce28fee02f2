"""Atomic writes: temporary names that always fit, and leftovers of killed writes cleaned safely."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from mspt_core import atomic
from mspt_core.atomic import atomic_write, remove_stale_temporaries, temporary_prefix


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid  # finished and reaped: no process has this id now (reuse within a test is unlikely)


def _leftover(folder: Path, name: str, pid: int, age: float, folder_kind: bool = False) -> Path:
    path = folder / f".{name}.mspt{pid}-{os.urandom(4).hex()}.tmp"
    if folder_kind:
        path.mkdir()
        (path / "weights").write_bytes(b"half")
    else:
        path.write_bytes(b"half")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_a_name_that_fits_gets_a_temporary_name_that_fits(tmp_path):
    target = tmp_path / ("a" + "é" * 124 + ".xml")  # 253 bytes: fits, and a prefixed copy of it would not
    atomic_write(target, b"data")
    assert target.read_bytes() == b"data" and os.listdir(tmp_path) == [target.name]
    prefix = temporary_prefix(target).encode("utf-8")  # no "é" cut in half
    assert len(prefix) < 130


def test_stale_leftovers_of_killed_writes_are_removed_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_swept", set())
    dead, hour = _dead_pid(), atomic.STALE_AFTER
    stale_file = _leftover(tmp_path, "page.xml", dead, hour + 60)
    stale_model = _leftover(tmp_path, "best", dead, hour + 60, folder_kind=True)
    recent = _leftover(tmp_path, "page.xml", dead, 60)  # maybe a write on another machine: too young
    running = _leftover(tmp_path, "other.xml", os.getppid(), hour + 60)  # its writer still runs
    foreign = tmp_path / ".someone-else.tmp"
    foreign.write_bytes(b"not ours")
    atomic_write(tmp_path / "page.xml", b"new")
    assert not stale_file.exists() and not stale_model.exists()
    assert recent.exists() and running.exists() and foreign.exists()


def test_a_folder_is_swept_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_swept", set())
    remove_stale_temporaries(tmp_path)
    stale = _leftover(tmp_path, "page.xml", _dead_pid(), atomic.STALE_AFTER + 60)
    atomic_write(tmp_path / "page.xml", b"new")
    assert stale.exists()  # a later run cleans it; a busy folder is not listed on every write


def test_a_file_written_by_name_replaces_the_target_only_when_done(tmp_path):
    target = tmp_path / "graph.onnx"
    target.write_bytes(b"old")
    with atomic.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(temporary_prefix(target))
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == [target.name]
    try:
        with atomic.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("the exporter failed")
    except RuntimeError:
        pass
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == [target.name]


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    with atomic.atomic_folder(target) as folder:
        atomic.write_synced(folder / "a", b"1")
        assert not target.exists()
    assert sorted(os.listdir(target)) == ["a"]
    with atomic.atomic_folder(target) as folder:
        atomic.write_synced(folder / "b", b"2")
    assert sorted(os.listdir(target)) == ["b"] and os.listdir(tmp_path) == ["model"]  # the old one is gone
    try:
        with atomic.atomic_folder(target) as folder:
            atomic.write_synced(folder / "c", b"3")
            raise OSError(28, "No space left on device")
    except OSError as error:
        assert error.filename == str(target)  # the error names the folder asked for
    assert sorted(os.listdir(target)) == ["b"] and os.listdir(tmp_path) == ["model"]

"""Folder locks: held by one holder at a time, freed with their process, their file removable."""

import subprocess
import sys

from mspt_core.locks import FolderLock, is_held, read_owner


def test_one_holder_at_a_time(tmp_path):
    path = tmp_path / "lock"
    first, second = FolderLock(path), FolderLock(path)
    assert not is_held(path)
    assert first.acquire() and first.held
    assert is_held(path) and not second.acquire() and not second.held
    first.write_owner(kind="test")
    owner = read_owner(path)
    assert owner["kind"] == "test" and isinstance(owner["pid"], int)
    first.release()
    assert path.exists() and not is_held(path)
    assert second.acquire()
    second.release(remove=True)
    assert not path.exists() and not is_held(path)


def test_a_lock_goes_with_its_process(tmp_path):
    path = tmp_path / "lock"
    code = "import sys; from mspt_core.locks import FolderLock; assert FolderLock(sys.argv[1]).acquire(); sys.exit(3)"
    assert subprocess.run([sys.executable, "-c", code, str(path)]).returncode == 3  # ended holding it
    assert path.exists() and not is_held(path)
    with FolderLock(path) as lock:
        assert lock.held and is_held(path)
    assert not lock.held


def test_a_file_removed_by_its_holder_is_not_locked_by_a_waiter(tmp_path):
    path = tmp_path / "lock"
    holder = FolderLock(path)
    holder.acquire()
    waiter = FolderLock(path)
    assert not waiter.acquire()
    holder.release(remove=True)
    assert waiter.acquire() and path.exists()  # a new file, the one a third holder would see
    assert not FolderLock(path).acquire()
    waiter.release()

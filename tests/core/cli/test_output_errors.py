"""Output-side failures of every writing command: a folder that refuses writes, an --out that is a
file, a --report that is a folder, a full disk. Each gives exit code 2 and one `mspt: error:`
line naming the path, no traceback, and leaves every file as it was, temporary files included."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mspt_core import models
from mspt_core.cli import main

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
PAGE_IMAGE = SAMPLES / "sample-page.png"  # with its PAGE file beside it: lines are reused, not found
PAGE_XML = SAMPLES / "sample-page.xml"
LINES = SAMPLES / "lines"  # line images with .gt.txt


def _make_read_only(folder: Path) -> None:
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes through permissions; an immutable folder stops it too
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode:
            pytest.skip("running as root without chattr +i: no folder here refuses writes")


def _make_writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    folder.chmod(0o755)


@pytest.fixture
def place(tmp_path, monkeypatch):
    """The places outputs are pointed at: a read-only folder, an existing file, an existing folder.
    The user data folder (models import writes there) is inside the read-only folder."""
    read_only, a_file, a_folder = tmp_path / "read-only", tmp_path / "a-file", tmp_path / "a-folder"
    read_only.mkdir()
    (read_only / "old-output.xml").write_text("an earlier result", encoding="utf-8")
    a_file.write_text("not a folder", encoding="utf-8")
    a_folder.mkdir()
    _make_read_only(read_only)
    monkeypatch.setenv("MSPT_DATA_DIR", str(read_only / "data"))
    yield {"RO": read_only, "FILE": a_file, "FOLDER": a_folder}
    _make_writable(read_only)


def _tree(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a digest of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


TRAIN = ["--size", "tiny", "--steps", "1", "--val-every", "1", "--batch-size", "2", "--device", "cpu"]

CASES = {
    # name: (command with {RO} {FILE} {FOLDER} {MODEL} for places, the path the message must name)
    "transcribe-read-only": (["transcribe", PAGE_IMAGE, "--model", "{MODEL}", "--out", "{RO}"], "{RO}"),
    "transcribe-out-is-file": (["transcribe", PAGE_IMAGE, "--model", "{MODEL}", "--out", "{FILE}"], "{FILE}"),
    "transcribe-under-read-only": (["transcribe", PAGE_IMAGE, "--model", "{MODEL}", "--out", "{RO}/new"], "{RO}/new"),
    "convert-read-only": (["convert", PAGE_XML, "--to", "txt", "--out", "{RO}"], "{RO}"),
    "convert-out-is-file": (["convert", PAGE_XML, "--to", "page", "--out", "{FILE}"], "{FILE}"),
    "segment-read-only": (["segment", PAGE_IMAGE, "--out", "{RO}"], "{RO}"),
    "segment-out-is-file": (["segment", PAGE_IMAGE, "--out", "{FILE}"], "{FILE}"),
    "train-read-only": (["train", LINES, "--out", "{RO}", *TRAIN], "{RO}"),
    "train-out-is-file": (["train", LINES, "--out", "{FILE}", *TRAIN], "{FILE}"),
    "train-under-file": (["train", LINES, "--out", "{FILE}/run", *TRAIN], "{FILE}/run"),
    "eval-report-is-folder": (["eval", LINES, "--model", "{MODEL}", "--report", "{FOLDER}"], "{FOLDER}"),
    "eval-report-read-only": (["eval", LINES, "--model", "{MODEL}", "--report", "{RO}/all.tsv"], "{RO}/all.tsv"),
    "models-import-read-only": (["models", "import", "{MODEL}", "--name", "mine"], "{RO}/data/models"),
}


@pytest.mark.parametrize("name", CASES)
def test_an_output_that_cannot_be_written_is_one_clear_error(name, place, tiny_model, tmp_path, capsys):
    command, named = CASES[name]
    fill = dict(place, MODEL=tiny_model)
    argv = [str(part).format(**fill) for part in command]
    before = _tree(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("mspt: error:")]
    assert len(errors) == 1 and named.format(**fill) in errors[0], err
    assert "Traceback" not in err
    assert _tree(tmp_path) == before  # nothing written, nothing left over


def test_a_full_disk_during_models_import_leaves_no_half_written_model(tiny_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "data"))
    user_models = tmp_path / "data" / "models"
    user_models.mkdir(parents=True)

    def disk_full(path, data):
        Path(path).write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as a write() on a full disk: no file name

    monkeypatch.setattr(models, "write_synced", disk_full)
    assert main(["models", "import", str(tiny_model), "--name", "mine"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mspt: error:") and str(user_models / "mine") in err and "No space left" in err
    assert len(err.splitlines()) == 1 and not any(user_models.iterdir())

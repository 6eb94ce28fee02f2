"""mspt project: a project folder made, read and exported from the command line, the same
folder the app opens; the project's own model reads it; bad input is one error line, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mspt_core.cli import main
from mspt_core.document import LineStatus
from mspt_core.formats import read_document
from mspt_core.project import Project

SAMPLE_PAGE = Path(__file__).resolve().parents[3] / "resources" / "samples" / "sample-page.png"


@pytest.fixture
def scan(tmp_path) -> Path:
    """The sample page alone in a folder: no lines beside it, so they must be found."""
    folder = tmp_path / "scans"
    folder.mkdir()
    return Path(shutil.copy(SAMPLE_PAGE, folder / "letter.png"))


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mspt: error: ") and "Traceback" not in err, err
    return lines[0]


def test_new_transcribe_export_keeps_corrected_lines(tmp_path, scan, tiny_model, capsys):
    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(scan)]) == 0
    assert main(["project", "transcribe", str(root), "--model", str(tiny_model), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "page 1\t" in out and "lines read on 1 pages" in out

    project = Project.open(root)
    lines = list(project.page(0).lines())
    assert len(lines) > 5 and {line.status for line in lines} == {LineStatus.RECOGNIZED}
    kept = lines[1]
    kept.text, kept.status = "typed by a person", LineStatus.CORRECTED
    project.changed(project.entries[0].id, "text", kept.id)
    project.close()

    assert main(["project", "transcribe", str(root), "--model", str(tiny_model), "--device", "cpu"]) == 0
    page = read_document(root / Project.open(root).entries[0].xml)
    assert [(line.text, line.status) for line in page.lines() if line.id == kept.id] == [
        ("typed by a person", LineStatus.CORRECTED)
    ]

    out_dir = tmp_path / "out"
    capsys.readouterr()
    assert main(["project", "export", str(root), "--to", "txt", "alto", "--out", str(out_dir)]) == 0
    captured = capsys.readouterr()
    assert "typed by a person" in (out_dir / "project.txt").read_text(encoding="utf-8")
    assert len(list((out_dir / "alto").glob("*.xml"))) == 1
    # What ALTO cannot keep (each line's status, per-character confidences) is said, not dropped.
    assert "mspt: note:" in captured.err and "no place in ALTO" in captured.err
    assert not (root / ".mspt-lock").exists()  # every command closed the project


def test_the_projects_model_reads_it(tmp_path, scan, tiny_model, capsys):
    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(scan)]) == 0
    project = Project.open(root)
    project.set_model(str(tiny_model))
    project.close()
    assert json.loads((root / "project.json").read_text(encoding="utf-8"))["model"] == str(tiny_model)
    capsys.readouterr()
    assert main(["project", "transcribe", str(root), "--device", "cpu", "--pages", "1"]) == 0
    assert f"model: {tiny_model}" in capsys.readouterr().out


def test_the_projects_line_finder_finds_its_lines_unless_segmenter_says_otherwise(
    tmp_path, scan, tiny_model, capsys, monkeypatch
):
    from mspt_core.project import transcribe

    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(scan)]) == 0
    project = Project.open(root)
    project.set_segmenter("classical")
    project.close()
    used = []
    monkeypatch.setattr(transcribe, "read_pages", lambda pages, reader, segmenter, **k: used.append(segmenter) or 0)
    run = ["project", "transcribe", str(root), "--model", str(tiny_model), "--device", "cpu"]
    capsys.readouterr()
    assert main(run) == 0
    assert main([*run, "--segmenter", "learned"]) == 0
    assert used == ["classical", "learned"]
    out = capsys.readouterr().out
    assert "line finder: classical" in out and "line finder: learned" in out
    assert Project.open(root).segmenter == "classical"  # --segmenter is for this run only


def test_a_folder_that_is_not_a_project_is_refused(tmp_path, capsys):
    assert main(["project", "transcribe", str(tmp_path)]) == 2
    assert "not an mspt project" in one_error_line(capsys)


def test_a_page_the_project_has_not_is_refused(tmp_path, capsys):
    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(SAMPLE_PAGE)]) == 0
    capsys.readouterr()
    assert main(["project", "export", str(root), "--to", "txt", "--out", str(tmp_path / "o"), "--pages", "3"]) == 2
    assert "has no page 3" in one_error_line(capsys)
    assert not (tmp_path / "o").exists() and not (root / ".mspt-lock").exists()


def test_export_to_a_file_is_refused(tmp_path, capsys):
    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(SAMPLE_PAGE)]) == 0
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder", encoding="utf-8")
    capsys.readouterr()
    assert main(["project", "export", str(root), "--to", "page", "--out", str(a_file)]) == 2
    assert "a-file" in one_error_line(capsys)
    assert a_file.read_text(encoding="utf-8") == "not a folder"


def test_new_adds_the_good_pages_and_names_each_bad_one(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(broken), str(SAMPLE_PAGE), str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.count("mspt: error:") == 2 and "broken.png: not added" in err and "empty.jpg: not added" in err
    project = Project.open(root)
    assert [entry.source for entry in project.entries] == [str(SAMPLE_PAGE)]
    project.close()


def test_a_project_open_in_the_app_is_refused(tmp_path, capsys):
    from mspt_core.project.folder import LOCK_FILE
    from tests.core.project.test_folder import _hold_in_another_process

    root = tmp_path / "project"
    assert main(["project", "new", str(root), str(SAMPLE_PAGE)]) == 0
    holder = _hold_in_another_process(root / LOCK_FILE)  # as an app window would
    capsys.readouterr()
    try:
        assert main(["project", "export", str(root), "--to", "txt", "--out", str(tmp_path / "o")]) == 2
        assert "already open" in one_error_line(capsys)
        assert main(["project", "transcribe", str(root)]) == 2
        assert "already open" in one_error_line(capsys)
    finally:
        holder.communicate("")
    assert not (tmp_path / "o").exists()

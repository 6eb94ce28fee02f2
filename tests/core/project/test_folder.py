"""The project folder: nothing typed is lost (the journal), one session at a time (the lock),
and a project.json from someone else cannot reach files outside the folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mspt_core.errors import MsptError
from mspt_core.project import Project, ProjectError
from mspt_core.project.folder import LOCK_FILE, Rejected
from mspt_core.project.journal import JOURNAL_FILE


def test_a_torn_journal_line_is_skipped(small_export, tmp_path):
    project = Project.create(tmp_path / "p")
    project.add_files([small_export])
    page = project.page(0)
    line = next(page.lines())
    record = {"page": page.id, "line": line.id, "text": "kept", "status": "corrected"}
    (project.root / JOURNAL_FILE).write_text(json.dumps(record) + "\n" + '{"page": "0001", "li', encoding="utf-8")
    reopened = Project.open(project.root)  # the lock of the "crashed" session is still there
    assert next(reopened.page(0).lines()).text == "kept"


def test_a_record_written_after_a_torn_one_is_kept(tmp_path):
    from mspt_core.project.journal import Journal

    (tmp_path / JOURNAL_FILE).write_text('{"page": "0001", "line": "l1", "text": "ke', encoding="utf-8")
    journal = Journal(tmp_path)
    journal.append("0001", "l2", "after the crash", "corrected")
    journal.close()
    assert [record["line"] for record in journal.records()] == ["l2"]


def _outline(project: Project, index: int = 0) -> list[tuple]:
    return [(line.id, line.text, line.status, line.polygon) for line in project.page(index).lines()]


def test_added_deleted_and_moved_lines_are_replayed_after_a_crash(small_export, tmp_path):
    """Every change to a page's lines is in the journal before the next autosave, not only typed
    text: a crash between two saves loses no added, deleted, moved or split line."""
    from mspt_core.project import Editor

    project = Project.create(tmp_path / "p")
    project.add_files([small_export])
    editor = Editor(project)
    page_id = project.page(0).id
    first, second, third = [line.id for line in project.page(0).lines()][:3]
    editor.delete_line(page_id, second)
    added = editor.add_line(page_id, [(10, 10), (200, 10), (200, 40), (10, 40)])
    editor.set_text(page_id, added, "a line drawn by hand")
    editor.set_polygon(page_id, first, [(5, 5), (300, 5), (300, 30), (5, 30)])
    editor.split_line(page_id, third, 3)
    editor.move_line(page_id, added, 2)
    expected = _outline(project)
    assert any(line_id == added for line_id, *_ in expected) and all(line_id != second for line_id, *_ in expected)
    xml = project.xml_path(0).read_text(encoding="utf-8")
    assert "a line drawn by hand" not in xml  # not saved yet: the crash comes before the autosave

    reopened = Project.open(project.root)  # the lock of the "crashed" session is still there
    assert reopened.recovered and reopened.recovered_edits == 6
    assert _outline(reopened) == expected
    assert "a line drawn by hand" in project.xml_path(0).read_text(encoding="utf-8")  # written back at once
    assert not (project.root / JOURNAL_FILE).exists()
    reopened.close()


def test_a_journal_replayed_over_a_page_already_saved_changes_nothing(small_export, tmp_path):
    """A crash after a save wrote the pages but before it emptied the journal: the records are
    whole states, so replaying them again gives the same page."""
    from mspt_core.project import Editor

    project = Project.create(tmp_path / "p")
    project.add_files([small_export])
    editor = Editor(project)
    page_id = project.page(0).id
    line = next(project.page(0).lines()).id
    editor.set_text(page_id, line, "typed")
    editor.delete_line(page_id, line)
    journal = (project.root / JOURNAL_FILE).read_bytes()
    expected = _outline(project)
    project.save()
    (project.root / JOURNAL_FILE).write_bytes(journal)
    reopened = Project.open(project.root)
    assert _outline(reopened) == expected and reopened.recovered_edits == 0
    reopened.close()


def test_opening_a_project_removes_what_killed_writes_left(tmp_path):
    """No other process writes in a project whose lock is held, so the temporary files of a
    killed save are removed when it is opened, however new they are; other files stay."""
    project = Project.create(tmp_path / "p")
    project.close()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    left = [project.root / f".project.json.mspt{pid}-x1.tmp", project.root / "page" / f".0001-a.xml.mspt{pid}-y2.tmp"]
    for path in left:
        path.write_text("half a save")
    kept = project.root / "page" / ".notes.tmp"
    kept.write_text("not ours")
    Project.open(project.root).close()
    assert not any(path.exists() for path in left) and kept.exists()


def _hold_in_another_process(lock_file: Path) -> subprocess.Popen:
    """A process that takes the OS lock on ``lock_file`` as an mspt window would, and keeps it
    until its stdin closes."""
    code = (
        "import sys; from mspt_core.locks import FolderLock; lock = FolderLock(sys.argv[1]); "
        "assert lock.acquire(); lock.write_owner(); print('held', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(lock_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_project_open_elsewhere_is_refused(tmp_path):
    project = Project.create(tmp_path / "p")
    project.close()
    holder = _hold_in_another_process(project.root / LOCK_FILE)
    try:
        with pytest.raises(ProjectError, match=rf"already open in another mspt window \(process {holder.pid}\)"):
            Project.open(project.root)
    finally:
        holder.communicate("")
    reopened = Project.open(project.root)  # the OS freed the lock with its process: a crash, recovered
    assert reopened.recovered
    reopened.close()
    assert not (project.root / LOCK_FILE).exists()


def test_a_left_lock_naming_a_process_that_runs_is_stale(tmp_path):
    """The lock file of a crashed session may name a process id the system has since given to
    another program; only the OS lock says whether the project is open."""
    project = Project.create(tmp_path / "p")
    project.close()
    (project.root / LOCK_FILE).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    reopened = Project.open(project.root)
    assert reopened.recovered
    reopened.close()


SAMPLE_PAGE = Path(__file__).resolve().parents[3] / "resources" / "samples" / "sample-page.png"


def project_naming(tmp_path, field: str, name) -> tuple[Path, Path]:
    """A one-page project whose project.json gives page 1's ``field`` as ``name`` (a callable
    gets the project folder), and a file outside the project that the entry may point at."""
    outside = tmp_path / "elsewhere" / "precious.xml"  # a PAGE file a save would overwrite
    outside.parent.mkdir()
    outside.write_bytes(SAMPLE_PAGE.with_suffix(".xml").read_bytes())
    project = Project.create(tmp_path / "p")
    project.add_files([SAMPLE_PAGE])
    project.close()
    manifest = project.root / "project.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["pages"][0][field] = name(project.root) if callable(name) else name
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return project.root, outside


def _link_out(root: Path) -> str:
    (root / "page" / "linked.xml").symlink_to(root.parent / "elsewhere" / "precious.xml")
    return "page/linked.xml"


@pytest.mark.parametrize(
    "field, name",
    [
        ("xml", "../elsewhere/precious.xml"),
        ("xml", lambda root: str(root.parent / "elsewhere" / "precious.xml")),
        ("xml", _link_out),
        ("image", "../elsewhere/precious.xml"),
        ("image", "/etc/hostname"),
        ("xml", ""),
    ],
    ids=["xml-dotdot", "xml-absolute", "xml-link", "image-dotdot", "image-absolute", "xml-empty"],
)
def test_a_project_file_naming_files_outside_the_project_is_refused(tmp_path, field, name):
    root, outside = project_naming(tmp_path, field, name)
    with pytest.raises(ProjectError) as info:
        project = Project.open(root)
        project.changed(project.entries[0].id)  # what an edit does: the page is saved next
        project.close()
    assert str(root / "project.json") in str(info.value) and "outside the project folder" in str(info.value)
    assert outside.read_bytes() == SAMPLE_PAGE.with_suffix(".xml").read_bytes()


def test_adding_pages_keeps_the_good_files_and_says_why_each_bad_one_was_not_added(tmp_path):
    from tests.core.cli.test_hostile_inputs import _png_header

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header(20_000, 20_000))  # declares 400 MP
    empty_folder = tmp_path / "nothing-here"
    empty_folder.mkdir()
    project = Project.create(tmp_path / "p")
    rejected: list[Rejected] = []
    files = [broken, huge, SAMPLE_PAGE, tmp_path / "missing.png", empty_folder]
    assert project.add_files(files, rejected=rejected) == [0]
    assert [problem.path.name for problem in rejected] == ["nothing-here", "broken.png", "huge.png", "missing.png"]
    too_large = rejected[2].reason
    assert too_large.startswith("too large") and "limit of 120 MP" in too_large and "huge.png" not in too_large
    assert "bomb" not in too_large and "DOS" not in too_large
    project.close()
    reopened = Project.open(project.root)  # the good page was saved with the project
    assert [entry.source for entry in reopened.entries] == [str(SAMPLE_PAGE)]
    reopened.close()


def test_without_a_list_for_them_the_first_bad_file_raises_and_earlier_pages_stay(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    project = Project.create(tmp_path / "p")
    with pytest.raises(MsptError, match="broken.png"):
        project.add_files([SAMPLE_PAGE, broken])
    assert len(project) == 1 and json.loads((project.root / "project.json").read_text())["pages"]
    project.close()


def test_the_project_records_its_model_and_older_projects_open(tmp_path):
    project = Project.create(tmp_path / "p")
    assert project.model == ""
    project.set_model("my-hand")
    project.close()
    assert json.loads((tmp_path / "p" / "project.json").read_text(encoding="utf-8"))["model"] == "my-hand"
    assert Project.open(tmp_path / "p").model == "my-hand"

    old = tmp_path / "old"  # a project.json written before models per project
    Project.create(old).close()
    manifest = json.loads((old / "project.json").read_text(encoding="utf-8"))
    del manifest["model"]
    (old / "project.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert Project.open(old).model == ""


def test_the_project_records_its_line_finder_and_older_projects_read_auto(tmp_path):
    project = Project.create(tmp_path / "p")
    assert project.segmenter == "auto"
    changes = []
    project.listeners.append(changes.append)
    project.set_segmenter("classical")
    assert [change.kind for change in changes] == ["segmenter"]
    with pytest.raises(ValueError, match="line finder must be one of"):
        project.set_segmenter("magic")
    assert project.segmenter == "classical"
    project.close()
    manifest_path = tmp_path / "p" / "project.json"
    assert json.loads(manifest_path.read_text(encoding="utf-8"))["segmenter"] == "classical"
    reopened = Project.open(tmp_path / "p")
    assert reopened.segmenter == "classical" and reopened.model == ""
    reopened.close()

    old = tmp_path / "old"  # a project.json written before line finders per project
    Project.create(old).close()
    manifest = json.loads((old / "project.json").read_text(encoding="utf-8"))
    del manifest["segmenter"]
    (old / "project.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert Project.open(old).segmenter == "auto"


def test_a_bad_line_finder_in_project_json_is_refused_or_read_as_auto(tmp_path, caplog):
    root = tmp_path / "p"
    Project.create(root).close()
    manifest = json.loads((root / "project.json").read_text(encoding="utf-8"))
    manifest["segmenter"] = ["classical"]  # not a name at all: refused, like a bad model
    (root / "project.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ProjectError, match="not a readable project file.*segmenter"):
        Project.open(root)

    manifest["segmenter"] = "neural-v9"  # a name this mspt does not know (a newer one may): auto, said
    (root / "project.json").write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level("WARNING", logger="mspt_core.project.folder"):
        assert Project.open(root).segmenter == "auto"
    assert "unknown line finder 'neural-v9'" in caplog.text


def test_the_projects_line_finders_are_those_segment_knows():
    from mspt_core.layout.segment import METHODS
    from mspt_core.project.folder import SEGMENTERS

    assert SEGMENTERS == METHODS

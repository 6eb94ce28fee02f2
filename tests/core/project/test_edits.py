"""Undoable edits: confidences after an edit, recognition results that meet a person's edits."""

from __future__ import annotations

from mspt_core.document import Line, LineStatus, Page, Region
from mspt_core.project import Editor, PageEntry, Project
from mspt_core.project.edits import realign_confidences


def test_typed_characters_count_as_certain_and_kept_ones_keep_their_doubt():
    assert realign_confidences("cat", [0.9, 0.2, 0.8], "cart") == [0.9, 0.2, 1.0, 0.8]
    assert realign_confidences("cat", None, "cart") is None


def test_recognition_results_skip_lines_corrected_meanwhile(tmp_path):
    import copy

    project = Project.create(tmp_path / "p")
    page = Page(
        50,
        50,
        id="0001",
        regions=[
            Region(
                "r", lines=[Line("a", polygon=[(0, 0), (9, 0), (9, 9)]), Line("b", polygon=[(0, 20), (9, 20), (9, 29)])]
            )
        ],
    )
    project._pages["0001"] = page
    project.entries.append(PageEntry("0001", "x.png", "page/x.xml"))
    editor = Editor(project)
    read = copy.deepcopy(page)  # what the worker reads while the person types
    for line in read.lines():
        line.text, line.status, line.confidence = "machine", LineStatus.RECOGNIZED, 0.5
    editor.set_text("0001", "a", "person")
    assert editor.apply_recognition("0001", read) == 1
    assert [(line.text, line.status) for line in page.lines()] == [
        ("person", LineStatus.CORRECTED),
        ("machine", LineStatus.RECOGNIZED),
    ]
    editor.undo()
    assert [line.text for line in page.lines()] == ["person", ""]


def test_a_model_change_and_its_re_reading_are_one_undo_step(tmp_path):
    import copy

    project = Project.create(tmp_path / "p")
    box = [(0, 0), (9, 0), (9, 9)]
    page = Page(50, 50, id="0001", regions=[Region("r", lines=[Line("a", polygon=box), Line("b", polygon=box)])])
    for line in page.lines():
        line.text, line.status, line.confidence = "old", LineStatus.RECOGNIZED, 0.5
    project._pages["0001"] = page
    project.entries.append(PageEntry("0001", "x.png", "page/x.xml"))
    editor = Editor(project)

    step = editor.set_model("my-hand")
    assert project.model == "my-hand" and editor.history.undo_label == "Use model my-hand"
    read = copy.deepcopy(page)  # the re-reading works on a copy ...
    editor.set_text("0001", "b", "typed meanwhile")  # ... while the person types
    for line in read.lines():
        line.text = "new"
    assert editor.apply_recognition("0001", read, into=step) == 1  # b is the person's now
    assert [line.text for line in page.lines()] == ["new", "typed meanwhile"]
    assert len(editor.history.done) == 2  # the model step and the typing: no step per page

    editor.undo()  # the typing
    editor.undo()  # the model and everything it re-read
    assert project.model == "" and [line.text for line in page.lines()] == ["old", "old"]
    editor.redo()
    assert project.model == "my-hand" and [line.text for line in page.lines()] == ["new", "old"]


def test_a_line_finder_change_is_one_undo_step(tmp_path):
    project = Project.create(tmp_path / "p")
    editor = Editor(project)
    step = editor.set_segmenter("classical")
    assert step is not None and editor.history.undo_label == "Use line finder classical"
    assert project.segmenter == "classical"
    assert editor.set_segmenter("classical") is None and len(editor.history.done) == 1  # no change, no step
    editor.undo()
    assert project.segmenter == "auto"
    editor.redo()
    assert project.segmenter == "classical"
    editor.undo()
    project.close()
    assert Project.open(tmp_path / "p").segmenter == "auto"  # the undo reached project.json


def test_undoing_a_segmentation_gives_back_the_imported_lines_as_given(tmp_path):
    # Whether mspt found a page's lines decides how they are cut for reading (layout.outline):
    # undoing "Segment page" on an imported page must make its lines given ones again, and the
    # saved page must say so after reopening.
    from mspt_core.layout.outline import lines_given

    project = Project.create(tmp_path / "p")
    imported = Line("given", polygon=[(0, 0), (40, 0), (40, 9), (0, 9)])
    page = Page(50, 50, id="0001", regions=[Region("r", lines=[imported])])
    project._pages["0001"] = page
    project.entries.append(PageEntry("0001", "x.png", "page/x.xml"))
    editor = Editor(project)
    found = Page(50, 50, regions=[Region("r1", lines=[Line("l1", polygon=[(0, 20), (40, 20), (40, 29), (0, 29)])])])
    found.metadata.update({"segmentation": "mspt learned", "skew_degrees": "0.00"})
    editor.replace_lines("0001", found)
    assert not lines_given(page) and page.metadata["skew_degrees"] == "0.00"
    editor.undo()
    assert [ln.id for ln in page.lines()] == ["given"] and lines_given(page)
    assert "skew_degrees" not in page.metadata
    editor.redo()
    assert not lines_given(page)
    project.save()
    project.close()
    assert not lines_given(Project.open(tmp_path / "p").page(0))

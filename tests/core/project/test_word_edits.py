"""Word boxes through a person's edits: a corrected letter keeps them, a changed word count
drops them (they no longer say where each word is), undo brings them back, recognition results
bring theirs, and a moved line point keeps them inside the line."""

from __future__ import annotations

import copy

from mspt_core.document import Line, LineStatus, Page, Region, Word, bbox, box_polygon, words_match
from mspt_core.project import Editor, PageEntry, Project


def _project(tmp_path) -> tuple[Project, Editor, Line]:
    project = Project.create(tmp_path / "p")
    line = Line(
        "a",
        polygon=box_polygon(0, 0, 100, 20),
        text="Tbe cat",
        confidence=0.4,
        char_confidences=[0.9, 0.4, 0.9, 1.0, 0.8, 0.8, 0.8],
        status=LineStatus.RECOGNIZED,
        words=[
            Word("a_w1", "Tbe", box_polygon(2, 1, 40, 19), 0.4),
            Word("a_w2", "cat", box_polygon(50, 1, 90, 19), 0.8),
        ],
    )
    project._pages["0001"] = Page(200, 50, id="0001", regions=[Region("r", lines=[line])])
    project.entries.append(PageEntry("0001", "x.png", "page/x.xml"))
    return project, Editor(project), line


def test_correcting_letters_keeps_the_word_boxes_and_undo_gives_them_back(tmp_path):
    project, editor, line = _project(tmp_path)
    editor.set_text("0001", "a", "The cat")
    assert words_match(line)
    assert [(w.text, w.polygon, w.confidence) for w in line.words] == [
        ("The", box_polygon(2, 1, 40, 19), 0.9),  # the typed letter counts as certain
        ("cat", box_polygon(50, 1, 90, 19), 0.8),
    ]
    editor.set_text("0001", "a", "The black cat")
    assert line.words == []
    editor.undo()  # both typings were one step
    assert line.text == "Tbe cat" and [w.text for w in line.words] == ["Tbe", "cat"]
    assert line.words[0].confidence == 0.4


def test_recognition_brings_its_words_and_undo_takes_them_away(tmp_path):
    project, editor, line = _project(tmp_path)
    line.words = []
    read = copy.deepcopy(project.page_by_id("0001"))
    read.regions[0].lines[0].words = [Word("a_w1", "Tbe", box_polygon(2, 1, 40, 19), 0.4)]
    editor.apply_recognition("0001", read)
    assert [w.text for w in line.words] == ["Tbe"]
    editor.undo()  # puts back a copy of the page's lines
    assert project.page_by_id("0001").regions[0].lines[0].words == []


def test_moving_a_point_keeps_the_words_inside_the_line(tmp_path):
    project, editor, line = _project(tmp_path)
    editor.set_polygon("0001", "a", box_polygon(0, 0, 70, 20))
    assert [bbox(w.polygon) for w in line.words] == [(2, 1, 40, 19), (50, 1, 70, 19)]
    editor.set_polygon("0001", "a", box_polygon(0, 0, 45, 20))  # "cat" would have no box left
    assert line.words == []

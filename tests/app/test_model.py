"""The pure parts under the widgets: line geometry, undo history, confidences after edits,
settings, the sample project."""

from __future__ import annotations

from mspt_app import geometry
from mspt_app.edits import Editor, realign_confidences
from mspt_app.project import Project
from mspt_core.document import Line, LineStatus, Page, Region


def test_typed_characters_count_as_certain_and_kept_ones_keep_their_doubt():
    assert realign_confidences("cat", [0.9, 0.2, 0.8], "cart") == [0.9, 0.2, 1.0, 0.8]
    assert realign_confidences("cat", None, "cart") is None


def test_split_then_merge_gives_back_the_line():
    line = Line(
        "l1",
        polygon=[(0, 0), (100, 0), (100, 20), (0, 20)],
        baseline=[(0, 16), (100, 16)],
        text="ab cd",
        char_confidences=[0.9, 0.8, 1.0, 0.7, 0.6],
        status=LineStatus.RECOGNIZED,
    )
    right = geometry.split(line, 2, "l2")
    assert (line.text, right.text) == ("ab", "cd")
    assert right.char_confidences == [0.7, 0.6] and right.confidence == 0.6
    assert geometry.bbox(line.polygon)[2] == geometry.bbox(right.polygon)[0] == 40
    geometry.merge_into(line, right)
    assert line.text == "ab cd" and line.char_confidences == [0.9, 0.8, 1.0, 0.7, 0.6]
    assert geometry.bbox(line.polygon) == (0, 0, 100, 20)


def test_merging_a_corrected_line_keeps_it_from_recognition():
    a = Line("a", polygon=[(0, 0), (10, 0), (10, 10), (0, 10)], text="x", status=LineStatus.CORRECTED)
    b = Line("b", polygon=[(30, 0), (40, 0), (40, 10), (30, 10)], text="y", status=LineStatus.RECOGNIZED)
    geometry.merge_into(a, b)
    assert a.status == LineStatus.CORRECTED and geometry.bbox(a.polygon) == (0, 0, 40, 10)


def test_moving_a_line_crosses_region_boundaries():
    page = Page(100, 100, regions=[Region("r1", lines=[Line("a"), Line("b")]), Region("r2", lines=[Line("c")])])
    geometry.move_in_order(page, "b", 1)
    assert [[l.id for l in r.lines] for r in page.regions] == [["a"], ["c", "b"]]
    geometry.move_in_order(page, "c", -1)
    assert [l.id for l in page.lines()] == ["c", "a", "b"]


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
    from mspt_app.project import PageEntry

    project.entries.append(PageEntry("0001", "x.png", "page/x.xml"))
    editor = Editor(project)
    read = copy.deepcopy(page)  # what the worker reads while the person types
    for line in read.lines():
        line.text, line.status, line.confidence = "machine", LineStatus.RECOGNIZED, 0.5
    editor.set_text("0001", "a", "person")
    assert editor.apply_recognition("0001", read) == 1
    assert [(l.text, l.status) for l in page.lines()] == [
        ("person", LineStatus.CORRECTED),
        ("machine", LineStatus.RECOGNIZED),
    ]
    editor.undo()
    assert [l.text for l in page.lines()] == ["person", ""]


def test_settings_round_trip(settings, tiny_model):
    from PySide6.QtCore import QSettings

    from mspt_app.settings import AppSettings, palette_characters

    settings.device = "cuda"
    settings.line_height = 64
    again = AppSettings(QSettings(settings.store.fileName(), QSettings.Format.IniFormat))
    assert (again.device, again.line_height, again.model) == ("cuda", 64, str(tiny_model))
    assert "\u0301" in palette_characters(again.palette) and "ſ" in palette_characters(again.palette)


def test_settings_dialog_applies_choices(qtbot, settings):
    from mspt_app.widgets.dialogs import SettingsDialog

    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.device.setCurrentText("cpu")
    dialog.line_height.setValue(40)
    dialog.palette.setText("ſ ꝑ")
    dialog.apply()
    assert (settings.device, settings.line_height, settings.palette) == ("cpu", 40, "ſ ꝑ")


def test_sample_project_is_made_once(tmp_path, monkeypatch, fondue_page):
    import mspt_app.sample as sample

    monkeypatch.setattr(sample, "SAMPLE_IMAGE", fondue_page)
    folder = sample.sample_project(tmp_path / "sample")
    project = Project.open(folder)
    assert len(project) == 1 and project.entries[0].source == str(fondue_page)
    project.close()
    assert sample.sample_project(tmp_path / "sample") == folder

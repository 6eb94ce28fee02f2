"""Issue 16, problems 7 and 8, through the window: the export's folder one click away and the
PDF's metadata from the project; page names cut in the middle with the whole name in the
tooltip; line images at one scale; baselines drawn; "edits were recovered" only when some
were; no "correct the input" advice for a project that is merely open elsewhere."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
from PySide6.QtWidgets import QMessageBox

from mspt_app.widgets.dialogs import advice_for
from mspt_core import __version__
from mspt_core.document import box_polygon
from mspt_core.project import Project, ProjectInUseError
from mspt_core.project.folder import LOCK_FILE
from mspt_core.project.journal import JOURNAL_FILE
from tests.core.project.test_folder import _hold_in_another_process

# --- 7. exports ----------------------------------------------------------------------------------


def test_after_an_export_its_folder_is_one_click_away(qtbot, window, small_export, tmp_path, monkeypatch):
    window.new_project(tmp_path / "p", "Letters 1905")
    window.add_pages([small_export])
    assert not window.open_export_button.isVisible()
    opened = []
    monkeypatch.setattr(window, "open_folder", opened.append)  # the file manager stays shut
    written = window.export([0], ["pdf", "alto"], tmp_path / "out")
    assert window.open_export_button.isVisible()
    window.open_export_button.click()
    assert opened == [tmp_path / "out"]

    pdf = pdfium.PdfDocument(next(p for p in written if p.suffix == ".pdf"))
    meta = pdf.get_metadata_dict()
    assert meta["Title"] == "Letters 1905" and meta["Producer"] == f"mspt {__version__}"
    assert meta["Author"] != "anonymous" and meta["CreationDate"][2:10] == dt.date.today().strftime("%Y%m%d")
    pdf.close()


# --- 8. smaller things ----------------------------------------------------------------------------


def test_a_long_page_name_is_cut_in_the_middle_and_whole_in_its_tooltip(qtbot, window, fondue_page, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    stem = "Bibliotheque_municipale_fonds_ancien_manuscrit_1234_volume_2_folio_017_recto"
    shutil.copy(fondue_page, folder / f"{stem}.png")
    window.new_project(tmp_path / "p")
    window.add_pages([folder / f"{stem}.png"])
    item = window.page_list.item(0)
    name = f"1. {Path(window.project.entries[0].image).stem}"  # the project's copy: 0001-Bibliotheque…
    assert stem in name
    first, progress = item.text().split("\n")
    assert "…" in first and first.startswith("1. 0001-B") and first.endswith("recto")
    assert window.page_list.fontMetrics().horizontalAdvance(first) <= window.page_list.text_width()
    assert progress.endswith("corrected")
    assert name in item.toolTip()
    window.page_list.resize(window.page_list.width() + 600, window.page_list.height())  # room: whole again
    assert window.page_list.item(0).text().split("\n")[0] == name


def _width_scales(window) -> list[float]:
    """Shown crop width per page pixel of line width, per line of the current page."""
    page = window.project.page(window.page_index)
    scales = []
    for line in page.lines():
        row = window.panel.rows[line.id]
        x0, _, x1, _ = line.bbox()
        scales.append(row.image.pixmap().width() / (x1 - x0))
    return scales


def test_line_images_are_drawn_at_one_scale(qtbot, window, small_export, tmp_path):
    window.new_project(tmp_path / "p")
    window.add_pages([small_export])
    page = window.project.page(0)
    first = next(page.lines())
    x0, y0, x1, y1 = first.bbox()
    first.polygon = box_polygon(x0, y0 - 0.8 * (y1 - y0), x1, y1)  # a line drawn much taller
    first.baseline = []
    window.show_page(0)
    qtbot.wait(50)
    scales = _width_scales(window)
    assert max(scales) / min(scales) < 1.06, scales  # each line normalized to one height: 1.5
    window.panel.resize(200, window.panel.height())  # narrower than the lines: all shrink alike
    qtbot.wait(50)
    narrow = _width_scales(window)
    assert max(narrow) < max(scales) and max(narrow) / min(narrow) < 1.06, narrow


def test_baselines_are_drawn_on_the_page(qtbot, window, small_export, tmp_path):
    window.new_project(tmp_path / "p")
    window.add_pages([small_export])
    page = window.project.page(0)
    for line in page.lines():
        item = window.page_view.line_items[line.id].baseline
        assert item is not None and item.isVisible()
        path = item.path()
        points = [(path.elementAt(i).x, path.elementAt(i).y) for i in range(path.elementCount())]
        assert points == [(float(x), float(y)) for x, y in line.baseline]


def test_recovered_edits_are_announced_only_when_there_were_some(qtbot, window, small_export, tmp_path):
    project = Project.create(tmp_path / "p")
    project.add_files([small_export])
    project.save()
    project.close()
    (project.root / LOCK_FILE).write_text(json.dumps({"pid": 1}))  # a session that died, nothing unsaved
    assert window.open_project(project.root) is not None
    assert window.project.recovered and window.project.recovered_edits == 0
    assert "recovered" not in window.status_label.text()
    line = next(window.project.page(0).lines())
    window.project.close()
    window.project = None

    record = {"page": project.entries[0].id, "line": line.id, "text": "typed, then a crash", "status": "corrected"}
    (project.root / JOURNAL_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
    (project.root / LOCK_FILE).write_text(json.dumps({"pid": 1}))
    assert window.open_project(project.root) is not None
    assert "1 line edits were recovered" in window.status_label.text()


def test_a_project_open_elsewhere_gets_no_advice_about_its_input(qtbot, window, tmp_path):
    project = Project.create(tmp_path / "p")
    project.close()
    holder = _hold_in_another_process(project.root / LOCK_FILE)
    try:
        assert window.open_project(project.root) is None
    finally:
        holder.communicate("")
    box = next(w for w in window.findChildren(QMessageBox) if w.objectName() == "errorDialog")
    assert "already open in another mspt window" in box.text()
    assert "input" not in box.informativeText() and "other mspt window" in box.informativeText()
    assert "Correct the input" not in advice_for(ProjectInUseError("x: already open"))

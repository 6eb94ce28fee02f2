"""The adapt wizard (Training ▸ Adapt to my pages without corrections): the bundled print model
adapts to the lines nobody corrected of two real pages, learning from its own surest readings
in a run of its own, and the new model can then re-read those pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mspt_app.widgets.reread import RereadDialog
from mspt_core.data.lines import lines_from_page_xml
from mspt_core.document import LineStatus
from mspt_core.models import list_models, read_metadata
from tests.app.test_wizards import RUN_TIMEOUT, click


@pytest.fixture
def partly_corrected(window, small_train_export, tmp_path):
    """Two real pages: on the first, all but two lines read by a model and never checked; the
    second corrected throughout (nothing to adapt to there)."""
    window.new_project(tmp_path / "project")
    window.add_pages([small_train_export])
    page = window.project.page(0)
    for line in list(page.lines())[2:]:
        line.status = LineStatus.RECOGNIZED
    window.project.changed(page.id)
    return window


def test_the_adapt_wizard_adapts_to_the_uncorrected_lines_and_offers_to_read_them_again(qtbot, partly_corrected):
    window = partly_corrected
    uncorrected = sum(line.status != LineStatus.CORRECTED for line in window.project.page(0).lines())
    wizard = window.training.open_adapt_wizard("default")
    pages = wizard.pages_page
    assert pages.base() == "default" and pages.chosen_pages() == [0]
    second = pages.pages.item(1)
    assert "every line corrected" in second.text() and not second.flags() & Qt.ItemFlag.ItemIsEnabled
    assert f"({uncorrected} lines not corrected)" in pages.pages.item(0).text()
    pages.pages.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not pages.isComplete()  # no page to adapt to
    pages.pages.item(0).setCheckState(Qt.CheckState.Checked)
    wizard.next()
    s = wizard.settings_page
    assert s.steps.value() == 600 and s.share.value() == 0.5  # the self-training preset's
    s.name.setText("adapted letters")
    s.steps.setValue(2)
    s.advanced_toggle.setChecked(True)
    s.batch.setValue(2)
    wizard.next()
    summary = wizard.summary_page.text()
    assert f"{uncorrected} lines nobody corrected, on 1 page(s)" in summary and "2 steps of 2 lines" in summary
    assert "the last weights" in summary and wizard.watcher is None  # nothing runs yet
    assert "adapting was measured on 40 or more" in summary  # said before the run, and again on its page
    wizard.next()
    view, watcher = wizard.run_page.view, wizard.watcher
    assert watcher.spec.kind == "adapt" and watcher.spec.share == 0.5
    # The run reads a snapshot of the uncorrected lines, not the live project.
    snapshot = [lines_from_page_xml(Path(p), 40, require_text=False) for p in watcher.spec.train]
    assert sum(len(lines) for lines in snapshot) == uncorrected
    qtbot.waitUntil(lambda: watcher.state == "finished", timeout=RUN_TIMEOUT)

    result = watcher.result
    learned = round(0.5 * uncorrected)
    assert result["model"] == "adapted letters" and result["adapted"] and result["learned_lines"] == learned
    assert f"its surest {learned} readings of {uncorrected} lines" in view.outcome_label.text()
    assert view.cer_plot.isHidden()  # nothing corrected to validate on: no CER curve to leave empty
    assert uncorrected < 40 and "adapting was measured on 40 or more" in view.warning_label.text()
    installed = {entry.name: entry for entry in list_models()}
    assert read_metadata(installed["adapted letters"].path)["provenance"]["train_lines"] == learned

    click(qtbot, view.use_button)
    dialog = window.training.open_dialogs[-1]
    # The page adapted to is the one to read again: ticked, not set aside as "trained on".
    assert isinstance(dialog, RereadDialog) and dialog.chosen() == [0]
    assert "(trained on)" not in dialog.pages.item(0).text()
    dialog.close()


def test_without_a_project_the_adapt_wizard_says_what_to_do(window):
    assert window.training.open_adapt_wizard() is None
    assert "Open a project first" in window.status_label.text()


def test_the_adapt_wizard_offers_only_models_that_read_and_says_when_the_projects_is_not_one(
    partly_corrected, monkeypatch
):
    from mspt_app.widgets import adapt_wizard
    from mspt_core.models import ModelEntry

    listed = list_models()
    encoder = ModelEntry("archive-encoder", listed[0].path, False, {"kind": "encoder"})
    monkeypatch.setattr(adapt_wizard, "list_models", lambda: [*listed, encoder])
    wizard = partly_corrected.training.open_adapt_wizard("archive-encoder")
    pages = wizard.pages_page
    offered = [pages.models.item(r).data(Qt.ItemDataRole.UserRole) for r in range(pages.models.count())]
    assert "archive-encoder" not in offered and offered == [entry.name for entry in listed]
    assert pages.base() == offered[0] and not pages.note.isHidden()
    assert f"“archive-encoder” is not among these models: “{offered[0]}” is chosen instead" in pages.note.text()
    pages.models.setCurrentRow(1)
    assert pages.note.isHidden()  # the person chose: the note no longer speaks of the first row
    wizard.close()
    wizard = partly_corrected.training.open_adapt_wizard("default")
    assert wizard.pages_page.base() == "default" and wizard.pages_page.note.isHidden()
    wizard.close()

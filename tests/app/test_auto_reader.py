"""The automatic reader in the app: what reads a project that chose no model, how it is named in
the toolbar, and which bundled model the fine-tune wizard starts from for such a project."""

from __future__ import annotations

import pytest

from mspt_core import choose
from mspt_core.document import LineStatus
from mspt_core.metrics import cer
from tests.app.test_workflow import wait_for_task
from tests.conftest import _halved_export


@pytest.fixture
def automatic(window):
    """The window with no model set anywhere: what a fresh install reads with."""
    if not choose.available():
        pytest.skip("the bundled automatic reader is not installed here")
    window.settings.model = ""
    return window


def test_a_project_without_a_model_is_read_by_auto(qtbot, automatic, small_export, tmp_path, monkeypatch):
    from mspt_app import workers

    window = automatic
    window.new_project(tmp_path / "auto")
    window.add_pages([small_export])
    page = window.project.page(0)
    truth = [line.text for line in page.lines()]
    for line in page.lines():  # the export's transcriptions are kept by recognition: read afresh
        line.text, line.status = "", LineStatus.UNRECOGNIZED
    window.project.changed(page.id)
    chooser = window.model_chooser
    assert chooser.currentData() == "" and "auto" in chooser.currentText()
    assert chooser.findData("auto") >= 0  # can also be chosen by name
    readers = []
    load = workers.load_reader

    choices, reread = [], []

    def spy(model, device):
        reader = load(model, device)
        if isinstance(reader, choose.ChoosingReader) and not readers:
            read = reader.read

            def read_and_note(images):  # the app feeds a few lines at a time: note every call's choices
                readings = read(images)
                choices.extend(reader.last_choices)
                reread.extend(reader.last_reread)
                return readings

            monkeypatch.setattr(reader, "read", read_and_note)
        readers.append(reader)
        return reader

    monkeypatch.setattr(workers, "load_reader", spy)
    window.act_recognize.trigger()
    wait_for_task(qtbot, window)
    assert isinstance(readers[0], choose.ChoosingReader)
    texts = [line.text for line in window.project.page(0).lines()]
    assert cer(truth, texts) < 0.05  # half-size printed page, read
    assert len(choices) == len(truth)  # every line went through the automatic reader
    # printed lines stay with the print model (all but one at most), and few of them are handed
    # over for being read unsurely
    assert choices.count(choose.HANDWRITING) - len(reread) <= 1
    assert len(reread) <= len(truth) // 4, (len(reread), len(truth))


@pytest.mark.parametrize(("which", "base"), [("fondue", "default"), ("cremma", "handwriting")])
def test_fine_tuning_an_auto_project_starts_from_the_bundled_model_for_its_script(
    automatic, which, base, request, tmp_path_factory
):
    window = automatic
    pages = _halved_export(request.getfixturevalue(which), "val", tmp_path_factory.mktemp(which))
    window.new_project(tmp_path_factory.mktemp("project") / which)
    window.add_pages([pages])
    wizard = window.training.open_finetune_wizard()
    try:
        assert wizard.base_page.base() == base
    finally:
        wizard.close()


@pytest.mark.parametrize(("unsure_below", "base"), [(0.0, "default"), (1.0, "handwriting")])
def test_the_base_is_the_model_whose_readings_auto_keeps_for_most_lines(
    automatic, unsure_below, base, fondue, tmp_path_factory, monkeypatch
):
    """Printed lines the print model reads unsurely are the handwriting model's under ``auto``,
    so a project of them is fine-tuned from the handwriting model (at 1 every reading not wholly
    sure counts as unsure, at 0 none does)."""
    window = automatic
    pages = _halved_export(fondue, "val", tmp_path_factory.mktemp("fondue"))
    window.new_project(tmp_path_factory.mktemp("project") / "unsure")
    window.add_pages([pages])
    load = choose.load_classifier

    def with_unsure_below(path):
        classifier = load(path)
        classifier.unsure_below = unsure_below
        return classifier

    monkeypatch.setattr(choose, "load_classifier", with_unsure_below)
    assert choose.preferred_base(window.project) == base

"""Safe fine-tuning in the app (issue 16): a fine-tune that never beats its base keeps the base
and the run page says so, offering no "new model"; using a new model re-reads only the pages the
person ticks (the pages it was trained on start unticked), never a corrected line, as one undo
step, and changes the model of this project only."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt

from mspt_core.document import LineStatus
from mspt_core.models import import_model
from mspt_core.train.runspec import RunSpec
from mspt_core.train.supervised import KEPT_BASE
from tests.app.test_wizards import RUN_TIMEOUT, corrected_project, model_rows  # noqa: F401  (a fixture)
from tests.app.test_workflow import wait_for_task


def test_a_finetune_that_never_beats_its_base_keeps_the_base_and_says_so(qtbot, corrected_project):  # noqa: F811
    window = corrected_project
    wizard = window.training.open_finetune_wizard("default")
    wizard.next()
    wizard.next()
    s = wizard.settings_page
    s.name.setText("wrecked")
    s.steps.setValue(2)
    s.advanced_toggle.setChecked(True)
    s.lr.setValue(1.0)  # absurd: the first step ruins the model
    s.warmup.setValue(0)
    s.batch.setValue(2)
    s.val_every.setValue(2)
    s.augment.setChecked(False)
    wizard.next()
    wizard.next()
    view, watcher = wizard.run_page.view, wizard.watcher
    qtbot.waitUntil(lambda: watcher.state == "finished", timeout=RUN_TIMEOUT)

    result = watcher.result
    assert result["kept_base"] and result["model"] is None and result["base"] == "default"
    assert result["base_cer"] < result["new_cer"]
    text = view.outcome_label.text()
    assert "No improvement over the base model: keeping the base" in text and "“default” stays" in text
    assert f"base model: {100 * result['base_cer']:.2f}%" in text and f"{100 * result['new_cer']:.2f}%" in text
    assert KEPT_BASE in view.message_label.text()
    assert view.use_button.isHidden() and view.base_line.isVisible()
    assert "wrecked" not in model_rows(window)  # no copy of the base under the new name
    assert window.project.model == ""
    runs_list = window.training.open_runs()
    assert "no improvement: the base model stays" in runs_list.list.item(0).text()
    runs_list.close()


def _texts(window, index):
    return [(line.text, line.status) for line in window.project.page(index).lines()]


def test_the_new_model_re_reads_only_the_ticked_pages_as_one_undo_step(qtbot, read, tiny_model):
    window = read
    import_model(tiny_model, "my-hand")
    first = window.panel.order[0]
    window.focus_line(first)
    window.act_confirm.trigger()  # a line the person checked on page 1: never re-read
    before = [_texts(window, 0), _texts(window, 1)]
    steps = len(window.editor.history.done)
    default = window.settings.model
    trained = window.project.entries[0].id
    spec = RunSpec(kind="finetune", name="my-hand", base="default", project=str(window.project.root))
    spec.project_pages = [trained]

    dialog = window.training.use_model("my-hand", spec)
    rows = [dialog.pages.item(r).text() for r in range(dialog.pages.count())]
    assert "(trained on)" in rows[0] and "(trained on)" not in rows[1]
    assert dialog.chosen() == [1]  # the page it did not learn from
    assert window.project.model == ""  # nothing happens before the person says which pages
    dialog.ok_button.click()
    wait_for_task(qtbot, window)

    after = [_texts(window, 0), _texts(window, 1)]
    assert after[0] == before[0]  # the unticked page is untouched
    assert all(b != a for b, a in zip(before[1], after[1], strict=True))  # every uncorrected line of page 2
    assert window.project.model == "my-hand" and window.settings.model == default
    saved = json.loads((window.project.root / "project.json").read_text(encoding="utf-8"))
    assert saved["model"] == "my-hand"
    assert len(window.editor.history.done) == steps + 1

    window.undo()
    assert [_texts(window, 0), _texts(window, 1)] == before and window.project.model == ""
    window.redo()
    assert [_texts(window, 0), _texts(window, 1)] == after and window.project.model == "my-hand"

    # Ticking the trained-on page too: its corrected line stays as the person left it.
    window.undo()
    dialog = window.training.use_model("my-hand", spec)
    dialog.pages.item(0).setCheckState(dialog.pages.item(1).checkState())
    assert dialog.chosen() == [0, 1]
    dialog.ok_button.click()
    wait_for_task(qtbot, window)
    page_1 = _texts(window, 0)
    assert page_1[0] == before[0][0] == ("line 0", LineStatus.CORRECTED)
    assert all(b != a for b, a in zip(before[0][1:], page_1[1:], strict=True))


def test_pages_with_nothing_left_to_read_cannot_be_ticked(read, tiny_model):
    window = read
    import_model(tiny_model, "my-hand")
    page = window.project.page(1)
    for line in page.lines():
        line.status = LineStatus.CORRECTED
    window.project.changed(page.id)
    dialog = window.training.use_model("my-hand")  # no run: no page was trained on
    assert dialog.chosen() == [0]
    done = dialog.pages.item(1)
    assert "no uncorrected line" in done.text() and not done.flags() & Qt.ItemFlag.ItemIsEnabled
    dialog.all_button.click()  # leaves it out
    assert dialog.chosen() == [0]
    dialog.reject()
    assert window.project.model == ""

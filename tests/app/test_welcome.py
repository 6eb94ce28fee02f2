"""First run: with no project to open, the welcome panel offers the sample project, a new or an
existing project and the tour, and says whether a GPU was found; "don't show again" is kept; the
tour names real menu entries."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QToolBar

from mspt_app.main import open_at_start
from mspt_app.settings import AppSettings
from mspt_app.widgets import dialogs
from mspt_app.widgets.welcome import TOUR, TourDialog, WelcomeDialog, find_action, menu_path, plain
from mspt_core.project import Project
from mspt_core.project.sample import projects_dir


def shown_welcome(window) -> WelcomeDialog | None:
    found = [d for d in window.findChildren(WelcomeDialog) if d.isVisible()]
    return found[0] if found else None


def test_a_first_start_offers_the_welcome_and_the_sample_opens_from_it(qtbot, window):
    assert window.settings.recent_projects == [] and window.settings.show_welcome
    open_at_start(window)
    welcome = shown_welcome(window)
    assert welcome is not None and window.project is None
    assert welcome.sample_button.isEnabled() and welcome.sample_button.isDefault()

    qtbot.mouseClick(welcome.sample_button, Qt.MouseButton.LeftButton)
    assert shown_welcome(window) is None
    assert window.project is not None and window.project.root == (projects_dir() / "sample").resolve()
    assert window.page_list.count() == len(window.project) == 1
    assert window.panel.order  # the sample page comes with its lines found
    # Closing the panel without ticking the box keeps the offer for next time.
    assert window.settings.show_welcome


def test_the_welcome_is_keyboard_driven(qtbot, window):
    open_at_start(window)
    welcome = shown_welcome(window)
    qtbot.waitUntil(welcome.sample_button.hasFocus)  # Enter or Space opens the sample
    qtbot.keyClick(welcome, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)  # Take the &tour
    # A mnemonic clicks its button after a short flash.
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(TourDialog)))
    assert not welcome.isVisible()


def test_dont_show_again_is_remembered(qtbot, window, settings):
    open_at_start(window)
    welcome = shown_welcome(window)
    welcome.dont_show.setChecked(True)
    qtbot.keyClick(welcome, Qt.Key.Key_Escape)
    assert not welcome.isVisible()
    again = AppSettings(QSettings(settings.store.fileName(), QSettings.Format.IniFormat))
    assert again.show_welcome is False

    open_at_start(window)  # the next start, with nothing to open
    assert shown_welcome(window) is None
    assert "File menu" in window.status_label.text() and window.project is None
    # Help ▸ Welcome still shows it, with the box ticked, and unticking it brings the offer back.
    window.act_welcome.trigger()
    welcome = shown_welcome(window)
    assert welcome is not None and welcome.dont_show.isChecked()
    welcome.dont_show.setChecked(False)
    welcome.reject()
    assert settings.show_welcome is True


def test_no_welcome_with_a_project_on_the_command_line_or_with_sample(qtbot, window, tmp_path):
    Project.create(tmp_path / "letters", "Letters").close()
    open_at_start(window, str(tmp_path / "letters"))
    assert window.project is not None and window.project.name == "Letters"
    assert shown_welcome(window) is None

    window.close_project()
    open_at_start(window, sample=True)
    assert window.project is not None and window.project.root == (projects_dir() / "sample").resolve()
    assert shown_welcome(window) is None

    # With a project remembered from last time, that one opens, not the welcome.
    window.close_project()
    window.settings.add_recent(tmp_path / "letters")
    open_at_start(window)
    assert window.project is not None and window.project.name == "Letters"
    assert shown_welcome(window) is None


def test_new_and_open_from_the_welcome(qtbot, window, tmp_path, monkeypatch):
    open_at_start(window)
    qtbot.mouseClick(shown_welcome(window).new_button, Qt.MouseButton.LeftButton)
    new = window.findChild(dialogs.NewProjectDialog)
    assert new is not None and new.isVisible() and shown_welcome(window) is None
    new.reject()

    Project.create(tmp_path / "ledger", "Ledger").close()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "ledger"))
    window.act_welcome.trigger()
    qtbot.mouseClick(shown_welcome(window).open_button, Qt.MouseButton.LeftButton)
    assert window.project is not None and window.project.name == "Ledger"


def test_the_welcome_says_the_about_boxs_gpu_sentence(qtbot, window):
    open_at_start(window)
    sentence = shown_welcome(window).gpu_label.text()
    assert sentence.startswith(("GPU found:", "No GPU"))
    assert sentence in dialogs.about_text()
    if sentence.startswith("No GPU in use"):  # what to install is said
        assert "pip install torch" in sentence


def test_the_tour_walks_every_step_through_real_menu_entries(qtbot, window):
    window.act_tour.trigger()
    (tour,) = [d for d in window.findChildren(TourDialog) if d.isVisible()]
    toolbar = window.findChild(QToolBar, "tools")
    assert not tour.back_button.isEnabled()
    seen = []
    while True:
        step = TOUR[tour.index]
        assert tour.title.text() == step.title and f"{tour.index + 1} of {len(TOUR)}" in tour.counter.text()
        lit = [button for button, _ in tour.highlighted]
        for name in step.actions:
            action = find_action(window, name)
            path = menu_path(window, action)  # a real entry of the window's menus
            assert path is not None and path.endswith(plain(action.text()))
            assert path in tour.where.text()
            if action in toolbar.actions():
                assert toolbar.widgetForAction(action) in lit
        seen.append(tour.index)
        if not tour.next_button.isEnabled():
            break
        qtbot.keyClick(tour, Qt.Key.Key_Return)  # Enter goes on
    assert seen == list(range(len(TOUR)))
    assert tour.close_button.isDefault()
    names = [name for step in TOUR for name in step.actions]
    assert {"act_add", "act_recognize", "act_confirm", "training.act_finetune", "act_export"} <= set(names)

    button = toolbar.widgetForAction(window.act_recognize)
    assert not button.styleSheet()
    while tour.index > 1:
        qtbot.mouseClick(tour.back_button, Qt.MouseButton.LeftButton)
    assert tour.title.text() == "Find and read the lines" and button.styleSheet()  # Recognize is lit
    tour.reject()
    assert not button.styleSheet()  # closing the tour puts the toolbar back as it was


def test_the_tour_from_the_welcome_comes_back_to_it(qtbot, window):
    open_at_start(window)
    welcome = shown_welcome(window)
    qtbot.mouseClick(welcome.tour_button, Qt.MouseButton.LeftButton)
    (tour,) = [d for d in window.findChildren(TourDialog) if d.isVisible()]
    qtbot.keyClick(tour, Qt.Key.Key_Escape)
    assert shown_welcome(window) is welcome


def test_a_remembered_project_that_cannot_be_opened_says_so_then_offers_the_welcome(
    qtbot, window, tmp_path, monkeypatch
):
    shown = []
    monkeypatch.setattr(dialogs, "show_error", lambda parent, what, error, details="": shown.append(what))
    (tmp_path / "emptied").mkdir()  # its project.json lost: not a project any more
    window.settings.add_recent(tmp_path / "emptied")
    open_at_start(window)
    assert shown and window.project is None
    welcome = shown_welcome(window)
    assert welcome is not None
    welcome.close()

"""How packaging/default_model/language_model.py chooses a model's language-model weights: the
grid search over alpha, beta and the penalty per word its word list does not hold widens past any
edge its best lies on, so a model whose best weights lie outside the first grid (the handwriting
model's did) still gets them. It and reading_settings.py refuse what they cannot choose with
before any work."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location(
        "language_model_script", REPO / "packaging/default_model/language_model.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bowl(best_alpha: float, best_beta: float, best_unknown_word: float, calls: list):
    def mean_cer(alpha: float, beta: float, unknown_word: float) -> float:
        calls.append((alpha, beta, unknown_word))
        return (
            (alpha - best_alpha) ** 2 + 0.1 * (beta - best_beta) ** 2 + 0.01 * (unknown_word - best_unknown_word) ** 2
        )

    return mean_cer


def test_the_grid_widens_past_the_edge_its_best_lies_on():
    script = load_script()
    calls: list = []
    scores = script.grid_search(bowl(0.7, 0.0, -2.5, calls))
    assert min(scores, key=scores.__getitem__) == (0.7, 0.0, -2.5)
    assert max(alpha for alpha, _, _ in scores) == 0.8  # one step past the best, to see it is one
    assert min(unknown for _, _, unknown in scores) == -3.0
    assert len(calls) == len(set(calls)) == len(scores)  # every triple read once


def test_a_best_inside_the_first_grid_needs_no_more_readings():
    script = load_script()
    calls: list = []
    scores = script.grid_search(bowl(0.3, 1.5, -1.0, calls))
    assert min(scores, key=scores.__getitem__) == (0.3, 1.5, -1.0)
    assert len(calls) == len(script.ALPHAS) * len(script.BETAS) * len(script.UNKNOWN_WORDS)


def test_the_grid_stops_at_its_bounds():
    script = load_script()
    scores = script.grid_search(bowl(5.0, -3.0, -9.0, []))
    assert min(scores, key=scores.__getitem__) == (
        script.ALPHA_BOUNDS[1],
        script.BETA_BOUNDS[0],
        script.UNKNOWN_WORD_BOUNDS[0],
    )
    # a word list that only hurts is left unused: no bonus for the words it holds
    scores = script.grid_search(bowl(0.3, 1.5, 2.0, []))
    assert min(scores, key=scores.__getitem__) == (0.3, 1.5, 0.0)


@pytest.mark.parametrize(
    "arguments",
    [
        ["--search", "0", "0.01"],
        ["--search", "2.5", "0.01"],
        ["--search", "inf", "0.01"],
        ["--search", "8", "1"],
        ["--fusion", "-0.5", "1"],
        ["--fusion", "0.4"],
        ["--fusion", "0.4", "1", "0.5"],
        ["--fusion", "0.4", "1", "-1", "-2"],
    ],
)
def test_a_search_or_fusion_that_cannot_be_read_with_is_refused_before_any_work(arguments):
    script = REPO / "packaging/default_model/language_model.py"
    done = subprocess.run([sys.executable, str(script), *arguments], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert f"error: {arguments[0]} needs" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "script, arguments",
    [("language_model.py", []), ("reading_settings.py", ["width_scale"])],
)
def test_a_crop_style_the_product_does_not_read_is_refused_before_any_work(script, arguments):
    # Reading choices are made on lines cut as mspt cuts them ("finder") or as the ground truth
    # outlines them ("polygon"); a box crop would choose for lines mspt never reads.
    path = REPO / "packaging/default_model" / script
    done = subprocess.run(
        [sys.executable, str(path), *arguments, "--crop", "box"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "--crop: invalid choice: 'box'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_word_broken_at_a_line_end_goes_into_the_word_list_whole():
    # gallicorpora-17's printer breaks words with ¬ ("remar¬" / "queront"): the list must learn
    # "remarqueront", not two halves that would let the search read a half as a word
    from mspt_core.charlm import Lexicon, text_words
    from tests.conftest import DATA, _require

    _require(DATA / "gallicorpora-print-17-fr")
    lexicon = Lexicon(load_script().train_words())
    assert lexicon.knows("remarqueront") and lexicon.knows("paſſions") and lexicon.knows("s’approcher")
    assert not lexicon.knows("remar") and not lexicon.knows("queront")
    assert text_words(["le commen-", "", "cement du mon=", "de."]) == ["le", "commencement", "du", "monde."]
    assert text_words(["la remar ¬", "que"]) == ["la", "remarque"]  # the mark set apart

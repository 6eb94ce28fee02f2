import math

import numpy as np

from mspt_core import decode
from mspt_core.metrics import cer, error_report


def _log_probs(rows):
    probs = np.asarray(rows, dtype=np.float64)
    return np.log(probs / probs.sum(1, keepdims=True))


def test_greedy_merges_repeats_drops_blanks_and_keeps_confidences():
    # classes: 0 blank, 1 'a', 2 'b'
    lp = _log_probs([[0.1, 0.8, 0.1], [0.1, 0.9, 0.0 + 1e-9], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
    found = decode.greedy(lp)
    assert found.ids == [1, 1, 2]  # a a b: the blank splits the repeated a
    assert math.isclose(found.confidences[0], 0.9, rel_tol=1e-6)  # best of the two 'a' tokens
    assert found.positions == [1, 3, 4]


def test_beam_search_finds_the_more_probable_label_that_greedy_misses():
    # Greedy picks blank at every token (empty text), but 'a' summed over alignments is likelier.
    lp = _log_probs([[0.4, 0.3, 0.3], [0.4, 0.3, 0.3]])
    assert decode.greedy(lp).ids == []
    found = decode.beam_search(lp, beam=4)
    # P('') = 0.16; P('a') = 0.3*0.3 + 0.3*0.4 + 0.4*0.3 = 0.33 > P('') — likewise 'b'.
    assert found.ids in ([1], [2])


def test_cer_and_wer_on_nfc_text():
    report = error_report(["café au lait", "abc"], ["cafe\u0301 au loit", "abd"])
    assert report.lines[0].char_errors == 1  # the combining accent is the same letter
    assert report.chars == 15
    assert math.isclose(report.cer, 2 / 15)
    assert math.isclose(report.wer, 2 / 4)
    assert cer(["x"], [""]) == 1.0

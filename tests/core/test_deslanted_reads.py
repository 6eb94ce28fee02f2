"""Unsure lines also read with their slant straightened (``recognize.deslanted``, a model file's
``"deslanted_reads"``), the reading its own input explains better kept (``decode.search_score``),
on real handwritten lines of cremma-mss-19."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mspt_core.data.batching import to_height
from mspt_core.data.lines import LineSet, lines_from_page_xml
from mspt_core.decode import ctc_log_likelihood, search_score
from mspt_core.errors import ModelFileError
from mspt_core.layout.crop import paper_level
from mspt_core.models import LoadedModel, bundled_models_dir, load_model
from mspt_core.recognize import (
    LineRecognizer,
    _sheared,
    deslanted,
    deslanted_reads,
    slant,
    widened,
    with_end_margins,
)
from tests.conftest import split_xmls


@pytest.fixture(scope="module")
def hand_lines(cremma) -> LineSet:
    lines = LineSet()
    for xml in split_xmls(cremma, "val")[:2]:
        lines.extend(lines_from_page_xml(xml, 40))
    return LineSet(lines.samples[:16])


def test_a_real_line_leaned_further_is_stood_up_by_as_much(hand_lines):
    # Each line leaned by a known shear either way: the slant found moves by that shear.
    followed = tried = 0
    for image in hand_lines.images:
        own = slant(image, 1.5)
        assert 0.5 <= own <= 1.3  # this hand leans far to the right
        for lean in (-0.3, 0.3):
            tried += 1
            leaned = _sheared(image, lean, float(paper_level(image))).astype(np.uint8)
            followed += abs(slant(leaned, 1.5) - (own - lean)) <= 0.1 + 1e-9
    assert followed >= 0.9 * tried


def test_writing_that_stands_upright_and_blank_lines_are_left_as_they_are():
    line = np.full((40, 200), 220, np.uint8)
    for x in range(20, 180, 12):
        line[5:35, x : x + 3] = 20  # upright strokes
    assert slant(line, 0.6) == 0.0 and deslanted(line, 0.6) is line
    leaning = _sheared(line, 0.4, 220.0).astype(np.uint8)
    assert slant(leaning, 0.6) == pytest.approx(-0.4)
    upright = deslanted(leaning, 0.6)
    assert upright.shape == leaning.shape and upright.dtype == np.uint8
    # standing up again, its ink falls into as few columns as the upright line's
    assert np.count_nonzero((upright < 128).any(axis=0)) <= np.count_nonzero((line < 128).any(axis=0)) + 2
    assert np.count_nonzero((leaning < 128).any(axis=0)) > np.count_nonzero((line < 128).any(axis=0)) + 20
    blank = np.full((40, 100), 230, np.uint8)
    assert deslanted(blank, 0.6) is blank and deslanted(leaning, 0.0) is leaning


def test_the_ctc_likelihood_sums_every_path_that_spells_the_reading():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 3))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def collapsed(path):
        out = [c for c, _ in itertools.groupby(path)]
        return [c for c in out if c != 0]

    for ids in ([], [1], [1, 1], [1, 2], [2, 1, 2]):
        total = sum(
            math.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
            for path in itertools.product(range(3), repeat=5)
            if collapsed(path) == ids
        )
        assert ctc_log_likelihood(log_probs, ids) == pytest.approx(math.log(total), abs=1e-9)
    assert ctc_log_likelihood(log_probs[:2], [1, 1]) == -math.inf  # needs three tokens: 1, blank, 1


def test_unsure_lines_keep_the_reading_their_own_input_explains_better(hand_lines):
    loaded = load_model(bundled_models_dir() / "handwriting")
    metadata = dict(loaded.metadata, shifted_reads_below=1.0)  # every line is read again
    both = LineRecognizer(LoadedModel(loaded.model, loaded.charset, dict(metadata, deslanted_reads=0.6)), device="cpu")
    plain = LineRecognizer(LoadedModel(loaded.model, loaded.charset, dict(metadata, deslanted_reads=0.0)), device="cpu")
    assert both.deslant == 0.6 and plain.deslant == 0.0 and both.lm is not None

    readings = both.read(hand_lines.images)
    kept_upright = 0
    for image, reading in zip(hand_lines.images, readings, strict=True):
        # the line as the reader prepares it, read as cut and upright, each moved up and down too
        prepared = with_end_margins(widened(to_height(image, plain.height), plain.width_scale), plain._margin)
        with torch.inference_mode():
            (one,), _ = plain._rows_and_readings([prepared])
            (other,), _ = plain._rows_and_readings([deslanted(prepared, 0.6)])
        found_one, found_other = plain._search(one), plain._search(other)
        better_upright = search_score(other, found_other.ids, plain.lm, plain.labels, plain.fusion) > search_score(
            one, found_one.ids, plain.lm, plain.labels, plain.fusion
        )
        assert reading.text == plain._reading(*((other, found_other) if better_upright else (one, found_one))).text
        assert len(reading.char_x) == len(reading.text)
        kept_upright += better_upright
    assert 0 < kept_upright < len(readings)  # each way for some of these lines
    # what the reader hands the ``auto`` reader's classifier and the fusion grid: the kept rows
    kept_rows = both.ctc_log_probs(hand_lines.images)
    assert [r.text for r in both.decode(kept_rows)] == [r.text for r in readings]


def test_a_model_file_asks_for_a_shear_within_range():
    assert deslanted_reads({}) == 0.0 and deslanted_reads({"deslanted_reads": 0.6}) == 0.6
    for damaged in (-0.1, 1.5, "0.6", True, None):
        with pytest.raises(ModelFileError, match="deslanted_reads"):
            deslanted_reads({"deslanted_reads": damaged})


def test_a_batch_of_print_and_leaning_hands_reads_as_each_line_alone(hand_lines, fondue):
    # At the bundled model's own bound some lines are read once (sure print), others again, some
    # of those upright: the batch keeps each line's reads apart.
    from mspt_core.recognize import frame_confidence

    printed = lines_from_page_xml(split_xmls(fondue, "val")[0], 40).images[:6]
    mixed = [image for pair in zip(printed, hand_lines.images[:6], strict=True) for image in pair]
    loaded = load_model(bundled_models_dir() / "handwriting")
    reader = LineRecognizer(loaded, device="cpu")
    assert reader.deslant > 0 and reader.shift_below is not None
    once = dict(loaded.metadata, shifted_reads=0.0, deslanted_reads=0.0)
    first = LineRecognizer(LoadedModel(loaded.model, loaded.charset, once), device="cpu").ctc_log_probs(mixed)
    again = [frame_confidence(row) < reader.shift_below for row in first]
    assert any(again) and not all(again)
    together = reader.read(mixed)
    alone = [reader.read([image])[0] for image in mixed]
    assert [r.text for r in together] == [r.text for r in alone]
    for joint, single in zip(together, alone, strict=True):
        assert joint.char_x == pytest.approx(single.char_x)

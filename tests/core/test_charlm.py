"""The character language model that helps the handwriting model read (``mspt_core.charlm``) and
the beam search that uses it (``decode.beam_search``), on real text and real lines."""

from __future__ import annotations

import json
import math
import string

import numpy as np
import pytest

from mspt_core import charlm, decode, resources
from mspt_core.charlm import END, CharLM, Fusion
from mspt_core.data.lines import LineSet, lines_from_page_xml
from mspt_core.errors import ModelFileError
from mspt_core.formats import read_document
from mspt_core.metrics import cer
from mspt_core.models import bundled_models_dir, load_model, read_metadata
from mspt_core.recognize import LineRecognizer
from tests.conftest import split_xmls


def texts_of(xmls) -> list[str]:
    return [line.text for xml in xmls for region in read_document(xml).regions for line in region.lines if line.text]


@pytest.fixture(scope="module")
def french(cremma) -> list[str]:
    return texts_of(split_xmls(cremma, "train"))


def test_probabilities_after_any_history_sum_to_one(french):
    lm = CharLM.train(french, order=5)
    vocabulary = sorted({c for text in french for c in text}) + [END]
    for history in ("", "l", "Monsieur le ma", "qu'il ne ", "zzqx"):
        total = sum(math.exp(lm.log_prob(history, c)) for c in vocabulary)
        assert total == pytest.approx(1.0, abs=1e-6), history


def test_it_prefers_the_language_it_learned(french):
    lm = CharLM.train(french, order=6)
    assert lm.text_log_prob("", "que nous avons ") > lm.text_log_prob("", "qxe nbus avms ")
    # a letter never seen still has a probability: the optical model may be right
    assert math.isfinite(lm.log_prob("le ", "\u0416"))


def test_a_saved_model_reads_back_the_same_and_a_damaged_one_is_refused(french, tmp_path):
    lm = CharLM.train(french[:300], order=4)
    path = lm.save(tmp_path / "x.charlm.json")
    again = CharLM.load(path)
    assert again.order == 4
    for history, char in (("", "L"), ("de ", "l"), ("xyz", "e"), ("le", END)):
        assert again.log_prob(history, char) == lm.log_prob(history, char)

    document = json.loads(path.read_text(encoding="utf-8"))
    damages = (
        {"order": 40},
        {"counts": {"": {"b": -1}}},
        {"counts": ["a"]},
        {"counts": {"": {}}},
        {"counts": {"a": {"b": 1}}},
        {"format": "other"},
        {"format_version": "1"},
    )
    for damage in damages:
        (tmp_path / "bad.json").write_text(json.dumps(document | damage), encoding="utf-8")
        with pytest.raises(ModelFileError):
            CharLM.load(tmp_path / "bad.json")
    (tmp_path / "cut.json").write_text(path.read_text(encoding="utf-8")[:1000], encoding="utf-8")
    with pytest.raises(ModelFileError, match="cannot read"):
        CharLM.load(tmp_path / "cut.json")


def test_a_language_model_given_no_weight_changes_nothing():
    rng = np.random.default_rng(0)
    for _ in range(20):
        log_probs = np.log(rng.dirichlet(np.full(6, 0.3), size=25))
        labels = ["", *string.ascii_lowercase[:5]]
        lm, nothing = CharLM.train(["abcde"], order=3), Fusion(alpha=0.0, beta=0.0)
        assert decode.beam_search(log_probs, 8, 1e-4, lm, labels, nothing).ids == decode.beam_search(log_probs, 8).ids


def optical(readings: list[dict[str, float]], labels: list[str]) -> np.ndarray:
    """CTC log-probabilities of a made-up line: one token per dict (class text -> probability),
    each followed by a sure blank, so every character is its own."""
    rows = []
    for token in readings:
        row = np.full(len(labels), 1e-6)
        for text, p in token.items():
            row[labels.index(text)] = p
        rows += [row / row.sum(), np.eye(len(labels))[0] * (1 - 1e-6 * len(labels)) + 1e-6]
    return np.log(np.asarray(rows))


def test_where_the_optical_model_hesitates_the_likelier_text_wins(french):
    lm, fusion = CharLM.train(french, order=6), Fusion(alpha=0.5, beta=1.0, beam=8, prune=1e-3)
    labels = ["", *sorted({c for text in french for c in text})]
    # "qne" or "que": the optical model prefers n a little, French prefers u
    line = optical([{"q": 1.0}, {"n": 0.55, "u": 0.45}, {"e": 1.0}], labels)
    assert "".join(labels[i] for i in decode.greedy(line).ids) == "qne"
    found = decode.beam_search(line, fusion.beam, fusion.prune, lm, labels, fusion)
    assert "".join(labels[i] for i in found.ids) == "que"
    # placed by alignment: each letter on its own token, the hesitant one as unsure as it was
    assert found.positions == [0, 2, 4] and found.confidences[1] == pytest.approx(0.45, abs=0.01)
    # where it is sure, the optical model is not overruled, and nothing is searched
    sure = optical([{"q": 1.0}, {"n": 1.0}, {"e": 1.0}], labels)
    assert decode.beam_search(sure, fusion.beam, fusion.prune, lm, labels, fusion) == decode.greedy(sure)


def test_an_aligned_reading_keeps_its_characters_in_order_even_doubled():
    rng = np.random.default_rng(1)
    for _ in range(30):
        log_probs = np.log(rng.dirichlet(np.full(5, 0.2), size=30))
        ids = decode.greedy(log_probs).ids
        placed = decode.align(log_probs, ids)
        assert placed.ids == ids and len(placed.confidences) == len(ids)
        assert all(a < b for a, b in zip(placed.positions, placed.positions[1:], strict=False))
    # "ll" needs a blank between: three tokens are the least, and then each l has its own
    doubled = np.log(np.array([[0.1, 0.9], [0.8, 0.2], [0.1, 0.9]]))
    assert decode.align(doubled, [1, 1]).positions == [0, 2]
    assert decode.align(doubled[:2], [1, 1]).positions == [0, 0]  # no path fits: an estimate


@pytest.fixture(scope="module")
def handwritten_val(cremma) -> LineSet:
    lines = LineSet()
    for xml in split_xmls(cremma, "val")[:4]:
        lines.extend(lines_from_page_xml(xml, 40))
    return lines


def test_the_handwriting_model_reads_real_lines_better_with_its_language_model(handwritten_val):
    spec = read_metadata(bundled_models_dir() / "handwriting").get("language_model")
    assert spec and resources.language_model(spec["name"]).is_file(), "the handwriting model names its language model"
    loaded = load_model(bundled_models_dir() / "handwriting")
    with_lm = LineRecognizer(loaded, device="cpu", engine="torch")
    without = LineRecognizer(loaded, device="cpu", engine="torch", language_model=False)
    assert with_lm.lm is not None and without.lm is None
    read_with = with_lm.read(handwritten_val.images)
    read_without = without.read(handwritten_val.images)
    assert cer(handwritten_val.texts, [r.text for r in read_with]) < cer(
        handwritten_val.texts, [r.text for r in read_without]
    )
    for reading in read_with:  # each character keeps a confidence and a place on the line
        assert len(reading.char_confidences) == len(reading.text) == len(reading.char_x)


def test_a_model_naming_a_language_model_that_is_not_there_reads_without_it(handwritten_val, caplog):
    loaded = load_model(bundled_models_dir() / "handwriting")
    loaded.metadata = dict(loaded.metadata, language_model={"name": "not-installed", "alpha": 0.3, "beta": 1.0})
    reader = LineRecognizer(loaded, device="cpu", engine="torch")
    assert reader.lm is None and "reading without the language model not-installed" in caplog.text
    plain = LineRecognizer(loaded, device="cpu", engine="torch", language_model=False)
    images = handwritten_val.images[:5]
    assert [r.text for r in reader.read(images)] == [r.text for r in plain.read(images)]
    damaged_settings = (
        {"name": "../../escape"},
        {"name": "fr-en-de", "beam": 0},
        {"name": "fr-en-de", "beam": 8.5},
        {"name": "fr-en-de", "alpha": "x"},
        {"name": "fr-en-de", "beta": float("nan")},
        {"name": "fr-en-de", "prune": 2},
        "x",
    )
    for damaged in damaged_settings:
        assert charlm.for_model({"language_model": damaged}) is None  # a name, not a path; sane settings


def test_a_model_fine_tuned_from_the_handwriting_model_reads_as_its_base(handwritten_val, tmp_path):
    """Its language model, fused as for the base, the paper the base reads its lines with, how
    much wider than cut it reads them, how far moved and how far straightened it also reads them."""
    from mspt_core.train.settings import TrainSettings
    from mspt_core.train.supervised import train_recognizer

    base = bundled_models_dir() / "handwriting"
    few = LineSet(handwritten_val.samples[:8])
    settings = TrainSettings(steps=2, batch_size=4, warmup=0, val_every=2, checkpoint_every=2, device="cpu")
    outcome = train_recognizer(few, None, tmp_path / "run", settings, base_model=base)  # no validation: last weights
    assert not outcome.kept_base
    assert read_metadata(outcome.model_path)["language_model"] == read_metadata(base)["language_model"]
    assert read_metadata(outcome.model_path)["end_margin"] == read_metadata(base)["end_margin"] > 0
    assert read_metadata(outcome.model_path)["width_scale"] == read_metadata(base)["width_scale"] > 1
    for setting in ("shifted_reads", "shifted_reads_below", "deslanted_reads"):
        assert read_metadata(outcome.model_path)[setting] == read_metadata(base)[setting] > 0
    reader = LineRecognizer(load_model(outcome.model_path), device="cpu", engine="torch")
    assert reader.lm is not None and reader.end_margin > 0 and reader.width_scale > 1 and reader.shift > 0
    assert reader.deslant > 0


def test_the_command_line_reads_with_the_language_model_unless_told_not_to(cremma, capsys):
    from mspt_core.cli import main

    def cer_of(*options: str) -> float:
        page = str(split_xmls(cremma, "val")[0])
        assert main(["eval", page, "--model", "handwriting", "--device", "cpu", *options]) == 0
        table = dict(line.split("\t", 1) for line in capsys.readouterr().out.splitlines() if "\t" in line)
        return float(table["CER"])

    assert cer_of() < cer_of("--no-language-model")

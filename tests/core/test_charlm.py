"""The character language model that helps the handwriting model read (``mspt_core.charlm``), its
word list, and the beam search that uses them (``decode.beam_search``), on real text and real
lines."""

from __future__ import annotations

import dataclasses
import gzip
import json
import math
import string
from pathlib import Path

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


def test_a_line_the_language_model_reads_as_nothing_comes_back_empty():
    # greedy reads a faint "a"; a language model sure that lines are empty outweighs it: the
    # reading is empty, and nothing is left to place on the line
    labels = ["", "a", "b"]
    lm = CharLM.train([""] * 20 + ["x"], order=2)
    line = np.log(np.array([[0.9, 0.05, 0.05], [0.38, 0.42, 0.2], [0.9, 0.05, 0.05]]))
    assert decode.greedy(line).ids == [1]
    found = decode.beam_search(line, 8, 1e-3, lm, labels, Fusion(alpha=0.5, beta=0.0, beam=8, prune=1e-3))
    assert found.ids == [] and found.confidences == [] and found.positions == []


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


def test_the_beam_keeps_what_scoring_every_prefix_would_keep(handwritten_val, monkeypatch):
    # The search asks the language model only for prefixes that could still enter the beam
    # (their score is bounded by their parent's plus beta per character); on real lines, with the
    # shipped fusion at beam 16, it must read exactly as when every prefix is scored.
    loaded = load_model(bundled_models_dir() / "handwriting")
    reader = LineRecognizer(loaded, device="cpu", engine="torch")
    assert reader.lm is not None and reader.fusion is not None
    log_probs = reader.ctc_log_probs(handwritten_val.images)

    def read() -> list[list[int]]:
        fusion = reader.fusion
        return [decode.beam_search(row, 16, fusion.prune, reader.lm, reader.labels, fusion).ids for row in log_probs]

    asked = []  # the language model's answers the search asked for
    ask = reader.lm.text_log_prob
    monkeypatch.setattr(reader.lm, "text_log_prob", lambda *question: asked.append(1) or ask(*question))
    lazily, lazy_asks = read(), len(asked)
    child = decode._Prefixes.child

    def scored_at_once(self, prefix: int, cls: int) -> int:
        made = child(self, prefix, cls)
        self.score(made)
        return made

    monkeypatch.setattr(decode._Prefixes, "child", scored_at_once)
    asked.clear()
    assert read() == lazily
    assert lazy_asks < 0.8 * len(asked)  # and the lazy search asked for a fifth less at least


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


def test_where_the_optical_model_hesitates_a_word_the_list_holds_wins():
    labels = ["", " ", *string.ascii_lowercase]
    lexicon = charlm.Lexicon(["je", "vais"])
    lm = CharLM.train(["abc"], order=2)  # given no weight: only the word list decides
    # "je vois" or "je vais": the optical model prefers o a little; only "vais" is a word here
    line = optical(
        [{"j": 1.0}, {"e": 1.0}, {" ": 1.0}, {"v": 1.0}, {"o": 0.55, "a": 0.45}, {"i": 1.0}, {"s": 1.0}], labels
    )
    without = Fusion(alpha=0.0, beta=0.0, beam=8, prune=1e-3)
    with_list = Fusion(alpha=0.0, beta=0.0, beam=8, prune=1e-3, unknown_word=-1.0, lexicon=lexicon)
    read = lambda fusion: "".join(labels[i] for i in decode.beam_search(line, 8, 1e-3, lm, labels, fusion).ids)  # noqa: E731
    assert read(without) == "je vois"
    assert read(with_list) == "je vais"
    # the score a reading is ranked by counts the unknown word too
    ids = lambda text: [labels.index(c) for c in text]  # noqa: E731
    assert decode.search_score(line, ids("je vois"), lm, labels, with_list) < decode.search_score(
        line, ids("je vais"), lm, labels, with_list
    )


def test_the_word_list_judges_words_as_a_reader_would():
    lexicon = charlm.Lexicon(["temps", "aujourd'hui", "peut-être", "Le", "qu'il"])
    assert lexicon.knows("Temps,") and lexicon.knows("«le»") and lexicon.knows("aujourd’hui")
    assert lexicon.knows("qu'il") and lexicon.knows("peut-être.") and lexicon.knows("teMps")
    assert lexicon.knows("tems") is False and lexicon.knows("peut-ettre") is False
    assert lexicon.knows("1848") is None and lexicon.knows("f°12") is None and lexicon.knows("—") is None
    assert lexicon.knows("d'«Le»") is False and lexicon.knows("qu'«il»") and lexicon.knows("(peut-«être»)")
    fusion = Fusion(unknown_word=-1.0, lexicon=lexicon)
    assert fusion.words_of("le tems temps") == -1.0
    assert fusion.line_ended("le temps compa-") == 0.0  # a word broken at the end of the line
    assert fusion.line_ended("le temps compa") == -1.0
    assert fusion.words_of("le 12 temps") == 0.0  # a number is not judged
    assert fusion.words_of("le\xa0tems") == -1.0 and fusion.word_ended("le tems", "\xa0") == -1.0  # no-break space
    assert Fusion(lexicon=lexicon).words_of("tems") == 0.0  # no penalty: the list is not used


def test_a_saved_word_list_reads_back_the_same_and_a_damaged_one_is_refused(french, tmp_path):
    lexicon = charlm.Lexicon(word for text in french[:300] for word in text.split())
    path = lexicon.save(tmp_path / "x.words.gz")
    again = charlm.Lexicon.load(path)
    assert len(again) == len(lexicon) > 500
    for word in (w for text in french[300:400] for w in text.split()):
        assert again.knows(word) == lexicon.knows(word)
    (tmp_path / "plain.words.gz").write_text("not gzip", encoding="utf-8")
    (tmp_path / "cut.words.gz").write_bytes(path.read_bytes()[:200])
    (tmp_path / "latin1.words.gz").write_bytes(gzip.compress("café\n".encode("latin-1")))
    for bad in ("plain", "cut", "latin1"):
        with pytest.raises(ModelFileError, match="cannot read the word list"):
            charlm.Lexicon.load(tmp_path / f"{bad}.words.gz")


def test_a_word_list_too_long_to_hold_is_refused_before_it_is_held(tmp_path, monkeypatch):
    monkeypatch.setattr(charlm, "MAX_WORDS", 100)
    (tmp_path / "lines.words.gz").write_bytes(gzip.compress(b"\n" * 1000))  # a few bytes packed
    (tmp_path / "long.words.gz").write_bytes(gzip.compress(b"a" * 100_000))  # one endless word
    for name in ("lines", "long"):
        with pytest.raises(ModelFileError, match="more than 100 words"):
            charlm.Lexicon.load(tmp_path / f"{name}.words.gz")
    (tmp_path / "fits.words.gz").write_bytes(gzip.compress("\n".join(["mot"] * 99).encode()))
    assert len(charlm.Lexicon.load(tmp_path / "fits.words.gz")) == 1


def test_a_model_whose_word_list_is_missing_reads_without_it(monkeypatch, caplog):
    from mspt_core import resources as where

    spec = {"name": "fr-en-de", "alpha": 0.4, "beta": 1.5, "unknown_word": -1.0}
    found = charlm.for_model({"language_model": spec})
    assert found is not None and found[1].lexicon is not None and found[1].unknown_word == -1.0
    charlm._load_lexicon.cache_clear()
    monkeypatch.setattr(where, "lexicon", lambda name: Path("/nonexistent") / f"{name}.words.gz")
    try:
        lm, fusion = charlm.for_model({"language_model": spec}) or (None, None)
        assert lm is not None and fusion is not None and fusion.unknown_word == 0.0 and fusion.lexicon is None
        assert "reading without the word list fr-en-de" in caplog.text
    finally:
        charlm._load_lexicon.cache_clear()
    assert charlm.for_model({"language_model": spec | {"unknown_word": 1.0}}) is None
    assert charlm.for_model({"language_model": spec | {"unknown_word": "x"}}) is None


def test_the_handwriting_model_reads_real_lines_better_with_its_word_list(handwritten_val):
    loaded = load_model(bundled_models_dir() / "handwriting")
    reader = LineRecognizer(loaded, device="cpu", engine="torch")
    assert reader.fusion is not None and reader.fusion.unknown_word < 0 and reader.fusion.lexicon is not None
    assert resources.lexicon(read_metadata(bundled_models_dir() / "handwriting")["language_model"]["name"]).is_file()
    log_probs = reader.ctc_log_probs(handwritten_val.images)
    with_list = [r.text for r in reader.decode(log_probs)]
    reader.fusion = dataclasses.replace(reader.fusion, unknown_word=0.0)
    without = [r.text for r in reader.decode(log_probs)]
    assert cer(handwritten_val.texts, with_list) < cer(handwritten_val.texts, without)

"""Self-training (``mspt adapt``): a model learns from the surest share of its own readings of
pages nobody corrected, on real handwritten lines; the gain itself is measured in
benchmarks/self_training.py."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mspt_core.cli import main
from mspt_core.data.lines import LineSample, LineSet, lines_from_page_xml
from mspt_core.errors import DataError
from mspt_core.formats import read_document
from mspt_core.metrics import cer
from mspt_core.models import bundled_models_dir, load_model, read_metadata, resolve
from mspt_core.presets import SELF_TRAINING, training_preset
from mspt_core.recognize import LineRecognizer, Reading
from mspt_core.train.self_training import (
    MEASURED_FROM_LINES,
    READINGS,
    few_lines_warning,
    read_surest,
    self_train,
    surest,
    surest_of_run,
)

LETTERS = "data/lettres-veuillot/f392.xml"  # cremma-mss-19's val split: 42 lines of one hand


def _lines(count: int) -> LineSet:
    return LineSet([LineSample(np.full((40, 60), 255, np.uint8), f"gt {i}", f"line {i}") for i in range(count)])


def _reading(text: str, *confidences: float) -> Reading:
    return Reading(text, list(confidences), [])


def test_the_surest_share_is_kept_in_line_order_with_the_readings_as_text():
    readings = [
        _reading("ab", 0.9, 0.7),
        _reading("cd", 0.99, 0.99),
        _reading("ef", 0.5, 0.6),
        _reading("gh", 0.95, 0.9),
    ]
    kept = surest(_lines(4), readings, 0.5)
    assert kept.texts == ["cd", "gh"]  # the two surest by mean confidence, as the page orders them
    assert [s.source for s in kept.samples] == ["line 1", "line 3"]
    assert surest(_lines(4), readings, 1.0).texts == ["ab", "cd", "ef", "gh"]
    assert surest(_lines(4), readings, 0.01).texts == ["cd"]  # never nothing from lines that read


def test_a_line_read_as_nothing_is_never_learned_from():
    readings = [
        _reading(
            "",
        ),
        _reading("  ", 0.99, 0.99),
        _reading("x", 0.2),
    ]
    assert surest(_lines(3), readings, 1.0).texts == ["x"]
    assert surest(_lines(2), readings[:2], 1.0).texts == []


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5, float("nan")])
def test_a_share_outside_0_to_1_is_refused(share):
    with pytest.raises(DataError, match="share"):
        surest(_lines(2), [_reading("a", 0.9), _reading("b", 0.9)], share)


def test_nothing_read_is_nothing_to_learn_from(tmp_path):
    with pytest.raises(DataError, match="nothing to learn from"):
        self_train(LineSet(), resolve("handwriting"), tmp_path / "run")


@pytest.fixture(scope="module")
def letters(cremma):
    return lines_from_page_xml(cremma / LETTERS, 40)


def test_the_surest_half_of_real_handwriting_is_read_better_than_the_rest(letters):
    """The method rests on this: what the model is surest of, it reads more often right (on the
    val splits the surest half reads at about two thirds of the whole's CER, less well on
    some pages: RESULTS.md)."""
    reader = LineRecognizer.from_model("handwriting", device="cpu")
    kept = read_surest(reader, letters, 0.5)
    assert abs(len(kept) - len(letters) / 2) <= 1
    truth = dict(zip((s.source for s in letters.samples), letters.texts, strict=True))
    kept_sources = {s.source for s in kept.samples}
    rest = [s for s in letters.samples if s.source not in kept_sources]
    rest_readings = [r.text for r in reader.read([s.image for s in rest])]
    kept_cer = cer([truth[s.source] for s in kept.samples], kept.texts)
    rest_cer = cer([s.text for s in rest], rest_readings)
    assert kept_cer < 0.9 * rest_cer, (kept_cer, rest_cer)  # 31 against 37 % on this page when written


def test_self_training_keeps_its_last_weights_and_says_how_it_was_made(letters, tmp_path):
    reader = LineRecognizer.from_model("handwriting", device="cpu")
    kept = read_surest(reader, LineSet(letters.samples[:8]), 0.5)
    settings = training_preset(SELF_TRAINING).settings(steps=2, batch_size=2, device="cpu")
    outcome = self_train(kept, resolve("handwriting"), tmp_path / "run", settings=settings)
    assert outcome.result.status == "finished" and outcome.result.step == 2
    made = read_metadata(outcome.model_path)
    assert made["provenance"]["steps"] == 2  # the last weights, not a checkpoint validation chose
    assert made["provenance"]["base_model"] == str(resolve("handwriting"))
    # It reads as its base does (width, shifted and upright reads, language model)...
    base = read_metadata(resolve("handwriting"))
    for key in ("width_scale", "shifted_reads", "deslanted_reads", "language_model"):
        assert made.get(key) == base.get(key)
    # ...with weights of its own, in the run's folder.
    assert outcome.model_path == tmp_path / "run" / "best"
    adapted, original = (
        load_model(outcome.model_path).model.state_dict(),
        load_model(resolve("handwriting")).model.state_dict(),
    )
    assert any(not torch.equal(adapted[name].float(), original[name].float()) for name in original)


def test_mspt_adapt_chooses_its_base_learns_from_a_real_page_and_writes_the_adapted_model(cremma, tmp_path, capsys):
    page = tmp_path / "pages"
    page.mkdir()
    source = read_document(cremma / LETTERS).image_path
    shutil.copy(source, page / source.name)
    shutil.copy(cremma / LETTERS, page / "f392.xml")  # its lines are used, not its text
    run = tmp_path / "run"
    code = main(
        [
            "adapt",
            str(page),
            "-o",
            str(run),
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--threads",
            "1",
        ]
    )
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0
    assert "read 42 lines on 1 page(s)" in out and "learning from the surest 21" in out
    assert "warning" not in captured.err  # 42 lines: as many as self-training was measured on
    assert f"with {bundled_models_dir() / 'handwriting'};" in out  # --base auto: the bundled model for a hand
    assert (run / "best" / "model.safetensors").exists()
    provenance = read_metadata(run / "best")["provenance"]
    assert provenance["train_lines"] == 21 and provenance["data"].startswith("its own surest readings (21 of 42 lines)")


def test_mspt_adapt_refuses_a_folder_without_pages_and_a_bad_share(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["adapt", str(tmp_path / "empty"), "-o", str(tmp_path / "run"), "--base", "handwriting"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mspt: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
    for bad in ("0", "2", "nan"):
        with pytest.raises(SystemExit) as exit_:
            main(["adapt", str(tmp_path / "empty"), "-o", str(tmp_path / "run"), "--share", bad])
        assert exit_.value.code == 2 and "--share" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_mspt_adapt_says_which_lines_it_left_out_and_refuses_to_resume_on_other_pages(cremma, tmp_path, capsys):
    from lxml import etree

    page = tmp_path / "page"
    page.mkdir()
    source = read_document(cremma / LETTERS).image_path
    shutil.copy(source, page / source.name)
    shutil.copy(cremma / LETTERS, page / "f392.xml")
    run = tmp_path / "run"
    options = ["-o", str(run), "--base", "handwriting", "--steps", "2", "--batch-size", "2", "--threads", "1"]
    assert main(["adapt", str(page), *options]) == 0
    assert "skipped" not in capsys.readouterr().out

    tree = etree.parse(str(page / "f392.xml"))  # ALTO: the first line moved off the page
    first = tree.xpath("//*[local-name()='TextLine']")[0]
    first.set("BASELINE", "90000 90040 90100 90040")
    first.set("HPOS", "90000")
    first.set("VPOS", "90000")
    first.xpath(".//*[local-name()='Polygon']")[0].set("POINTS", "90000 90000 90100 90000 90100 90040 90000 90040")
    tree.write(str(page / "f392.xml"))
    assert main(["adapt", str(page), *options]) == 2
    captured = capsys.readouterr()
    assert f"skipped {page / source.name}#{first.get('ID')}: " in captured.out and "outside" in captured.out
    assert "read 41 lines on 1 page(s)" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mspt: error:") and "learned from other lines" in err[0]
    assert "(21 lines, 0 val lines then, 20 lines, 0 val lines now)" in err[0] and "--no-resume" in err[0]


def test_adapting_to_fewer_lines_than_were_measured_is_warned_about(cremma, tmp_path, capsys):
    assert few_lines_warning(MEASURED_FROM_LINES) is None
    assert "only 39 lines" in few_lines_warning(MEASURED_FROM_LINES - 1)
    page = tmp_path / "page"
    page.mkdir()
    short = cremma / "data/manuscrit-zola-misc/f615.xml"  # val split: 7 lines
    source = read_document(short).image_path
    shutil.copy(source, page / source.name)
    shutil.copy(short, page / short.name)
    run = tmp_path / "run"
    options = ["-o", str(run), "--base", "handwriting", "--steps", "1", "--batch-size", "2", "--threads", "1"]
    assert main(["adapt", str(page), *options]) == 0
    err = capsys.readouterr().err
    assert "mspt: warning: only 7 lines to read: adapting was measured on 40 or more" in err


class _Reader:
    """Reads line i as "reading i", surer the later the line; counts its reads."""

    def __init__(self):
        self.reads = 0

    def read(self, images):
        self.reads += 1
        return [_reading(f"reading {i}", i / len(images)) for i in range(len(images))]


def test_a_resumed_run_learns_from_what_its_first_start_read(tmp_path):
    lines, first, base, run = _lines(6), _Reader(), Path("models/letters"), tmp_path / "run"
    kept, saved = surest_of_run(lines, lambda: first, 0.5, run, base)
    assert kept.texts == ["reading 3", "reading 4", "reading 5"] and not saved and (run / READINGS).exists()

    def no_reading():
        raise AssertionError("a resumed run read its lines again")

    again, saved = surest_of_run(lines, no_reading, 0.5, run, base)
    assert saved and again.texts == kept.texts and again.fingerprint() == kept.fingerprint()
    same_name = Path("elsewhere/letters")  # the same model, another version or folder: still its readings
    assert surest_of_run(lines, no_reading, 0.5, run, same_name)[1]
    # Started over, another base, another share, other lines (or the same count, other pixels): read again.
    darker = LineSet([replace(sample, image=sample.image // 2) for sample in lines.samples])
    for other_lines, share, other_base, resume in (
        (lines, 0.5, base, False),
        (lines, 0.5, Path("models/print"), True),
        (lines, 0.8, base, True),
        (_lines(7), 0.5, base, True),
        (darker, 0.5, base, True),
    ):
        reader = _Reader()
        surest_of_run(other_lines, lambda r=reader: r, share, run, other_base, resume=resume)
        assert reader.reads == 1
    (run / READINGS).write_text("{not json")
    reader = _Reader()
    assert surest_of_run(lines, lambda: reader, 0.5, run, base)[0].texts == kept.texts
    assert reader.reads == 1  # a damaged record is read past, not trusted


def test_lines_with_one_source_are_resumed_each_with_its_own_image(tmp_path):
    # An ALTO file whose lines carry no ID names every line "scan.jpg#": the lines are told apart
    # by their places, so a resumed run still learns each reading with its own line.
    lines = LineSet([LineSample(np.full((40, 60 + i), 255, np.uint8), "", "scan.jpg#") for i in range(4)])
    kept, _ = surest_of_run(lines, _Reader, 0.5, tmp_path / "run", Path("letters"))

    def no_reading():
        raise AssertionError("a resumed run read its lines again")

    again, saved = surest_of_run(lines, no_reading, 0.5, tmp_path / "run", Path("letters"))
    assert saved and again.fingerprint() == kept.fingerprint() and [s.image.shape[1] for s in again.samples] == [62, 63]


def test_a_model_that_reads_nothing_has_nothing_to_learn_from(tmp_path):
    class Blank:
        def read(self, images):
            return [_reading("", 0.9) for _ in images]

    with pytest.raises(DataError, match="letters read no text on the 3 lines"):
        surest_of_run(_lines(3), Blank, 0.5, tmp_path / "run", Path("letters"))
    assert not (tmp_path / "run" / READINGS).exists()

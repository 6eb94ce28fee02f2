"""The automatic reader (``mspt_core.choose``): its classifier file, what it refuses, and how it
is named on the command line. Reading a real mixed page: tests/core/test_mixed_page.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mspt_core import choose, tensorfile
from mspt_core.cli import main as mspt
from mspt_core.errors import ModelFileError
from mspt_core.metrics import CER_TIE
from mspt_core.models import bundled_models_dir, check_new_name, resolve
from mspt_core.recognize import LineRecognizer, open_reader


def test_the_bundled_classifier_belongs_to_the_bundled_print_model():
    classifier = choose.load_classifier(choose.bundled_path())
    printed = LineRecognizer.from_model(str(bundled_models_dir() / "default"), device="cpu")
    assert classifier.classes == printed.model.num_classes
    assert classifier.metadata["print_model_sha256"] == choose.print_model_digest(bundled_models_dir() / "default")
    assert 0 < classifier.threshold < 1
    assert classifier.metadata["provenance"]["threshold_chosen_on"]  # chosen on val splits, said in the file
    assert not any("/test" in s for s in classifier.metadata["provenance"]["train"])


def test_fitting_separates_two_kinds_and_the_file_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (200, 8)).astype(np.float32)
    b = rng.normal(1.5, 1, (200, 8)).astype(np.float32)
    classifier = choose.fit_classifier(np.concatenate([a, b]), np.r_[np.zeros(200), np.ones(200)])
    p = classifier.handwritten(np.concatenate([a, b]))
    assert ((p > 0.5) == np.r_[np.zeros(200), np.ones(200)]).mean() > 0.9
    classifier.threshold, classifier.metadata = 0.3, {"note": "x"}
    again = choose.load_classifier(choose.save_classifier(tmp_path / "c.safetensors", classifier))
    assert again.threshold == 0.3 and again.metadata["note"] == "x" and again.classes == 5
    assert np.allclose(again.handwritten(a), classifier.handwritten(a))


def test_damaged_or_foreign_classifier_files_are_refused(tmp_path):
    bad = tmp_path / "bad.safetensors"
    tensorfile.write(bad, {"weight": torch.zeros(5)}, {"mspt": {"format": "mspt-line-finder"}})
    with pytest.raises(ModelFileError, match="not an mspt script classifier"):
        choose.load_classifier(bad)
    meta = {"format": choose.FORMAT, "bias": 0.0, "threshold": 0.5, "classes": 10}
    tensorfile.write(bad, {k: torch.zeros(5) for k in ("weight", "mean", "scale")}, {"mspt": meta})
    with pytest.raises(ModelFileError, match="do not match"):
        choose.load_classifier(bad)
    (tmp_path / "pickle.safetensors").write_bytes(b"\x80\x04\x95" + b"\0" * 64)
    with pytest.raises(ModelFileError, match="pickle"):
        choose.load_classifier(tmp_path / "pickle.safetensors")


def test_a_classifier_of_another_print_model_is_refused(tmp_path):
    classifier = choose.load_classifier(choose.bundled_path())
    printed = LineRecognizer.from_model(str(bundled_models_dir() / "small-print-v1"), device="cpu")
    if printed.model.num_classes == classifier.classes:
        pytest.skip("small-print-v1 has as many classes as the default model")
    with pytest.raises(ModelFileError, match="refit"):
        choose.ChoosingReader(printed, printed, classifier)


def test_the_automatic_reader_names_what_each_of_its_models_reads_with():
    """int8 is a per-model choice (each model file says whether int8 holds for it), so the two
    models of ``auto`` may read differently: its engine then names both, print model first."""
    from mspt_core import onnx_engine

    if not onnx_engine.available():
        pytest.skip("onnxruntime is not installed: both models read with PyTorch")
    classifier = choose.load_classifier(choose.bundled_path())
    printed = LineRecognizer.from_model("default", device="cpu", engine="onnx-int8")
    handwriting = LineRecognizer.from_model("handwriting", device="cpu", engine="onnx")
    assert choose.ChoosingReader(printed, handwriting, classifier).engine == "onnx-int8 + onnx"
    assert choose.ChoosingReader(printed, printed, classifier).engine == "onnx-int8"
    # as mspt transcribe builds it (the tests read with PyTorch unless told), each model reads as
    # its own file says
    reader = open_reader(None, device="cpu", engine="auto")
    for model in (reader.printed, reader.handwriting):
        assert model.engine == ("onnx-int8" if model.metadata.get("inference", {}).get("int8") else "onnx")


def test_nothing_chosen_means_auto_and_auto_is_not_one_model():
    assert isinstance(open_reader(None, device="cpu"), choose.ChoosingReader)
    assert isinstance(open_reader("default", device="cpu"), LineRecognizer)
    with pytest.raises(ModelFileError, match="not one model"):
        resolve("auto")  # e.g. as a base to fine-tune
    with pytest.raises(ModelFileError, match="automatic reader"):
        check_new_name("Auto")


def test_the_cli_reads_with_auto_unless_told_otherwise(tmp_path, capsys, monkeypatch):
    from mspt_core.resources import samples_dir

    built = []
    make = choose.choosing_reader

    def spy(*args, **kwargs):
        built.append(make(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(choose, "choosing_reader", spy)
    lines = sorted((samples_dir() / "lines").glob("*.png"))[:2]
    assert lines, "the bundled sample lines"
    for model, automatic in (([], True), (["--model", "auto"], True), (["--model", "default"], False)):
        before = len(built)
        assert mspt(["recognize", *map(str, lines), *model]) == 0
        assert (len(built) > before) == automatic, model
        assert capsys.readouterr().out.count("\n") >= 2
    assert built[0].last_choices == [choose.PRINT, choose.PRINT]  # printed sample lines
    assert mspt(["train", str(lines[0]), "--base", "auto", "--out", str(tmp_path / "m")]) == 2
    assert "not one model" in capsys.readouterr().err


def test_a_classifier_fitted_on_another_print_model_is_refused_and_nothing_chosen_falls_back(monkeypatch, caplog):
    monkeypatch.setattr(choose, "print_model_digest", lambda path: "another model")
    with pytest.raises(ModelFileError, match="refit"):
        choose.choosing_reader("cpu")
    assert isinstance(open_reader(None, device="cpu"), LineRecognizer)  # nobody asked for auto: the default
    assert "automatic reader cannot be used" in caplog.text
    with pytest.raises(ModelFileError, match="refit"):
        open_reader("auto", device="cpu")  # asked for by name: the reason, not a silent swap


def test_a_half_deleted_install_reads_with_the_default_model(tmp_path, monkeypatch):
    import shutil

    models = tmp_path / "models"
    for name in ("default", "handwriting"):
        shutil.copytree(bundled_models_dir() / name, models / name)
    (models / "handwriting" / "model.safetensors").unlink()
    monkeypatch.setattr(choose, "bundled_models_dir", lambda: models)
    assert not choose.available()
    assert choose.reader_name(None) == "default" and choose.reader_name("") == "default"
    assert choose.reader_name("handwriting") == "handwriting"


def test_lines_the_print_model_reads_unsurely_are_read_again_by_the_handwriting_model():
    """A line the classifier leaves to the print model is kept from it only where its reading's
    mean character confidence is below the file's ``unsure_below``."""
    from mspt_core.images import load_grey
    from mspt_core.resources import samples_dir

    lines = [load_grey(p) for p in sorted((samples_dir() / "lines").glob("*.png"))[:3]]
    classifier = choose.load_classifier(choose.bundled_path())
    classifier.threshold = 0.999_999  # nothing looks handwritten enough
    printed = LineRecognizer.from_model("default", device="cpu")
    handwriting = LineRecognizer.from_model("handwriting", device="cpu")
    asked = []
    read = handwriting.read
    handwriting.read = lambda images: asked.append(len(images)) or read(images)
    reader = choose.ChoosingReader(printed, handwriting, classifier)
    confidences = [choose.mean_confidence(r) for r in printed.read(lines)]
    assert all(0 < c < 1 for c in confidences)

    classifier.unsure_below = 0.0  # never unsure: the print model's readings, one model's time
    surely = reader.read(lines)
    assert reader.last_choices == [choose.PRINT] * 3 and reader.last_reread == [] and asked == []
    assert [r.text for r in surely] == [r.text for r in printed.read(lines)]

    classifier.unsure_below = sorted(confidences)[1] + 1e-9  # the two least sure lines
    unsurely = reader.read(lines)
    least_sure = sorted(range(3), key=lambda i: confidences[i])[:2]
    assert reader.last_reread == sorted(least_sure) and asked == [2]
    assert [c == choose.HANDWRITING for c in reader.last_choices] == [i in least_sure for i in range(3)]
    by_hand = handwriting.read([lines[i] for i in sorted(least_sure)])
    assert [unsurely[i].text for i in sorted(least_sure)] == [r.text for r in by_hand]


def test_lines_are_cut_at_the_taller_models_height_and_each_model_reads_them_at_its_own(cremma, fondue):
    """A handwriting model made to read taller lines than the print model must get lines cut that
    tall: cut at the print model's height and scaled up, they would have lost the detail."""
    from mspt_core.data.lines import lines_from_page_xml
    from mspt_core.metrics import cer
    from mspt_core.models import LoadedModel, load_model
    from tests.conftest import split_xmls

    classifier = choose.load_classifier(choose.bundled_path())
    printed = LineRecognizer.from_model("default", device="cpu")
    loaded = load_model(bundled_models_dir() / "handwriting")
    tall = loaded.model.float().taller(loaded.config.height + 16)
    handwriting = LineRecognizer(LoadedModel(tall, loaded.charset, loaded.metadata), device="cpu", engine="torch")
    reader = choose.ChoosingReader(printed, handwriting, classifier)
    assert reader.height == handwriting.height == loaded.config.height + 16 > printed.height
    assert choose.ChoosingReader(printed, printed, classifier).height == printed.height

    lines = lines_from_page_xml(split_xmls(cremma, "val")[0], reader.height)
    readings = reader.read(lines.images[:6])
    assert choose.HANDWRITING in reader.last_choices
    assert cer(lines.texts[:6], [r.text for r in readings]) < 0.5
    for image, reading in zip(lines.images[:6], readings, strict=True):
        assert 0 <= min(reading.char_x) and max(reading.char_x) <= image.shape[1] + 8  # a frame's width

    # the print model's readings place their characters in the line as cut, not as it scaled it
    classifier.threshold, classifier.unsure_below = 0.999_999, 0.0  # everything stays print
    printed_page = split_xmls(fondue, "val")[0]
    tall_cut = lines_from_page_xml(printed_page, reader.height).images[:6]
    own_cut = lines_from_page_xml(printed_page, printed.height).images[:6]
    read_tall, read_own = reader.read(tall_cut), printed.read(own_cut)
    assert reader.last_choices == [choose.PRINT] * 6
    compared = 0
    for tall, own, image in zip(read_tall, read_own, tall_cut, strict=True):
        if tall.text == own.text:  # cut twice, scaled differently: compare where both read alike
            compared += 1
            scale = reader.height / printed.height
            frame = printed.model.config.frame_stride * scale  # a CTC frame, in the line as cut
            assert np.abs(np.subtract(tall.char_x, [x * scale for x in own.char_x])).max() <= 2 * frame + 1e-6
            assert max(tall.char_x) > 0.8 * image.shape[1]  # the last characters near the line's end
    assert compared >= 3


def test_unsure_below_round_trips_and_a_file_without_it_never_reads_twice(tmp_path):
    classifier = choose.load_classifier(choose.bundled_path())
    assert 0 < classifier.unsure_below < 1  # chosen on val with the threshold
    scores = classifier.metadata["provenance"]["val_mean_cer_by_threshold_and_unsure_below"]
    chosen = scores[f"{classifier.threshold} {classifier.unsure_below}"]
    # a pair that read val about best (the file rounds the scores to 4 places)
    assert len(scores) > 1 and chosen <= min(scores.values()) + CER_TIE + 1e-4
    classifier.unsure_below = 0.9
    assert choose.load_classifier(choose.save_classifier(tmp_path / "c.safetensors", classifier)).unsure_below == 0.9
    file = tensorfile.open_file(tmp_path / "c.safetensors", "script classifier")
    tensors = file.tensors()
    older = {k: v for k, v in file.json("mspt").items() if k != "unsure_below"}
    tensorfile.write(tmp_path / "old.safetensors", tensors, {"mspt": older})
    assert choose.load_classifier(tmp_path / "old.safetensors").unsure_below == 0.0
    tensorfile.write(tmp_path / "bad.safetensors", tensors, {"mspt": dict(older, unsure_below=1.5)})
    with pytest.raises(ModelFileError, match="out of range"):
        choose.load_classifier(tmp_path / "bad.safetensors")


def test_the_rule_the_threshold_is_chosen_by_is_the_one_the_reader_follows():
    """``ScriptClassifier.hands_over`` (what script_classifier.py scores each threshold and
    ``unsure_below`` by) gives the handwriting model the lines ``route`` gives it, on printed and
    handwritten lines, whatever the pair."""
    from mspt_core.images import load_grey
    from mspt_core.resources import samples_dir

    lines = [load_grey(p) for p in sorted((samples_dir() / "lines").glob("*.png"))[:4]]
    printed = LineRecognizer.from_model("default", device="cpu")
    log_probs = printed.ctc_log_probs(lines)
    readings = printed.decode(log_probs)
    classifier = choose.load_classifier(choose.bundled_path())
    p = classifier.handwritten(np.stack([choose.frame_summary(row) for row in log_probs]))
    confidences = sorted(choose.mean_confidence(r) for r in readings)
    seen = set()
    for threshold in (0.001, float(np.median(p)), 0.999_999):
        for unsure_below in (0.0, confidences[1] + 1e-9, 1.0):
            classifier.threshold, classifier.unsure_below = threshold, unsure_below
            choices, _, _ = choose.route(printed, classifier, log_probs)
            expected = [classifier.hands_over(q, r) for q, r in zip(p, readings, strict=True)]
            assert [c == choose.HANDWRITING for c in choices] == expected
            seen.add(tuple(expected))
    assert len(seen) > 2  # the pairs tried do route the lines differently

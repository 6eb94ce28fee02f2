"""The CLI round trip on real data: train tiny on ~64 real printed lines, then recognize, eval
and transcribe with the trained model. One training run serves every test of this module; it
measures that training can fit real lines (memorisation), not accuracy on unseen pages, which
benchmarks/ measures on the test split."""

import cv2
import pytest

from mspt_core.cli import main
from mspt_core.data.lines import load_lines
from mspt_core.formats import read_document

pytestmark = pytest.mark.slow

PAGES = ["data/Dracula/05dracula.pdf_page_51.xml", "data/Dracula/05dracula.pdf_page_53.xml"]  # train split


@pytest.fixture(scope="module")
def trained(fondue, tmp_path_factory):
    """A tiny model trained on 63 real lines (both pages of the train split), best by training CER."""
    run = tmp_path_factory.mktemp("run")
    data = [str(fondue / p) for p in PAGES]
    code = main(
        [
            "train",
            *data,
            "--val",
            *data,
            "--out",
            str(run),
            "--size",
            "tiny",
            "--steps",
            "160",
            "--lr",
            "2e-3",
            "--warmup",
            "20",
            "--schedule",
            "constant",
            "--no-augment",
            "--val-every",
            "40",
            "--batch-size",
            "16",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    return run / "best"


def _table(text: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in text.splitlines() if "\t" in line and not line.startswith(" "))


def test_training_drives_training_set_cer_below_5_percent(trained, fondue, capsys):
    capsys.readouterr()
    assert main(["eval", *[str(fondue / p) for p in PAGES], "--model", str(trained), "--device", "cpu"]) == 0
    table = _table(capsys.readouterr().out)
    assert int(table["lines"]) == 63
    assert float(table["CER"]) < 0.05


def test_recognize_prints_path_and_text_in_input_order(trained, fondue, tmp_path, capsys):
    lines = load_lines([fondue / PAGES[0]], 40)
    paths = []
    for i in (5, 0, 17):  # deliberately not sorted
        path = tmp_path / f"line{i}.png"
        cv2.imwrite(str(path), lines.samples[i].image)
        paths.append((path, lines.samples[i].text))
    capsys.readouterr()
    assert main(["recognize", *[str(p) for p, _ in paths], "--model", str(trained), "--device", "cpu"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split("\t")[0] for row in rows] == [str(p) for p, _ in paths]
    from mspt_core.metrics import cer

    assert cer([t for _, t in paths], [row.split("\t", 1)[1] for row in rows]) < 0.05


def test_transcribe_keeps_ground_truth_text_unless_asked_to_reread(trained, fondue, tmp_path):
    from mspt_core.metrics import cer

    image = fondue / "data/Dracula/05dracula.pdf_page_51.png"
    truth = read_document(fondue / PAGES[0])
    assert (
        main(
            [
                "transcribe",
                str(image),
                "--out",
                str(tmp_path / "kept"),
                "--to",
                "page",
                "--model",
                str(trained),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    kept = read_document(tmp_path / "kept" / "05dracula.pdf_page_51.xml")
    # The export's transcriptions may be a person's work: kept, and marked corrected.
    assert [(ln.id, ln.text) for ln in kept.lines()] == [(ln.id, ln.text) for ln in truth.lines()]
    assert all(ln.status.value == "corrected" for ln in kept.lines() if ln.text)

    assert (
        main(
            [
                "transcribe",
                str(image),
                "--out",
                str(tmp_path / "read"),
                "--to",
                "page",
                "txt",
                "--reread",
                "--model",
                str(trained),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    page = read_document(tmp_path / "read" / "05dracula.pdf_page_51.xml")
    assert [ln.id for ln in page.lines()] == [ln.id for ln in truth.lines()]
    assert cer([ln.text for ln in truth.lines()], [ln.text for ln in page.lines()]) < 0.05
    assert all(ln.status.value == "recognized" and ln.char_confidences for ln in page.lines() if ln.text)
    text = (tmp_path / "read" / "05dracula.pdf_page_51.txt").read_text(encoding="utf-8")
    assert text.splitlines()[0] == next(page.lines()).text


def test_transcribe_refuses_to_overwrite_inputs_or_its_own_outputs(trained, fondue, tmp_path, capsys):
    image = fondue / "data/Dracula/05dracula.pdf_page_51.png"
    capsys.readouterr()
    assert main(["transcribe", str(image), "--out", str(image.parent), "--model", str(trained)]) == 2
    assert "would be overwritten" in capsys.readouterr().err
    twin = tmp_path / "other" / image.name
    twin.parent.mkdir()
    twin.write_bytes(image.read_bytes())
    assert main(["transcribe", str(image), str(twin), "--out", str(tmp_path / "o"), "--model", str(trained)]) == 2
    assert "same output files" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_bad_input_gives_one_line_and_nonzero_exit(trained, tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    capsys.readouterr()
    assert main(["recognize", str(broken), "--model", str(trained)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.png" in err[0]
    assert main(["recognize", str(broken), "--model", str(tmp_path / "nope")]) == 2
    assert main(["train", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 2


def test_training_warns_when_the_validation_set_is_too_small(fondue, tmp_path, capsys):
    lines = load_lines([fondue / PAGES[0]], 40)
    for i, sample in enumerate(lines.samples[:4]):
        cv2.imwrite(str(tmp_path / f"l{i}.png"), sample.image)
        (tmp_path / f"l{i}.txt").write_text(sample.text, encoding="utf-8")
    code = main(
        [
            "train",
            str(fondue / PAGES[0]),
            "--val",
            str(tmp_path),
            "--out",
            str(tmp_path / "run"),
            "--size",
            "tiny",
            "--steps",
            "1",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if line.startswith("mspt: warning:")]
    assert len(warning) == 1 and "only 4 validation lines" in warning[0]

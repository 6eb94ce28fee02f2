"""The bundled default model: it loads and says what it was trained on, it reads the bundled
sample page through our own segmentation, and `make demo` shows that page's text.

The sample page (resources/samples) is rendered by the project from public-domain text, so these
tests need nothing from ../shared. The default model (fast, 2026-12-02) scores about 2.2% page
CER on it and 0.9% line CER on its true lines (the first default: 2.5% and 0.6%); 8% leaves room
for a retrained model while a broken model, charset or pipeline lands far above."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mspt_core import models
from mspt_core.metrics import cer

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "resources" / "samples"
MAX_CER = 0.08


def whole_text(text: str) -> str:
    """Line breaks may fall differently: compare the page as one whitespace-collapsed string."""
    return " ".join(text.split())


@pytest.fixture
def no_user_models(tmp_path, monkeypatch):
    """An empty user registry, so that `default` can only be the bundled model."""
    monkeypatch.setenv("MSPT_DATA_DIR", str(tmp_path / "userdata"))


def test_bundled_default_model_loads_and_states_its_training(no_user_models):
    path = models.resolve(None)
    assert path.resolve() == (REPO / "resources" / "models" / "default").resolve()
    meta = models.read_metadata(path)
    assert meta["kind"] == "recognizer"
    provenance = meta["provenance"]
    assert isinstance(provenance.get("data"), str) and provenance["data"].strip(), "no training data stated"
    assert provenance["train_lines"] > 0 and provenance["created"] and provenance["mspt_version"]
    assert 0 <= provenance["val_cer"] < MAX_CER
    loaded = models.load_model(path)
    assert loaded.config.height == meta["line_height"]
    assert set(whole_text(SAMPLES.joinpath("sample-page.txt").read_text(encoding="utf-8"))) <= set(loaded.charset.chars)


def test_default_model_transcribes_the_sample_page_with_our_segmentation(no_user_models):
    from mspt_core.pipeline import transcribe
    from mspt_core.recognize import LineRecognizer

    reader = LineRecognizer.from_model(None, device="cpu")
    # sample-page.xml lies beside the image: use_ground_truth=False makes our segmenter find the lines.
    (page,) = transcribe([SAMPLES / "sample-page.png"], reader, use_ground_truth=False)
    assert page.metadata["segmentation"] == "mspt learned"
    truth = SAMPLES.joinpath("sample-page.txt").read_text(encoding="utf-8")
    found = [line.text for line in page.lines()]
    assert abs(len(found) - len(truth.splitlines())) <= 2
    assert cer([whole_text(truth)], [whole_text("\n".join(found))]) <= MAX_CER


def _demo_venv() -> Path:
    """The environment running these tests, if it is a venv with the `mspt` command (as after `make`)."""
    venv = Path(sys.prefix)
    if sys.prefix == sys.base_prefix or not (venv / "bin" / "mspt").exists():
        pytest.skip(f"`make demo` runs $(VENV)/bin/mspt; {venv} is not a venv with mspt installed")
    if shutil.which("make") is None:
        pytest.skip("needs `make`")
    return venv


def test_make_demo_prints_the_sample_text_and_a_line_cer(tmp_path):
    venv = _demo_venv()
    # The demo target exactly as the Makefile has it, run in a scratch folder that sees the bundled
    # resources (so out/demo lands there); -o keeps make from re-installing the venv.
    (tmp_path / "resources").symlink_to(REPO / "resources")
    done = subprocess.run(
        ["make", "-s", "-f", str(REPO / "Makefile"), "-o", str(venv / ".installed"), f"VENV={venv}", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "MSPT_DATA_DIR": str(tmp_path / "userdata")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    printed, marker, evaluation = done.stdout.partition("--- line CER of the default model")
    assert marker, done.stdout[-2000:]
    summary, _, text = printed.partition("\n")
    assert summary.split("\t")[0] == "resources/samples/sample-page.png"
    assert summary.endswith("\tmspt learned"), summary  # our segmentation, not the XML beside the image
    assert text == (tmp_path / "out" / "demo" / "sample-page.txt").read_text(encoding="utf-8")
    truth = SAMPLES.joinpath("sample-page.txt").read_text(encoding="utf-8")
    assert cer([whole_text(truth)], [whole_text(text)]) <= MAX_CER
    assert (tmp_path / "out" / "demo" / "sample-page.xml").is_file()
    line_cer = re.search(r"^CER\t([0-9.]+)$", evaluation, re.MULTILINE)
    assert line_cer, evaluation
    assert float(line_cer.group(1)) <= MAX_CER
    assert re.search(r"^lines\t(\d+)$", evaluation, re.MULTILINE).group(1) == str(len(truth.splitlines()))

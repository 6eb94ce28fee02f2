"""Model files made before the separable front end and the ONNX engine still load and read
exactly as they did: the previous bundled default (now ``small-print-v1``) against readings
recorded with the code of that time (old_default_readings.json says how)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mspt_core.data.lines import lines_from_page_xml
from mspt_core.layout import crop
from mspt_core.models import bundled_models_dir, load_model
from mspt_core.recognize import LineRecognizer
from tests.conftest import DATA

RECORDED = json.loads(Path(__file__).with_name("old_default_readings.json").read_text(encoding="utf-8"))
OLD_MODEL = bundled_models_dir() / "small-print-v1"


@pytest.fixture(scope="module")
def recorded_lines():
    if not DATA.exists():
        pytest.skip(f"needs {DATA} (the shared ground truth beside the clone); not present here")
    wanted = [r["source"] for r in RECORDED["readings"]]
    images = {}
    # The readings were recorded on crops cut before bare rows were trimmed (a share of 0 keeps
    # every row the polygon reaches, as then): the same pixels in, so only the model is tested.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crop, "ROW_SHARE", 0.0)
        for xml in sorted({source.split("#")[0] for source in wanted}):
            for sample in lines_from_page_xml(DATA / xml, 40).samples:
                images[str(Path(sample.source).relative_to(DATA))] = sample.image
    return [images[source] for source in wanted]


def test_the_old_default_loads_with_its_architecture():
    loaded = load_model(OLD_MODEL)
    assert loaded.config.frontend == "vgg" and loaded.config.ctc_frames == 1
    assert loaded.model.ctc.expand is None


def test_the_old_default_reads_as_it_did(recorded_lines):
    reader = LineRecognizer(load_model(OLD_MODEL), device="cpu", engine="torch", threads=1)
    readings = reader.read(recorded_lines)
    assert [r.text for r in readings] == [r["text"] for r in RECORDED["readings"]]
    assert [r.confidence for r in readings] == pytest.approx([r["confidence"] for r in RECORDED["readings"]], abs=2e-3)


def test_the_old_default_reads_the_same_with_onnx_runtime(recorded_lines):
    loaded = load_model(OLD_MODEL)
    by_torch = LineRecognizer(loaded, device="cpu", engine="torch").read(recorded_lines)
    by_onnx = LineRecognizer(loaded, device="cpu", engine="onnx", threads=1).read(recorded_lines)
    assert [r.text for r in by_onnx] == [r.text for r in by_torch]

"""Reading on the CPU with ONNX Runtime: the same text as PyTorch on real lines, whatever the
batch's widths; the export is made once per model and reused; PyTorch takes over, with the same
text, when ONNX cannot be used."""

from __future__ import annotations

import pytest

from mspt_core import onnx_engine
from mspt_core.data.lines import lines_from_page_xml
from mspt_core.errors import ModelFileError
from mspt_core.models import load_model, resolve
from mspt_core.recognize import LineRecognizer
from tests.conftest import split_xmls

pytestmark = pytest.mark.skipif(not onnx_engine.available(), reason="onnxruntime is not installed")


@pytest.fixture(scope="module")
def real_lines(fondue):
    """Real printed lines of very different widths (whole lines and short headings)."""
    lines = lines_from_page_xml(split_xmls(fondue, "test")[0], 40)
    return [sample.image for sample in lines.samples[:24]]


@pytest.fixture(scope="module")
def default_model():
    return load_model(resolve(None))


@pytest.fixture(scope="module")
def torch_texts(default_model, real_lines):
    return [r.text for r in LineRecognizer(default_model, device="cpu", engine="torch").read(real_lines)]


def test_onnx_reads_real_lines_as_pytorch_does(default_model, real_lines, torch_texts):
    reader = LineRecognizer(default_model, device="cpu", engine="onnx", threads=1)
    assert reader.engine == "onnx"
    readings = reader.read(real_lines)
    assert [r.text for r in readings] == torch_texts
    # One line at a time (no padding at all) and in batches of mixed widths read the same.
    reader.batch_size = 1
    assert [r.text for r in reader.read(real_lines[:6])] == torch_texts[:6]
    assert all(len(r.char_confidences) == len(r.text) == len(r.char_x) for r in readings)


def test_auto_reads_with_onnx_on_a_cpu(default_model, monkeypatch):
    from mspt_core.models import LoadedModel

    plain = LoadedModel(
        default_model.model,
        default_model.charset,
        {k: v for k, v in default_model.metadata.items() if k != "inference"},
    )
    monkeypatch.delenv("MSPT_ENGINE", raising=False)
    assert LineRecognizer(plain, device="cpu").engine == "onnx"
    monkeypatch.setenv("MSPT_ENGINE", "torch")
    assert LineRecognizer(plain, device="cpu").engine == "torch"
    monkeypatch.setenv("MSPT_ENGINE", "tensorrt")
    with pytest.raises(ModelFileError, match="MSPT_ENGINE=tensorrt"):
        LineRecognizer(plain, device="cpu")


def test_a_cache_folder_that_cannot_be_written_falls_back_to_pytorch(
    default_model, real_lines, torch_texts, tmp_path, monkeypatch, caplog
):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("MSPT_CACHE_DIR", str(tmp_path / "a-file"))
    reader = LineRecognizer(default_model, device="cpu", engine="onnx")
    assert reader.engine == "torch" and "cannot write the ONNX cache" in caplog.text
    assert [r.text for r in reader.read(real_lines[:4])] == torch_texts[:4]


def test_each_cached_graph_is_one_self_contained_file(default_model):
    path = onnx_engine.graph_for(default_model.model)
    assert path.stat().st_size > 1_000_000  # the weights are inside
    leftovers = [p.name for p in path.parent.iterdir() if p.suffix != ".onnx"]
    assert not leftovers, leftovers


def test_auto_reads_in_int8_only_where_the_model_file_allows_it(default_model, monkeypatch):
    from mspt_core.models import LoadedModel

    monkeypatch.delenv("MSPT_ENGINE", raising=False)
    allowed = LoadedModel(
        default_model.model, default_model.charset, dict(default_model.metadata, inference={"int8": True})
    )
    refused = LoadedModel(
        default_model.model, default_model.charset, dict(default_model.metadata, inference={"int8": False})
    )
    assert LineRecognizer(allowed, device="cpu").engine == "onnx-int8"
    assert LineRecognizer(refused, device="cpu").engine == "onnx"


def test_the_export_is_made_once_and_reused(default_model):
    first = onnx_engine.OnnxCTC(default_model.model).path
    stamp = first.stat().st_mtime_ns
    assert onnx_engine.OnnxCTC(default_model.model).path == first
    assert first.stat().st_mtime_ns == stamp


def test_int8_reads_nearly_the_same_text(default_model, real_lines, torch_texts):
    from mspt_core.metrics import cer

    reader = LineRecognizer(default_model, device="cpu", engine="onnx-int8", threads=1)
    assert reader.engine == "onnx-int8"
    texts = [r.text for r in reader.read(real_lines)]
    assert cer(torch_texts, texts) < 0.01


def test_a_damaged_cache_entry_falls_back_to_pytorch_and_is_dropped(default_model, real_lines, torch_texts, caplog):
    path = onnx_engine.graph_for(default_model.model)
    path.write_bytes(b"not an onnx graph")
    reader = LineRecognizer(default_model, device="cpu", engine="onnx")
    assert reader.engine == "torch"
    assert "reading with PyTorch" in caplog.text
    assert [r.text for r in reader.read(real_lines)] == torch_texts
    assert not path.exists()  # the next reader exports it again
    assert LineRecognizer(default_model, device="cpu", engine="onnx").engine == "onnx"


def test_without_onnxruntime_auto_reads_with_pytorch(default_model, real_lines, torch_texts, monkeypatch):
    monkeypatch.setattr(onnx_engine, "available", lambda: False)
    reader = LineRecognizer(default_model, device="cpu", engine="auto")
    assert reader.engine == "torch"
    assert [r.text for r in reader.read(real_lines[:4])] == torch_texts[:4]


def test_an_unknown_engine_is_refused(default_model):
    with pytest.raises(ValueError, match="engine must be one of"):
        LineRecognizer(default_model, device="cpu", engine="tensorrt")


# --- the line finder ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finder_pages(fondue, cremma, typewritten):
    """Real pages of three kinds: print, handwriting, typewriting (val)."""
    from mspt_core.formats import read_document
    from mspt_core.images import load_grey

    xmls = [split_xmls(dataset, "val")[0] for dataset in (fondue, cremma, typewritten)]
    return [load_grey(read_document(xml).image_path) for xml in xmls]


def polygons(page_image, finder) -> list[list]:
    from mspt_core.layout.segment import segment

    return [line.polygon for line in segment(page_image, method="learned", finder=finder).lines()]


def test_the_bundled_line_finder_finds_the_same_lines_with_onnx_as_with_pytorch(finder_pages):
    from mspt_core.layout import linefinder

    bundled = linefinder.bundled()
    assert bundled is not None and bundled.onnx  # what every page a user opens goes through
    with_torch = linefinder.load_line_finder(linefinder.bundled_path())
    assert not with_torch.onnx
    for page in finder_pages:
        found = polygons(page, bundled)
        assert len(found) > 10 and found == polygons(page, with_torch)
    assert bundled.onnx and bundled._onnx_net is not None  # it did run on ONNX Runtime
    assert bundled._onnx_net.path.name.startswith("finder-") and bundled._onnx_net.path.is_file()


def test_a_line_finder_onnx_cannot_run_finds_its_lines_with_pytorch(finder_pages, caplog, monkeypatch):
    from mspt_core.layout import linefinder

    with_torch = polygons(finder_pages[0], linefinder.load_line_finder(linefinder.bundled_path()))
    cached = linefinder.load_line_finder(linefinder.bundled_path(), onnx=True)
    polygons(finder_pages[0], cached)
    graph = cached._onnx_net.path
    graph.write_bytes(b"not an onnx graph")  # a damaged cache entry
    damaged = linefinder.load_line_finder(linefinder.bundled_path(), onnx=True)
    assert polygons(finder_pages[0], damaged) == with_torch
    assert not damaged.onnx and "the line finder runs on PyTorch" in caplog.text
    assert not graph.exists()  # dropped: the next finder exports it again
    monkeypatch.setattr(onnx_engine, "available", lambda: False)
    missing = linefinder.load_line_finder(linefinder.bundled_path(), onnx=True)
    assert polygons(finder_pages[0], missing) == with_torch and not missing.onnx


def test_the_line_finder_can_be_kept_off_onnx(finder_pages, monkeypatch):
    from mspt_core.layout import linefinder

    monkeypatch.setenv("MSPT_FINDER_ENGINE", "torch")  # a user's way round ONNX Runtime
    finder = linefinder.load_line_finder(linefinder.bundled_path(), onnx=True)
    asked = []
    monkeypatch.setattr(onnx_engine.OnnxLineNet, "__init__", lambda *made: asked.append(made))
    assert len(polygons(finder_pages[0], finder.ready())) > 10
    assert not asked and finder._onnx_net is None


def test_a_frozen_bundle_without_the_finder_s_source_still_runs_it_on_onnx(finder_pages, monkeypatch, tmp_path):
    # PyInstaller ships bytecode only: the graph's key then leaves the source file out
    from mspt_core.layout import linefinder

    with_torch = polygons(finder_pages[0], linefinder.load_line_finder(linefinder.bundled_path()))
    monkeypatch.setattr(onnx_engine, "FINDER_CODE", tmp_path / "linefinder.py")  # not there
    frozen = linefinder.load_line_finder(linefinder.bundled_path(), onnx=True)
    assert polygons(finder_pages[0], frozen) == with_torch
    assert frozen.onnx and frozen._onnx_net is not None


def test_a_line_reads_the_same_in_int8_whichever_lines_share_its_page(cremma):
    """int8 scales an input's activations together: read among the other lines of its page, two
    at a time or one after the other, a line must read exactly as it reads alone (deleting a line
    must not change its neighbours' text)."""
    xml = split_xmls(cremma, "val")[0]
    lines = [sample.image for sample in lines_from_page_xml(xml, 40).samples]
    assert len(lines) >= 10
    model = load_model(resolve("handwriting"))
    readers = [
        LineRecognizer(model, device="cpu", engine="onnx-int8", threads=threads, language_model=False)
        for threads in (1, 2)
    ]
    assert all(reader.engine == "onnx-int8" for reader in readers)
    alone = [readers[0].read([line])[0].text for line in lines]
    for reader in readers:
        assert [r.text for r in reader.read(lines)] == alone
        # Read again without its first line, the rest read as before.
        assert [r.text for r in reader.read(lines[1:])] == alone[1:]
        assert reader.engine == "onnx-int8"  # still ONNX Runtime (PyTorch would not show it)

"""Shared fixtures. Real ground truth lives in ../shared/data beside the clone; a user's clone
has none, so tests needing it skip with a clear reason (CI always has it)."""

from __future__ import annotations

import csv
import importlib.util
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from mspt_core.data.splits import split_xmls  # noqa: F401  (the tests import it from here)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MSPT_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
SCHEMAS = SHARED / "schemas"


def load_script(relative: str):
    """A script of the repository that is not in a package (a recipe under packaging/), as a module."""
    spec = importlib.util.spec_from_file_location(Path(relative).stem + "_script", REPO / relative)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def precision_on_this_cpu() -> str:
    """The precision a new training run takes on this machine's CPU, as model files record it."""
    import torch

    from mspt_core.devices import autocast_dtype, precision_name

    return precision_name(autocast_dtype(torch.device("cpu")))


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Most tests read with tiny models they have just trained; exporting each to ONNX would cost
# ~10 s apiece, so tests read with PyTorch unless they ask for an engine
# (tests/core/test_onnx_engine.py tests ONNX, and that the default is ONNX on a CPU).
os.environ.setdefault("MSPT_ENGINE", "torch")


@pytest.fixture(scope="session", autouse=True)
def onnx_cache(tmp_path_factory):
    """ONNX exports of one test session go to a folder of their own, not the user's cache."""
    os.environ["MSPT_CACHE_DIR"] = str(tmp_path_factory.mktemp("mspt-cache"))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the shared ground truth beside the clone); not present here")
    return path


@pytest.fixture(scope="session")
def fondue() -> Path:
    """Printed English ground truth: page images + ALTO with SPLIT.tsv and MANIFEST.tsv."""
    return _require(DATA / "fondue-en-print-20")


@pytest.fixture(scope="session")
def cremma() -> Path:
    """Handwritten 19th-century French ground truth, same layout as ``fondue``."""
    return _require(DATA / "cremma-mss-19-handwritten-fr")


@pytest.fixture(scope="session")
def typewritten() -> Path:
    """Typewritten English and German ground truth (EHRI), same layout as ``fondue``; two of its
    train pages spell "ä" and "ö" with Cyrillic lookalikes."""
    return _require(DATA / "ehri-typewritten-en-de")


@pytest.fixture(scope="session")
def old_print() -> Path:
    """Printed 16th-century French ground truth, same layout as ``fondue``: the bundled default
    misreads about a tenth of its characters, so a few steps of fine-tuning visibly help."""
    return _require(DATA / "gallicorpora-print-16-fr")


@pytest.fixture(scope="session")
def schemas() -> Path:
    return _require(SCHEMAS)


def manifest(dataset: Path) -> list[dict[str, str]]:
    with open(dataset / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


# --- real pages, downscaled: what the project and app tests open -----------------------------


def _image_of(xml: Path) -> Path:
    return next(xml.with_suffix(s) for s in (".png", ".jpg", ".jpeg", ".tif") if xml.with_suffix(s).exists())


def _half(source: Path, dest: Path) -> Path:
    with Image.open(source) as image:
        image.convert("L").resize((image.width // 2, image.height // 2)).save(dest)
    return dest


@pytest.fixture(scope="session")
def fondue_page(fondue, tmp_path_factory) -> Path:
    """A real printed page at half size, alone in its folder (no ground truth beside it)."""
    image = _image_of(split_xmls(fondue, "test")[0])
    return _half(image, tmp_path_factory.mktemp("fondue") / f"{image.stem}.png")


@pytest.fixture(scope="session")
def fondue_export(fondue, tmp_path_factory) -> Path:
    """An eScriptorium export in miniature: two real page images with their ALTO files."""
    folder = tmp_path_factory.mktemp("export")
    for xml in split_xmls(fondue, "test")[:2]:
        image = _image_of(xml)
        shutil.copy(image, folder / image.name)
        shutil.copy(xml, folder / xml.name)
    return folder


def _halved_export(fondue, split: str, folder: Path) -> Path:
    """Two real pages of a split at half size, with their lines as PAGE XML (coordinates halved)."""
    from mspt_core.formats import read_document, write_document

    for xml in split_xmls(fondue, split)[:2]:
        image = _half(_image_of(xml), folder / f"{xml.stem}.png")
        page = read_document(xml)
        half = lambda points: [(x / 2, y / 2) for x, y in points]  # noqa: E731
        page.width, page.height, page.image_path = page.width // 2, page.height // 2, image
        for region in page.regions:
            region.polygon = half(region.polygon)
            for line in region.lines:
                line.polygon, line.baseline, line.words = half(line.polygon), half(line.baseline), []
        write_document(page, folder / f"{xml.stem}.xml", "page")
    return folder


@pytest.fixture(scope="session")
def small_export(fondue, tmp_path_factory) -> Path:
    """Like ``fondue_export`` at half size (PAGE XML with the coordinates halved): the same
    real pages and lines at a quarter of the pixels, to keep the tests quick."""
    return _halved_export(fondue, "test", tmp_path_factory.mktemp("small-export"))


@pytest.fixture(scope="session")
def small_train_export(fondue, tmp_path_factory) -> Path:
    """Two train-split pages at half size with their transcriptions: what training may see."""
    return _halved_export(fondue, "train", tmp_path_factory.mktemp("small-train-export"))

"""Shared fixtures. Real ground truth lives in ../shared/data beside the clone; a user's clone
has none, so tests needing it skip with a clear reason (CI always has it)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MSPT_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
SCHEMAS = SHARED / "schemas"

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
def schemas() -> Path:
    return _require(SCHEMAS)


def split_xmls(dataset: Path, split: str) -> list[Path]:
    """ALTO files of one split (train / val / test) of a shared dataset, in SPLIT.tsv order."""
    with open(dataset / "SPLIT.tsv", newline="", encoding="utf-8") as f:
        return [dataset / row["xml"] for row in csv.DictReader(f, delimiter="\t") if row["split"] == split]


def manifest(dataset: Path) -> list[dict[str, str]]:
    with open(dataset / "MANIFEST.tsv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))

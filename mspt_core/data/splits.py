"""Fixed train / val / test splits of a ground-truth set: a ``SPLIT.tsv`` in the set's folder,
tab-separated with a header, one row per PAGE/ALTO file (columns ``xml``: its path relative to
the folder, ``split``: train, val or test). The shared sets of ``../shared/data`` come so; the
tests, the benchmarks and the recipes read them here."""

from __future__ import annotations

import csv
from pathlib import Path

from mspt_core.errors import DataError

SPLIT_FILE = "SPLIT.tsv"


def has_splits(dataset: Path) -> bool:
    """Whether ``dataset`` is a folder with a split file."""
    return (Path(dataset) / SPLIT_FILE).is_file()


def split_xmls(dataset: Path, split: str) -> list[Path]:
    """The PAGE/ALTO files of one split of ``dataset``, in the split file's order."""
    dataset = Path(dataset)
    try:
        with open(dataset / SPLIT_FILE, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as error:
        raise DataError(f"{dataset / SPLIT_FILE}: cannot read the splits ({error.strerror or error})") from error
    try:
        return [dataset / row["xml"] for row in rows if row["split"] == split]
    except KeyError as error:
        raise DataError(f"{dataset / SPLIT_FILE}: no column {error} (needs 'xml' and 'split')") from None

"""SPLIT.tsv, the fixed splits of a ground-truth set, read in one place."""

import pytest

from mspt_core.data.splits import has_splits, split_xmls
from mspt_core.errors import DataError


def test_a_split_lists_its_files_in_file_order(tmp_path):
    (tmp_path / "SPLIT.tsv").write_text("xml\tsplit\nb.xml\ttrain\na.xml\ttest\nc/d.xml\ttrain\n", encoding="utf-8")
    assert has_splits(tmp_path)
    assert split_xmls(tmp_path, "train") == [tmp_path / "b.xml", tmp_path / "c/d.xml"]
    assert split_xmls(tmp_path, "val") == []


def test_a_set_without_splits_is_a_data_error(tmp_path):
    assert not has_splits(tmp_path)
    with pytest.raises(DataError, match="SPLIT.tsv"):
        split_xmls(tmp_path, "train")
    (tmp_path / "SPLIT.tsv").write_text("file\tpart\nb.xml\ttrain\n", encoding="utf-8")
    with pytest.raises(DataError, match="needs 'xml' and 'split'"):
        split_xmls(tmp_path, "train")


def test_the_shared_sets_have_splits(fondue):
    assert has_splits(fondue)
    assert {p.suffix for p in split_xmls(fondue, "test")} == {".xml"}

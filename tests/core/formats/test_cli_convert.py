"""`mspt convert`: files and folders in, one output per page (XML) or per document."""

from __future__ import annotations

import shutil

from mspt_core.cli import main
from mspt_core.formats import read_document
from tests.conftest import split_xmls


def test_convert_alto_to_page_and_back(fondue, tmp_path, capsys):
    srcs = split_xmls(fondue, "val")[:2]
    assert main(["convert", *map(str, srcs), "--to", "page", "--out", str(tmp_path / "pagexml")]) == 0
    written = sorted((tmp_path / "pagexml").iterdir())
    assert [p.name for p in written] == sorted(p.name for p in srcs)
    assert main(["convert", str(tmp_path / "pagexml"), "--to", "alto", "--out", str(tmp_path / "alto")]) == 0
    for src in srcs:
        assert read_document(tmp_path / "alto" / src.name) == read_document(src)
    assert main(["convert", str(tmp_path / "pagexml"), "--to", "txt", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "pagexml.txt").read_text(encoding="utf-8").count("\f") == 1


def test_convert_bad_input_fails_cleanly_and_writes_nothing(fondue, tmp_path, capsys):
    good = split_xmls(fondue, "val")[0]
    bad = tmp_path / "bad.xml"
    bad.write_text('<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">\n<Layout>\n</alto>', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["convert", str(good), str(bad), "--to", "page", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.xml" in err and "line 3" in err
    assert not out.exists() or not any(out.iterdir())


def test_convert_folder_skips_non_document_xml(fondue, tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    src = split_xmls(fondue, "val")[0]
    shutil.copy(src, folder / src.name)
    (folder / "mets.xml").write_text('<mets xmlns="http://www.loc.gov/METS/"/>', encoding="utf-8")
    assert main(["convert", str(folder), "--to", "hocr", "--out", str(tmp_path / "o"), "--name", "book"]) == 0
    assert (tmp_path / "o" / "book.hocr").exists()
    assert "mets.xml: skipped" in capsys.readouterr().err

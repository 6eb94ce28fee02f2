"""`mspt convert`: files and folders in, one output per page (XML) or per document."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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


SAMPLE = Path(__file__).resolve().parents[3] / "resources" / "samples" / "sample-page.xml"


def _page_naming(xml: Path, image_name: str) -> Path:
    """The sample PAGE file at ``xml``, naming ``image_name`` as its page image."""
    xml.parent.mkdir(parents=True, exist_ok=True)
    text = SAMPLE.read_text(encoding="utf-8")
    xml.write_text(text.replace('imageFilename="sample-page.png"', f'imageFilename="{image_name}"'), encoding="utf-8")
    return xml


@pytest.mark.parametrize("name", ["../private/scan.png", "ABSOLUTE", "file://ABSOLUTE"])
def test_a_foreign_file_cannot_pull_an_image_from_elsewhere_into_a_pdf(tmp_path, capsys, name):
    private = tmp_path / "private" / "scan.png"
    private.parent.mkdir()
    shutil.copy(SAMPLE.with_suffix(".png"), private)
    foreign = _page_naming(tmp_path / "download" / "foreign.xml", name.replace("ABSOLUTE", str(private)))
    out = tmp_path / "out"
    assert main(["convert", str(foreign), "--to", "pdf", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mspt: error: ") and str(foreign) in err[0]
    assert str(private) in err[0] and "--allow-outside-images" in err[0] and "Traceback" not in err[0]
    assert not out.exists() or not any(out.iterdir())
    assert main(["convert", str(foreign), "--to", "pdf", "--out", str(out), "--allow-outside-images"]) == 0
    assert (out / "foreign.pdf").stat().st_size > 0


@pytest.mark.parametrize("layout", ["beside", "transkribus", "mspt-project", "subfolder"])
def test_images_inside_the_documents_folder_go_into_a_pdf(tmp_path, capsys, layout):
    xml, image, name = {
        "beside": ("doc/p.xml", "doc/p.png", "p.png"),
        "transkribus": ("doc/page/p.xml", "doc/p.png", "p.png"),  # XML in page/, images above it
        "mspt-project": ("doc/page/p.xml", "doc/p.png", "../p.png"),
        "subfolder": ("doc/p.xml", "doc/images/p.png", "images/p.png"),
    }[layout]
    (tmp_path / image).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE.with_suffix(".png"), tmp_path / image)
    _page_naming(tmp_path / xml, name)
    assert main(["convert", str(tmp_path / xml), "--to", "pdf", "--out", str(tmp_path / "out")]) == 0, (
        capsys.readouterr().err
    )

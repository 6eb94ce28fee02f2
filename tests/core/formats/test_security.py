"""Hostile and broken files are refused with a message naming the file (and the line, for
malformed XML); no entity is ever expanded and no external file is ever read."""

from __future__ import annotations

import os

import pytest

from mspt_core.errors import FormatError
from mspt_core.formats import atomic_write, read_document

ALTO_HEAD = '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">'


def _alto_body(content: str) -> str:
    return (
        f'{ALTO_HEAD}<Layout><Page ID="p" WIDTH="100" HEIGHT="100" PHYSICAL_IMG_NR="1"><PrintSpace>'
        f'<TextBlock ID="b"><TextLine ID="l" BASELINE="0 10 50 10" HPOS="0" VPOS="0" WIDTH="50" HEIGHT="12">'
        f'<String CONTENT="{content}"/></TextLine></TextBlock></PrintSpace></Page></Layout></alto>'
    )


def test_xxe_file_is_refused_and_secret_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    evil = tmp_path / "xxe.xml"
    evil.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE alto [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>\n' + _alto_body("&xxe;"),
        encoding="utf-8",
    )
    with pytest.raises(FormatError) as info:
        read_document(evil)
    assert str(evil) in str(info.value) and "refused" in str(info.value)
    assert "TOP-SECRET" not in str(info.value)


def test_billion_laughs_is_refused_quickly(tmp_path):
    ents = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE alto [' + "".join(ents) + "]>\n" + _alto_body("&lol9;"), encoding="utf-8"
    )
    with pytest.raises(FormatError, match="refused"):
        read_document(bomb)


def test_doctype_hidden_after_long_prolog_is_still_refused(tmp_path):
    # The cheap byte check only looks at the start; the parser's own record catches the rest.
    padded = tmp_path / "padded.xml"
    padded.write_text(
        '<?xml version="1.0"?>\n<!--' + "x" * 10000 + '-->\n<!DOCTYPE alto [<!ENTITY e "boom">]>\n' + _alto_body("&e;"),
        encoding="utf-8",
    )
    with pytest.raises(FormatError, match="refused"):
        read_document(padded)


def test_malformed_xml_names_file_and_line(tmp_path):
    bad = tmp_path / "broken.xml"
    text = _alto_body("ok").replace("</TextLine>", "</TextLin>")
    bad.write_text('<?xml version="1.0"?>\n\n\n' + text.replace("<TextBlock", "\n<TextBlock"), encoding="utf-8")
    with pytest.raises(FormatError) as info:
        read_document(bad)
    assert str(bad) in str(info.value)
    assert "line 5" in str(info.value)


def test_not_a_document_and_bad_numbers_are_clear(tmp_path):
    other = tmp_path / "other.xml"
    other.write_text("<html/>", encoding="utf-8")
    with pytest.raises(FormatError, match="neither PAGE XML nor ALTO"):
        read_document(other)
    nan = tmp_path / "nan.xml"
    nan.write_text(_alto_body("x").replace('BASELINE="0 10 50 10"', 'BASELINE="0 10 fifty 10"'), encoding="utf-8")
    with pytest.raises(FormatError, match=r"nan\.xml:1: bad point list"):
        read_document(nan)


def test_atomic_write_leaves_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "doc.xml"
    atomic_write(target, b"old")

    def explode(f):
        f.write(b"half a fi")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["doc.xml"]  # no temporary file left behind
    atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"

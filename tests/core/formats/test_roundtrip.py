"""Round trips on every shared ALTO file: ALTO → ALTO and ALTO → PAGE → ALTO keep every
coordinate, baseline, text, confidence, reading-order position, ID and line type; what we
write validates against the ALTO 4.4 and PAGE 2019 schemas."""

from __future__ import annotations

from lxml import etree

from mspt_core.formats import read_document, to_bytes, write_document

A = "{http://www.loc.gov/standards/alto/ns-v4#}"


def _nums(value: str | None) -> list[float]:
    return [float(v) for v in (value or "").replace(",", " ").split()]


def _alto_facts(root: etree._Element) -> list[tuple]:
    """What a round trip must keep, straight from the XML: per block and line, in file order."""
    labels = {t.get("ID"): t.get("LABEL") for t in root.iter(f"{A}OtherTag")}
    facts = [("page", root.find(f"{A}Layout/{A}Page").get("ID"))]
    for block in root.iter(f"{A}TextBlock"):
        facts.append(
            (
                "block",
                block.get("ID"),
                labels.get((block.get("TAGREFS") or "").split()[0]),
                _nums(block.find(f"{A}Shape/{A}Polygon").get("POINTS")),
                [_nums(block.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")],
            )
        )
        for line in block.iter(f"{A}TextLine"):
            s = line.find(f"{A}String")
            facts.append(
                (
                    "line",
                    line.get("ID"),
                    labels.get(line.get("TAGREFS").split()[0]),
                    _nums(line.get("BASELINE")),
                    _nums(line.find(f"{A}Shape/{A}Polygon").get("POINTS")),
                    [_nums(line.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")],
                    s.get("CONTENT"),
                    s.get("WC"),
                )
            )
    return facts


def _reparse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def test_alto_roundtrips_are_exact_and_valid(alto_files, alto_schema, page_schema, tmp_path):
    for src in alto_files:
        page = read_document(src)
        # ALTO -> ALTO, written beside the source so the image reference stays the same name.
        out = src.parent / "x.xml"  # never written: to_bytes only uses it for relative paths
        alto_bytes = to_bytes(page, out, "alto")
        alto_root = _reparse(alto_bytes)
        assert alto_schema.validate(alto_root), (src, alto_schema.error_log.last_error)
        assert _alto_facts(alto_root) == _alto_facts(etree.parse(str(src)).getroot()), src
        # ALTO -> PAGE -> ALTO through real files in another folder.
        page_path = write_document(page, tmp_path / "page" / src.name, "page")
        assert page_schema.validate(etree.parse(str(page_path))), (src, page_schema.error_log.last_error)
        via_page = read_document(page_path)
        assert via_page.image_path == page.image_path
        alto2 = write_document(via_page, tmp_path / "alto" / src.name, "alto")
        again = read_document(alto2)
        assert again == page, src
        assert _alto_facts(etree.parse(str(alto2)).getroot()) == _alto_facts(etree.parse(str(src)).getroot())
        # PAGE -> PAGE keeps the model too, metadata included.
        assert read_document(write_document(via_page, tmp_path / "page2" / src.name, "page")) == via_page


def test_same_folder_write_keeps_image_name(alto_files):
    src = alto_files[0]
    root = _reparse(to_bytes(read_document(src), src, "alto"))
    orig = etree.parse(str(src)).getroot()
    name = f"{A}Description/{A}sourceImageInformation/{A}fileName"
    assert root.findtext(name) == orig.findtext(name)
    assert root.find(f"{A}Tags") is not None
    assert [t.attrib for t in root.iter(f"{A}OtherTag")] == [t.attrib for t in orig.iter(f"{A}OtherTag")]

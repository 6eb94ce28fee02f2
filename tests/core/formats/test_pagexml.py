"""PAGE XML as Transkribus and eScriptorium write it (2013 namespace, custom attributes,
reading order, words and glyphs, elements we do not model)."""

from __future__ import annotations

from lxml import etree

from mspt_core.document import LineStatus
from mspt_core.formats import read_document, to_bytes, write_document

NS13 = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"
P = "{http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15}"

# A Transkribus-style export: the regions appear in the file in the opposite of reading order,
# lines carry custom readingOrder indices, the second region has a TextStyle we do not model.
TRANSKRIBUS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<PcGts xmlns="{NS13}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Metadata>
    <Creator>prov=READ-COOP:name=PyLaia@TranskribusPlatform</Creator>
    <Created>2021-03-04T10:00:00.000+01:00</Created>
    <LastChange>2021-03-05T11:00:00.000+01:00</LastChange>
  </Metadata>
  <Page imageFilename="0001.jpg" imageWidth="1000" imageHeight="1400">
    <ReadingOrder>
      <OrderedGroup id="ro_1" caption="Regions reading order">
        <RegionRefIndexed index="1" regionRef="r_body"/>
        <RegionRefIndexed index="0" regionRef="r_head"/>
      </OrderedGroup>
    </ReadingOrder>
    <TextRegion orientation="0.0" type="paragraph" id="r_body"
        custom="readingOrder {{index:1;}} structure {{type:MainZone;}}">
      <Coords points="90,300 910,300 910,700 90,700"/>
      <TextLine id="l_2" custom="readingOrder {{index:1;}}">
        <Coords points="100,420 900,420 900,480 100,480"/>
        <Baseline points="100,470 900,468"/>
        <TextEquiv conf="0.5"><Unicode>second line</Unicode></TextEquiv>
      </TextLine>
      <TextLine id="l_1"
        custom="readingOrder {{index:0;}} structure {{type:DefaultLine;}} textStyle {{offset:0; length:5;bold:true;}}">
        <Coords points="100,320 900,320 900,380 100,380"/>
        <Baseline points="100,370 900,371"/>
        <Word id="w_1">
          <Coords points="100,320 300,320 300,380 100,380"/>
          <Glyph id="g_1"><Coords points="100,320 150,320 150,380 100,380"/><TextEquiv
              conf="0.9"><Unicode>œ</Unicode></TextEquiv></Glyph>
          <TextEquiv conf="0.8"><Unicode>œuvre</Unicode></TextEquiv>
        </Word>
        <Word id="w_2">
          <Coords points="320,320 500,320 500,380 320,380"/>
          <TextEquiv><Unicode>e\u0301te\u0301</Unicode></TextEquiv>
        </Word>
        <TextEquiv index="1" conf="0.3"><Unicode>oeuvre ete</Unicode></TextEquiv>
        <TextEquiv index="0" conf="0.75"><Unicode>œuvre e\u0301te\u0301</Unicode></TextEquiv>
        <TextStyle fontSize="11.0" bold="true"/>
      </TextLine>
      <TextEquiv><Unicode>stale region text</Unicode></TextEquiv>
    </TextRegion>
    <TextRegion id="r_head" custom="readingOrder {{index:0;}} structure {{type:heading;}}">
      <Coords points="90,100 910,100 910,200 90,200"/>
      <TextLine id="l_h">
        <Coords points="100,110 900,110 900,190 100,190"/>
        <Baseline points="100,180 900,180"/>
        <TextEquiv><Unicode>CHAPTER I</Unicode></TextEquiv>
      </TextLine>
    </TextRegion>
    <SeparatorRegion id="sep_1"><Coords points="90,250 910,250 910,255 90,255"/></SeparatorRegion>
  </Page>
</PcGts>
"""


def _write_export(tmp_path):
    # Transkribus layout: images in the document folder, PAGE files in page/.
    (tmp_path / "0001.jpg").write_bytes(b"")
    (tmp_path / "page").mkdir()
    path = tmp_path / "page" / "0001.xml"
    path.write_text(TRANSKRIBUS, encoding="utf-8")
    return path


def test_reads_transkribus_2013_export(tmp_path):
    page = read_document(_write_export(tmp_path))
    assert page.image_path == (tmp_path / "0001.jpg").resolve()
    assert [r.id for r in page.regions] == ["r_head", "r_body"]
    assert [r.region_type for r in page.regions] == ["heading", "MainZone"]
    assert [ln.id for ln in page.lines()] == ["l_h", "l_1", "l_2"]
    l1 = page.regions[1].lines[0]
    assert l1.text == "œuvre été"  # lowest TextEquiv index wins, NFC
    assert l1.confidence == 0.75 and l1.line_type == "DefaultLine"
    assert l1.baseline == [(100, 370), (900, 371)]
    assert [w.text for w in l1.words] == ["œuvre", "été"]
    assert l1.words[0].confidence == 0.8 and l1.words[0].glyphs[0].text == "œ"
    assert page.metadata["Creator"].startswith("prov=READ-COOP")
    assert l1.status is LineStatus.RECOGNIZED


def test_page_roundtrip_keeps_unknown_elements_and_validates(tmp_path, page_schema):
    page = read_document(_write_export(tmp_path))
    page.regions[1].lines[1].status = LineStatus.CORRECTED
    page.regions[1].lines[1].char_confidences = [0.5, 0.25, 1.0]
    out = write_document(page, tmp_path / "out" / "0001.xml", "page")
    tree = etree.parse(str(out))
    assert page_schema.validate(tree), page_schema.error_log.last_error
    again = read_document(out)
    assert again == page
    root = tree.getroot()
    assert root.find(f".//{P}TextStyle").get("fontSize") == "11.0"  # kept, in the 2019 namespace
    assert root.find(f".//{P}SeparatorRegion").get("id") == "sep_1"
    alt = [te for te in root.iter(f"{P}TextEquiv") if te.get("index") == "1"]
    assert alt and alt[0].findtext(f"{P}Unicode") == "oeuvre ete"
    assert "textStyle {offset:0; length:5;bold:true;}" in root.find(f".//{P}TextLine[@id='l_1']").get("custom")
    assert again.metadata["Created"] == "2021-03-04T10:00:00.000+01:00"


def test_what_segmentation_said_of_a_page_comes_back_beside_others_metadata_items(tmp_path, page_schema):
    # a project's page keeps which lines mspt found itself (those it does not look for again
    # before reading), and someone else's MetadataItem stays as it was
    page = read_document(_write_export(tmp_path))
    page.metadata.update({"segmentation": "mspt learned", "skew_degrees": "1.25", "page_turn": "90"})
    out = write_document(page, tmp_path / "out" / "0001.xml", "page")
    tree = etree.parse(str(out))
    assert page_schema.validate(tree), page_schema.error_log.last_error
    items = tree.getroot().findall(f"{P}Metadata/{P}MetadataItem")
    assert [(i.get("name"), i.get("value")) for i in items] == [
        ("mspt:segmentation", "mspt learned"),
        ("mspt:skew_degrees", "1.25"),
        ("mspt:page_turn", "90"),
    ]
    again = read_document(out)
    assert {k: again.metadata[k] for k in ("segmentation", "skew_degrees", "page_turn")} == {
        "segmentation": "mspt learned",
        "skew_degrees": "1.25",
        "page_turn": "90",
    }
    foreign = out.read_text(encoding="utf-8").replace(
        "</Metadata>", '<MetadataItem type="other" name="scanner" value="Zeutschel"/></Metadata>'
    )
    out.write_text(foreign, encoding="utf-8")
    kept = write_document(read_document(out), tmp_path / "again" / "0001.xml", "page")
    tree = etree.parse(str(kept))
    assert page_schema.validate(tree), page_schema.error_log.last_error
    names = [i.get("name") for i in tree.getroot().iter(f"{P}MetadataItem")]
    assert names.count("scanner") == 1 and names.count("mspt:segmentation") == 1


def test_page_to_alto_reports_what_alto_cannot_hold(tmp_path, alto_schema):
    page = read_document(_write_export(tmp_path))
    page.regions[1].lines[1].status = LineStatus.CORRECTED
    notes: list[str] = []
    data = to_bytes(page, tmp_path / "out.xml", "alto", notes)
    assert alto_schema.validate(etree.fromstring(data)), alto_schema.error_log.last_error
    text = "\n".join(notes)
    assert "PAGE-only" in text and "status" in text and "metadata" in text
    back = read_document(write_document(page, tmp_path / "a.xml", "alto"))
    assert [ln.text for ln in back.lines()] == [ln.text for ln in page.lines()]
    assert [w.text for w in back.regions[1].lines[0].words] == ["œuvre", "été"]
    assert [ln.baseline for ln in back.lines()] == [ln.baseline for ln in page.lines()]


def test_recognizer_output_saves_and_validates(tmp_path, page_schema, alto_schema):
    """A page as the app makes it: no source file, status and per-character confidences set."""
    from mspt_core.document import Line, Page, Region, Word

    line = Line(
        id="l1",
        polygon=[(10, 10), (200, 12), (200, 60), (10, 58)],
        baseline=[(10, 50), (200, 52)],
        text="Hello world-",
        confidence=0.875,
        char_confidences=[0.5] * 12,
        status=LineStatus.CORRECTED,
        line_type="DefaultLine",
        words=[
            Word("w1", "Hello", [(10, 10), (90, 10), (90, 60), (10, 60)], 0.9),
            Word("w2", "world", [(100, 10), (190, 10), (190, 60), (100, 60)], 0.85),
        ],
    )
    empty = Line(id="l2", polygon=[(10, 70), (200, 70), (200, 120), (10, 120)])
    page = Page(
        width=300,
        height=400,
        image_path=tmp_path / "scan.png",
        id="scan",
        regions=[Region("r1", [(5, 5), (250, 5), (250, 150), (5, 150)], [line, empty], "MainZone")],
    )
    out = write_document(page, tmp_path / "scan.xml", "page")
    assert page_schema.validate(etree.parse(str(out))), page_schema.error_log.last_error
    again = read_document(out)
    assert again.regions == page.regions and again.image_path == page.image_path
    alto_bytes = to_bytes(page, tmp_path / "scan_alto.xml", "alto")
    assert alto_schema.validate(etree.fromstring(alto_bytes)), alto_schema.error_log.last_error
    back = read_document(write_document(page, tmp_path / "scan_alto.xml", "alto")).regions[0].lines[0]
    assert back.text == "Hello world-" and [w.text for w in back.words] == ["Hello", "world"]
    assert [w.confidence for w in back.words] == [0.9, 0.85]

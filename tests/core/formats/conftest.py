"""Fixtures for the format tests: every shared ALTO file, read once per session, and the
schemas with a local stand-in for the xlink schema ALTO imports (validation never goes online)."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import manifest

# The xlink attributes ALTO uses (xlink:simpleLink), declared locally: the ALTO schema imports
# the W3C xlink schema by URL, and validation must not reach the network.
XLINK_STANDIN = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/1999/xlink"
           xmlns:xlink="http://www.w3.org/1999/xlink" attributeFormDefault="qualified">
  <xs:attributeGroup name="simpleLink">
    <xs:attribute name="type" type="xs:string" fixed="simple"/>
    <xs:attribute name="href" type="xs:anyURI"/>
    <xs:attribute name="role" type="xs:string"/>
    <xs:attribute name="arcrole" type="xs:string"/>
    <xs:attribute name="title" type="xs:string"/>
    <xs:attribute name="show" type="xs:string"/>
    <xs:attribute name="actuate" type="xs:string"/>
  </xs:attributeGroup>
</xs:schema>
"""

_OFFLINE = dict(resolve_entities=False, no_network=True, load_dtd=False)


@pytest.fixture(scope="session")
def alto_files(fondue, cremma) -> list[Path]:
    """Every ALTO file of both shared sets, in MANIFEST order, with its manifest row."""
    return [ds / row["xml"] for ds in (fondue, cremma) for row in manifest(ds)]


@pytest.fixture(scope="session")
def alto_schema(schemas, tmp_path_factory) -> etree.XMLSchema:
    folder = tmp_path_factory.mktemp("xsd")
    (folder / "xlink.xsd").write_text(XLINK_STANDIN, encoding="utf-8")
    doc = etree.parse(str(schemas / "alto-4-4.xsd"), etree.XMLParser(**_OFFLINE))
    XS = "{http://www.w3.org/2001/XMLSchema}"
    imports = doc.getroot().findall(f"{XS}import")
    assert [i.get("namespace") for i in imports] == ["http://www.w3.org/1999/xlink"]
    imports[0].set("schemaLocation", (folder / "xlink.xsd").as_uri())
    return etree.XMLSchema(doc)


@pytest.fixture(scope="session")
def page_schema(schemas) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schemas / "page-2019-07-15.xsd"), etree.XMLParser(**_OFFLINE)))

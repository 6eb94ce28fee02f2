"""Every ALTO file of the shared ground truth reads with the line counts and character counts
of its MANIFEST, and with the text, baselines, polygons and line types found by parsing the XML
independently here (plain lxml, no mspt code)."""

from __future__ import annotations

import unicodedata
from collections import Counter

from lxml import etree

from mspt_core.document import Page
from mspt_core.formats import read_document
from tests.conftest import manifest

A = "{http://www.loc.gov/standards/alto/ns-v4#}"


def _independent(path) -> list[dict]:
    root = etree.parse(str(path)).getroot()
    labels = {t.get("ID"): t.get("LABEL") for t in root.iter(f"{A}OtherTag")}
    out = []
    for line in root.iter(f"{A}TextLine"):
        nums = [float(v) for v in line.get("BASELINE").replace(",", " ").split()]
        poly = [float(v) for v in line.find(f"{A}Shape/{A}Polygon").get("POINTS").replace(",", " ").split()]
        strings = line.findall(f"{A}String")
        wc = strings[0].get("WC")
        out.append(
            {
                "id": line.get("ID"),
                "text": "".join(s.get("CONTENT") for s in strings),
                "baseline": list(zip(nums[0::2], nums[1::2], strict=False)),
                "polygon": list(zip(poly[0::2], poly[1::2], strict=False)),
                "type": labels[line.get("TAGREFS").split()[0]],
                "conf": None if wc is None else float(wc),
            }
        )
    return out


def _check_dataset(dataset) -> None:
    for row in manifest(dataset):
        path = dataset / row["xml"]
        page: Page = read_document(path)
        lines = list(page.lines())
        assert len(lines) == int(row["lines"]), path
        assert sum(len(ln.text.strip()) for ln in lines) == int(row["chars"]), path
        assert (page.width, page.height) == (int(row["width"]), int(row["height"])), path
        assert page.image_path == (dataset / row["image"]).resolve() and page.image_path.is_file()
        want_types = dict(kv.split("=") for kv in row["line_types"].split(";"))
        assert Counter(ln.line_type for ln in lines) == {k: int(v) for k, v in want_types.items()}, path
        expected = _independent(path)
        assert [ln.id for ln in lines] == [e["id"] for e in expected], path  # reading order = file order
        for ln, e in zip(lines, expected, strict=True):
            assert ln.text == unicodedata.normalize("NFC", e["text"]), ln.id
            assert ln.baseline == e["baseline"], ln.id
            assert ln.polygon == e["polygon"], ln.id
            assert ln.line_type == e["type"], ln.id
            assert ln.confidence == e["conf"], ln.id


def test_fondue_alto_files_read_exactly(fondue):
    _check_dataset(fondue)


def test_cremma_alto_files_read_exactly(cremma):
    _check_dataset(cremma)

"""ALTO (v2–v4) in, ALTO 4.4 out.

Mapping: TextBlock → Region, TextLine → Line (BASELINE, Shape/Polygon, TAGREFS → SegmOnto line
type via Tags/OtherTag). A line holding one ID-less String is a whole-line transcription (what
eScriptorium writes): CONTENT is the line text and WC its confidence. Otherwise each String is a
Word, SP a space and HYP a trailing hyphen. Everything else is kept in ``extras``.

Written coordinates are whole pixels (boxes and polygons alike); a line with words (mspt's
recognizer gives each line its words) has one String per word with its WC, SP between.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from mspt_core.document import Extras, Glyph, Line, LineStatus, Page, Region, Word, bbox, box_polygon
from mspt_core.errors import FormatError

from . import _common as c
from ._report import Report
from .xmlsafe import localname, namespace, parse_bytes, parse_file

NS4 = "http://www.loc.gov/standards/alto/ns-v4#"
NAMESPACES = {
    NS4,
    "http://www.loc.gov/standards/alto/ns-v3#",
    "http://www.loc.gov/standards/alto/ns-v2#",
    "http://schema.ccs-gmbh.com/ALTO",
}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS4} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
BOX = ("HPOS", "VPOS", "WIDTH", "HEIGHT")


# ----------------------------------------------------------------------------------- reading


def is_alto(root: etree._Element) -> bool:
    return localname(root) == "alto" and (namespace(root) in NAMESPACES or namespace(root) == "")


def read(path: str | Path, notes: list[str] | None = None, root: etree._Element | None = None) -> list[Page]:
    path = Path(path)
    root = parse_file(path) if root is None else root
    if not is_alto(root):
        raise FormatError(f"{path}: not an ALTO file (root element {root.tag})")
    return _Reader(path, root).pages(notes)


class _Reader(c.XmlReader):
    def __init__(self, path: Path, root: etree._Element):
        super().__init__(path, root)
        self.tags: dict[str, tuple[str, str]] = {}  # ID -> (LABEL, DESCRIPTION)

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    def pages(self, notes: list[str] | None) -> list[Page]:
        common = Extras()
        image = None
        for child in self.root:
            if not isinstance(child.tag, str):
                continue
            name = localname(child)
            if name == "Description":
                image = self._description(child, common)
            elif name == "Tags":
                for tag in child:
                    if isinstance(tag.tag, str):
                        self.tags[tag.get("ID", "")] = (tag.get("LABEL", ""), tag.get("DESCRIPTION", ""))
                        c.keep_element(common, "alto", "Tags", tag, NS4)
            elif name != "Layout":
                c.keep_element(common, "alto", "alto", child, NS4)
        layout = self.root.find(self.q("Layout"))
        page_els = [] if layout is None else layout.findall(self.q("Page"))
        if not page_els:
            raise FormatError(f"{self.path}: ALTO file has no Layout/Page")
        pages = []
        for el in page_els:
            extras = Extras([*common.elements], dict(common.attributes))
            pages.append(self._page(el, image, extras))
        self.report.flush(str(self.path), notes)
        return pages

    def _description(self, desc: etree._Element, extras: Extras) -> Path | None:
        unit = desc.findtext(self.q("MeasurementUnit"))
        if unit is not None and unit.strip() != "pixel":
            raise FormatError(f"{self.path}: MeasurementUnit {unit.strip()!r} is not supported; only pixel")
        image = None
        for child in desc:
            if not isinstance(child.tag, str) or localname(child) == "MeasurementUnit":
                continue
            if localname(child) == "sourceImageInformation":
                for sub in child:
                    if not isinstance(sub.tag, str):
                        continue
                    if localname(sub) == "fileName":
                        image = c.resolve_image(sub.text, self.path)
                    else:
                        c.keep_element(extras, "alto", "sourceImageInformation", sub, NS4)
            else:
                c.keep_element(extras, "alto", "Description", child, NS4)
        return image

    def _page(self, el: etree._Element, image: Path | None, extras: Extras) -> Page:
        width = c.parse_float(el.get("WIDTH"), self.where(el))
        height = c.parse_float(el.get("HEIGHT"), self.where(el))
        page = Page(
            width=int(width or 0), height=int(height or 0), image_path=image, id=el.get("ID") or "page", extras=extras
        )
        c.keep_attrs(extras, "alto", el, {"ID", "WIDTH", "HEIGHT"})
        for child in el:
            if not isinstance(child.tag, str):
                continue
            if localname(child) == "PrintSpace":
                # Kept only where it is not the whole page, which is what the writer assumes.
                full = {"HPOS": "0", "VPOS": "0", "WIDTH": el.get("WIDTH"), "HEIGHT": el.get("HEIGHT")}
                c.keep_attrs(extras, "alto", child, {k for k, v in full.items() if child.get(k) == v})
                for block in child:
                    if isinstance(block.tag, str):
                        self._block(block, page, "PrintSpace")
            else:  # TopMargin etc.: kept whole, text in margins included
                c.keep_element(extras, "alto", "Page", child, NS4)
        return page

    def _block(self, el: etree._Element, page: Page, parent: str) -> None:
        name = localname(el)
        if name == "ComposedBlock":
            self.report.add("ComposedBlock nesting flattened into its text blocks")
            for sub in el:
                if isinstance(sub.tag, str) and localname(sub) not in ("Shape",):
                    self._block(sub, page, parent)
            return
        if name != "TextBlock":
            c.keep_element(page.extras, "alto", parent, el, NS4)
            return
        region = Region(id=el.get("ID", ""))
        region.polygon = self._shape(el, region.extras, "TextBlock")
        region.region_type = self._tagrefs(el, region.extras, "TextBlock")
        c.keep_attrs(region.extras, "alto", el, {"ID", "TAGREFS", *BOX})
        for child in el:
            if not isinstance(child.tag, str) or localname(child) == "Shape":
                continue
            if localname(child) == "TextLine":
                region.lines.append(self._line(child))
            else:
                c.keep_element(region.extras, "alto", "TextBlock", child, NS4)
        page.regions.append(region)

    def _shape(self, el: etree._Element, extras: Extras, name: str) -> list:
        """Polygon from Shape/Polygon, else the HPOS/VPOS/WIDTH/HEIGHT box. Box attributes that
        do not equal the polygon's bounding box are kept so that they are written back."""
        where = self.where(el)
        poly_el = el.find(f"{self.q('Shape')}/{self.q('Polygon')}")
        shape = el.find(self.q("Shape"))
        box = [c.parse_float(el.get(k), where) for k in BOX]
        if poly_el is not None:
            polygon = c.parse_points(poly_el.get("POINTS"), where)
        elif None not in box:
            x, y, w, h = (float(v or 0) for v in box)  # all given (checked just above)
            polygon = box_polygon(x, y, x + w, y + h)
        else:
            polygon = []
            for k, v in zip(BOX, box, strict=True):
                if v is not None:
                    extras.attributes[f"alto:{name}@{k}"] = el.get(k)
        if shape is not None and poly_el is None:  # Ellipse / Circle
            c.keep_element(extras, "alto", name, shape, NS4)
        if polygon and None not in box:
            x0, y0, x1, y1 = bbox(polygon)
            for k, want, have in zip(BOX, (x0, y0, x1 - x0, y1 - y0), box, strict=True):
                if want != have:
                    extras.attributes[f"alto:{name}@{k}"] = el.get(k)
        return polygon

    def _tagrefs(self, el: etree._Element, extras: Extras, name: str) -> str | None:
        refs = (el.get("TAGREFS") or "").split()
        if not refs:
            return None
        first, rest = refs[0], refs[1:]
        if rest:
            extras.attributes[f"alto:{name}@TAGREFS"] = " ".join(rest)
        if first not in self.tags:
            self.report.add(f"TAGREFS naming undeclared tags dropped (e.g. {first!r} at line {el.sourceline})")
            return None
        return self.tags[first][0] or None

    def _line(self, el: etree._Element) -> Line:
        where = self.where(el)
        line = Line(id=el.get("ID", ""))
        line.polygon = self._shape(el, line.extras, "TextLine")
        line.line_type = self._tagrefs(el, line.extras, "TextLine")
        line.baseline = self._baseline(el, line.polygon)
        c.keep_attrs(line.extras, "alto", el, {"ID", "TAGREFS", "BASELINE", *BOX})
        content = [ch for ch in el if isinstance(ch.tag, str) and localname(ch) in ("String", "SP", "HYP")]
        for child in el:
            if isinstance(child.tag, str) and localname(child) not in ("Shape", "String", "SP", "HYP"):
                c.keep_element(line.extras, "alto", "TextLine", child, NS4)
        strings = [ch for ch in content if localname(ch) == "String"]
        if len(content) == 1 and strings and self._plain(strings[0]):
            s = strings[0]
            line.text = c.nfc(s.get("CONTENT"))
            line.confidence = c.parse_float(s.get("WC"), where)
            c.keep_attrs(line.extras, "alto", s, {"CONTENT", "WC", *BOX})
            if line.polygon:
                x0, y0, x1, y1 = bbox(line.polygon)
                for k, want in zip(BOX, (x0, y0, x1 - x0, y1 - y0), strict=True):
                    if s.get(k) is not None and c.parse_float(s.get(k), where) != want:
                        line.extras.attributes[f"alto:String@{k}"] = s.get(k)
        else:
            hyphen = ""
            for child in content:
                kind = localname(child)
                if kind == "String":
                    line.words.append(self._word(child))
                elif kind == "HYP":
                    hyphen = c.nfc(child.get("CONTENT"))
                elif kind == "SP" and any(child.get(k) for k in BOX):
                    self.report.add("SP (space) positions not kept")
            line.text = " ".join(w.text for w in line.words) + hyphen
        line.status = LineStatus.RECOGNIZED if line.text else LineStatus.UNRECOGNIZED
        return line

    def _plain(self, s: etree._Element) -> bool:
        return s.get("ID") is None and not any(isinstance(ch.tag, str) for ch in s)

    def _baseline(self, el: etree._Element, polygon: list) -> list:
        value = (el.get("BASELINE") or "").strip()
        if not value:
            return []
        if len(value.replace(",", " ").split()) == 1:  # ALTO <= 4.1: one y for the whole line
            y = c.parse_float(value, self.where(el))
            if not polygon:
                return []
            x0, _, x1, _ = bbox(polygon)
            return [(x0, y), (x1, y)]
        return c.parse_points(value, self.where(el))

    def _word(self, s: etree._Element) -> Word:
        where = self.where(s)
        word = Word(id=s.get("ID", ""), text=c.nfc(s.get("CONTENT")), confidence=c.parse_float(s.get("WC"), where))
        word.polygon = self._shape(s, word.extras, "String")
        c.keep_attrs(word.extras, "alto", s, {"ID", "CONTENT", "WC", *BOX})
        for g in s:
            if not isinstance(g.tag, str) or localname(g) == "Shape":
                continue
            if localname(g) == "Glyph":
                scratch = Extras()
                poly = self._shape(g, scratch, "Glyph")
                word.glyphs.append(
                    Glyph(
                        id=g.get("ID", ""),
                        text=c.nfc(g.get("CONTENT")),
                        polygon=poly,
                        confidence=c.parse_float(g.get("GC"), self.where(g)),
                    )
                )
                if scratch:
                    self.report.add("glyph attributes/children other than ID, CONTENT, GC and shape not kept")
            else:
                c.keep_element(word.extras, "alto", "String", g, NS4)
        return word


# ----------------------------------------------------------------------------------- writing


def _e(parent, name: str, attrs: dict[str, str] | None = None) -> etree._Element:
    return etree.SubElement(parent, f"{{{NS4}}}{name}", attrs or {})


def _box_attrs(points: list) -> dict[str, str]:
    """HPOS, VPOS, WIDTH and HEIGHT: the box around ``points`` rounded as ``_points`` writes them."""
    if not points:
        return {}
    x0, y0, x1, y1 = (round(v) for v in bbox(points))
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def _points(points: list, report: Report) -> str:
    """Whole pixels, as the boxes are (a polygon's 1827.3 gave WIDTH="1827.2999999999997")."""
    if not all(float(v).is_integer() for point in points for v in point):
        report.add("fractional coordinates rounded to whole pixels")
    return " ".join(f"{round(x)},{round(y)}" for x, y in points)


def _add_kept(parent: etree._Element, xml_list: list[str]) -> None:
    for xml in xml_list:
        parent.append(_fragment(xml))


def _fragment(xml: str) -> etree._Element:
    el = parse_bytes(xml.encode("utf-8"), "an element kept from the input")  # the one hardened parser
    if namespace(el) != NS4 and namespace(el) in NAMESPACES:  # older ALTO: same names, new namespace
        for node in el.iter():
            if isinstance(node.tag, str) and namespace(node) == namespace(el):
                node.tag = f"{{{NS4}}}{localname(node)}"
    return el


class _Tags:
    """Tags/OtherTag for line and block types; reuses the IDs of tags the input declared."""

    def __init__(self, kept: list[str]):
        self.elements = [_fragment(x) for x in kept]
        self.ids = {el.get("ID") for el in self.elements}
        self.new = 0

    def ref(self, label: str | None, kind: str) -> str | None:
        if not label:
            return None
        other = "block type" if kind == "line type" else "line type"
        for el in self.elements:
            # eScriptorium says which tags are line and which block types in DESCRIPTION.
            if el.get("LABEL") == label and not (el.get("DESCRIPTION") or "").startswith(other):
                return el.get("ID")
        prefix = "LT" if kind == "line type" else "BT"
        while True:
            self.new += 1
            tag_id = f"{prefix}{self.new}"
            if tag_id not in self.ids:
                break
        el = etree.Element(f"{{{NS4}}}OtherTag", {"ID": tag_id, "LABEL": label, "DESCRIPTION": f"{kind} {label}"})
        self.elements.append(el)
        self.ids.add(tag_id)
        return tag_id


def _merged_refs(first: str | None, extras: Extras, name: str) -> dict[str, str]:
    refs = [first] if first else []
    refs += c.kept_attrs(extras, "alto", name).get("TAGREFS", "").split()
    return {"TAGREFS": " ".join(refs)} if refs else {}


def _foreign_notes(extras: Extras, report: Report, what: str) -> None:
    attrs, elems = c.foreign(extras, "alto")
    if attrs or elems:
        report.add(f"{what}: PAGE-only attributes/elements not kept in ALTO")


def to_tree(page: Page, out_path: Path, report: Report) -> etree._ElementTree:
    ex = page.extras
    root = etree.Element(f"{{{NS4}}}alto", nsmap={None: NS4, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    desc = _e(root, "Description")
    _e(desc, "MeasurementUnit").text = "pixel"
    info = _e(desc, "sourceImageInformation")
    _e(info, "fileName").text = c.image_ref(page.image_path, out_path)
    _add_kept(info, c.kept_elements(ex, "alto", "sourceImageInformation"))
    _add_kept(desc, c.kept_elements(ex, "alto", "Description"))
    _add_kept(root, c.kept_elements(ex, "alto", "alto"))  # Styles: sits between Description and Tags
    tags = _Tags(c.kept_elements(ex, "alto", "Tags"))
    tags_el = _e(root, "Tags")
    layout = _e(root, "Layout")
    page_attrs = {"ID": page.id or "page", "WIDTH": str(page.width), "HEIGHT": str(page.height), "PHYSICAL_IMG_NR": "1"}
    page_attrs.update(c.kept_attrs(ex, "alto", "Page"))
    page_el = _e(layout, "Page", page_attrs)
    _add_kept(page_el, c.kept_elements(ex, "alto", "Page"))
    space_attrs = {"HPOS": "0", "VPOS": "0", "WIDTH": str(page.width), "HEIGHT": str(page.height)}
    space_attrs.update(c.kept_attrs(ex, "alto", "PrintSpace"))
    space = _e(page_el, "PrintSpace", space_attrs)
    if page.metadata:
        report.add("page metadata (" + ", ".join(sorted(page.metadata)) + ") has no place in ALTO; not kept")
    _foreign_notes(ex, report, "page")
    for region in page.regions:
        _region(space, region, tags, report)
    _add_kept(space, c.kept_elements(ex, "alto", "PrintSpace"))
    for el in tags.elements:
        tags_el.append(el)
    if not len(tags_el):
        root.remove(tags_el)
    return etree.ElementTree(root)


def _region(space: etree._Element, region: Region, tags: _Tags, report: Report) -> None:
    ex = region.extras
    attrs = {"ID": region.id}
    attrs.update(_box_attrs(region.polygon))  # no polygon, no box: a reader would invent one
    attrs.update(_merged_refs(tags.ref(region.region_type, "block type"), ex, "TextBlock"))
    attrs.update({k: v for k, v in c.kept_attrs(ex, "alto", "TextBlock").items() if k != "TAGREFS"})
    block = _e(space, "TextBlock", attrs)
    if region.polygon:
        _e(_e(block, "Shape"), "Polygon", {"POINTS": _points(region.polygon, report)})
    _add_kept(block, c.kept_elements(ex, "alto", "TextBlock"))  # Shape alternatives come first
    _foreign_notes(ex, report, "region")
    for line in region.lines:
        _line(block, line, tags, report)


def _words_fit(line: Line) -> str | None:
    """The trailing hyphen (maybe "") when the line text is its words joined by spaces."""
    joined = " ".join(w.text for w in line.words)
    if line.words and line.text.startswith(joined) and " " not in line.text[len(joined) :]:
        return line.text[len(joined) :]
    return None


def _line(block: etree._Element, line: Line, tags: _Tags, report: Report) -> None:
    ex = line.extras
    attrs = {"ID": line.id}
    attrs.update(_box_attrs(line.polygon))
    if line.baseline:
        attrs["BASELINE"] = _points(line.baseline, report)
    attrs.update(_merged_refs(tags.ref(line.line_type, "line type"), ex, "TextLine"))
    attrs.update({k: v for k, v in c.kept_attrs(ex, "alto", "TextLine").items() if k != "TAGREFS"})
    el = _e(block, "TextLine", attrs)
    if line.polygon:
        _e(_e(el, "Shape"), "Polygon", {"POINTS": _points(line.polygon, report)})
    hyphen = _words_fit(line)
    if line.words and hyphen is None:
        report.add("words whose text differs from their line's text not kept (line text written)")
    if line.words and hyphen is not None:
        word_confidences = [w.confidence for w in line.words]
        derived = None not in word_confidences and line.confidence == min(word_confidences)  # type: ignore[type-var]
        if line.confidence is not None and not derived:  # mspt's is its least sure word's
            report.add("whole-line confidence of a line with words has no place in ALTO; not kept")
        for i, word in enumerate(line.words):
            if i:
                _e(el, "SP")
            _word(el, word, report)
        if hyphen:
            _e(el, "HYP", {"CONTENT": hyphen})
    else:
        s_attrs = {"CONTENT": line.text}
        s_attrs.update(_box_attrs(line.polygon))
        if line.confidence is not None:
            s_attrs["WC"] = c.num(line.confidence)
        s_attrs.update(c.kept_attrs(ex, "alto", "String"))
        _e(el, "String", s_attrs)
    # Kept TextLine children (none in the ALTO 4 schema) go last, where the reader found them.
    _add_kept(el, c.kept_elements(ex, "alto", "TextLine"))
    default = LineStatus.RECOGNIZED if line.text else LineStatus.UNRECOGNIZED
    if line.status != default:
        report.add(f"line status '{line.status.value}' has no place in ALTO; not kept")
    if line.char_confidences:
        report.add("per-character confidences have no place in ALTO; not kept")
    _foreign_notes(ex, report, "line")


def _word(line_el: etree._Element, word: Word, report: Report) -> None:
    ex = word.extras
    el = _text_element(line_el, "String", word, "WC", report, c.kept_attrs(ex, "alto", "String"))
    _add_kept(el, c.kept_elements(ex, "alto", "String"))
    for glyph in word.glyphs:
        _text_element(el, "Glyph", glyph, "GC", report)
    _foreign_notes(ex, report, "word")


def _text_element(
    parent: etree._Element,
    tag: str,
    part: Word | Glyph,
    confidence: str,
    report: Report,
    kept: dict[str, str] | None = None,
) -> etree._Element:
    """A String or Glyph: its CONTENT, ID, box, confidence (attribute ``confidence``: WC, GC),
    ``kept`` attributes and Shape."""
    attrs = {"CONTENT": part.text}
    if part.id:
        attrs["ID"] = part.id
    attrs.update(_box_attrs(part.polygon))
    if part.confidence is not None:
        attrs[confidence] = c.num(part.confidence)
    attrs.update(kept or {})
    el = _e(parent, tag, attrs)
    if part.polygon:
        _e(_e(el, "Shape"), "Polygon", {"POINTS": _points(part.polygon, report)})
    return el


def to_bytes(page: Page, out_path: Path, report: Report) -> bytes:
    duplicate = c.duplicate_id(page)  # the PAGE writer refuses it too
    if duplicate is not None:
        raise FormatError(f"{out_path}: cannot write ALTO: duplicate ID {duplicate!r}; ALTO IDs must be unique")
    return etree.tostring(to_tree(page, out_path, report), xml_declaration=True, encoding="UTF-8", pretty_print=True)

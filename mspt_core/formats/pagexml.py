"""PAGE XML in (2019, 2013 and other pagecontent namespaces), PAGE 2019-07-15 out.

Mapping: TextRegion → Region, TextLine → Line (Coords, Baseline, TextEquiv with conf), Word and
Glyph levels, ReadingOrder → list order, Metadata → ``page.metadata`` (what mspt's segmentation said of the
page, ``FOUND_METADATA``, as ``MetadataItem``s named ``mspt:KEY``). Line and zone types follow
the Transkribus/eScriptorium convention ``custom="structure {type:…;}"``. What PAGE has no
attribute for (line status, per-character confidences, and anything kept from an ALTO file)
goes into ``UserDefined/UserAttribute`` so that nothing is lost on a PAGE round trip.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from lxml import etree

from mspt_core.document import (
    FOUND_METADATA,
    Extras,
    Glyph,
    Line,
    LineStatus,
    Page,
    Region,
    Word,
    bbox,
    box_polygon,
)
from mspt_core.errors import FormatError

from . import _common as c
from ._report import Report
from .xmlsafe import localname, namespace, parse_bytes, parse_file

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
NS_PREFIX = "http://schema.primaresearch.org/PAGE/gts/pagecontent/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS} {NS}/pagecontent.xsd"
MSPT = "mspt:"  # our own UserAttribute names
FOREIGN = ("alto:",)  # extras from other formats, carried through PAGE in UserAttributes

# Child order the schema demands, per parent; kept elements are slotted in by these ranks.
_ORDER = {
    "Metadata": ["Creator", "Created", "LastChange", "Comments", "UserDefined", "MetadataItem"],
    "Page": [
        "AlternativeImage",
        "Border",
        "PrintSpace",
        "ReadingOrder",
        "Layers",
        "Relations",
        "TextStyle",
        "UserDefined",
        "Labels",
    ],  # then the regions, in any order
    "TextRegion": ["AlternativeImage", "Coords", "UserDefined", "Labels", "Roles"],  # then regions
    "TextLine": ["AlternativeImage", "Coords", "Baseline", "Word", "TextEquiv", "TextStyle", "UserDefined", "Labels"],
    "Word": ["AlternativeImage", "Coords", "Glyph", "TextEquiv", "TextStyle", "UserDefined", "Labels"],
}
_TAIL = {"TextRegion": ["TextLine", "TextEquiv", "TextStyle"]}  # after nested regions
_CUSTOM = re.compile(r"(\w+)\s*\{([^}]*)\}")


def _found_key(item: etree._Element) -> str | None:
    """The ``FOUND_METADATA`` key an ``mspt:`` MetadataItem carries (what segmentation said of
    the page: which method found its lines, skew, turn), or None for anyone else's item."""
    name = item.get("name", "")
    key = name[len(MSPT) :]
    return key if name.startswith(MSPT) and key in FOUND_METADATA and item.get("value") is not None else None


def is_page(root: etree._Element) -> bool:
    return localname(root) == "PcGts" and namespace(root).startswith(NS_PREFIX)


# ----------------------------------------------------------------------------------- reading


def read(path: str | Path, notes: list[str] | None = None, root: etree._Element | None = None) -> Page:
    path = Path(path)
    root = parse_file(path) if root is None else root
    if not is_page(root):
        raise FormatError(f"{path}: not a PAGE XML file (root element {root.tag})")
    return _Reader(path, root).page(notes)


def _split_custom(value: str | None) -> tuple[dict[str, str], str]:
    """Pull ``structure {type:X;}`` and ``readingOrder {index:N;}`` out of a custom attribute;
    return them and what is left (kept verbatim)."""
    found: dict[str, str] = {}
    rest: list[str] = []
    for m in _CUSTOM.finditer(value or ""):
        key, body = m.group(1), m.group(2)
        pairs = dict(p.split(":", 1) for p in (s.strip() for s in body.split(";")) if ":" in p)
        pairs = {k.strip(): v.strip() for k, v in pairs.items()}
        if key == "structure" and set(pairs) == {"type"}:
            found["type"] = pairs["type"]
        elif key == "readingOrder" and set(pairs) == {"index"}:
            found["index"] = pairs["index"]
        else:
            if key == "structure" and "type" in pairs:
                found["type"] = pairs["type"]
                found["structure_kept"] = "1"
            rest.append(m.group(0))
    leftover = _CUSTOM.sub("", value or "").strip()
    if leftover:
        rest.append(leftover)
    return found, " ".join(rest)


class _Reader(c.XmlReader):
    def children(self, el: etree._Element):
        for child in el:
            if isinstance(child.tag, str):
                yield localname(child), child

    def page(self, notes: list[str] | None) -> Page:
        page_el = meta_el = None
        extras = Extras()
        for name, child in self.children(self.root):
            if name == "Page":
                page_el = child
            elif name == "Metadata":
                meta_el = child
            else:
                c.keep_element(extras, "page", "PcGts", child, NS)
        if page_el is None:
            raise FormatError(f"{self.path}: PAGE file has no Page element")
        c.keep_attrs(extras, "page", self.root, {"pcGtsId", f"{{{XSI}}}schemaLocation"})
        where = self.where(page_el)
        w = c.parse_float(page_el.get("imageWidth"), where)
        h = c.parse_float(page_el.get("imageHeight"), where)
        if w is None or h is None:
            raise FormatError(f"{where}: Page needs imageWidth and imageHeight")
        page = Page(
            width=int(w),
            height=int(h),
            image_path=c.resolve_image(page_el.get("imageFilename"), self.path),
            id=self.root.get("pcGtsId") or "page",
            extras=extras,
        )
        if meta_el is not None:
            self._metadata(meta_el, page)
        c.keep_attrs(extras, "page", page_el, {"imageFilename", "imageWidth", "imageHeight"})
        order: list[str] = []
        regions: list[tuple[Region, str | None]] = []
        for name, child in self.children(page_el):
            if name == "ReadingOrder":
                order = self._reading_order(child)
            elif name == "TextRegion":
                self._region(child, regions)
            elif name == "UserDefined":
                self._user_defined(child, page.extras, "Page", None)
            else:
                c.keep_element(extras, "page", "Page", child, NS)
        text_ids = {r.id for r, _ in regions}
        if any(ref not in text_ids for ref in order):
            self.report.add("reading-order positions of non-text regions not kept (the regions are)")
        rank = {ref: i for i, ref in enumerate(order)}
        # Regions not in the ReadingOrder follow, by Transkribus' custom index, else file order.
        fallback = [(float(idx) if idx is not None else float("inf")) for _, idx in regions]
        keyed = sorted(range(len(regions)), key=lambda i: (rank.get(regions[i][0].id, len(rank)), fallback[i], i))
        page.regions = [regions[i][0] for i in keyed]
        self.report.flush(str(self.path), notes)
        return page

    def _metadata(self, meta: etree._Element, page: Page) -> None:
        c.keep_attrs(page.extras, "page", meta, set())
        for name, child in self.children(meta):
            if name in ("Creator", "Created", "LastChange", "Comments"):
                page.metadata[name] = child.text or ""
            elif name == "MetadataItem" and (key := _found_key(child)):
                page.metadata[key] = child.get("value", "")
            else:
                c.keep_element(page.extras, "page", "Metadata", child, NS)

    def _reading_order(self, ro: etree._Element) -> list[str]:
        refs: list[str] = []

        def walk(group: etree._Element) -> None:
            if group.get("regionRef"):
                refs.append(group.get("regionRef"))
            members = [ch for n, ch in self.children(group) if n not in ("UserDefined", "Labels")]
            if localname(group).startswith("OrderedGroup"):
                members.sort(key=lambda m: int(c.parse_float(m.get("index"), self.where(m)) or 0))
            for m in members:
                if localname(m) == "RegionRefIndexed" or localname(m) == "RegionRef":
                    refs.append(m.get("regionRef", ""))
                else:
                    walk(m)

        for _, group in self.children(ro):
            walk(group)
        return refs

    def _coords(self, el: etree._Element, name: str, extras: Extras) -> list:
        coords = el.find(f"{{{self.ns}}}{name}")
        if coords is None:
            return []
        c.keep_attrs(extras, "page", coords, {"points"})
        if coords.get("points") is not None:
            return c.parse_points(coords.get("points"), self.where(coords))
        # PAGE 2010 and older: <Point x= y=/> children
        return [
            (c.parse_float(p.get("x"), self.where(p)) or 0.0, c.parse_float(p.get("y"), self.where(p)) or 0.0)
            for p in coords
            if isinstance(p.tag, str) and localname(p) == "Point"
        ]

    def _text_equiv(self, el: etree._Element, extras: Extras, parent: str) -> tuple[str | None, float | None]:
        """The main TextEquiv (lowest index); alternatives are kept verbatim."""
        equivs = [ch for n, ch in self.children(el) if n == "TextEquiv"]
        if not equivs:
            return None, None

        def index(e):
            v = c.parse_float(e.get("index"), self.where(e))
            return float("-inf") if v is None else v

        main = min(equivs, key=index)
        for e in equivs:
            if e is not main:
                c.keep_element(extras, "page", parent, e, NS)
        c.keep_attrs(extras, "page", main, {"conf", "index"})
        if main.get("index") is not None:
            extras.attributes["page:TextEquiv@index"] = main.get("index")
        text = main.findtext(f"{{{self.ns}}}Unicode")
        return c.nfc(text), c.parse_float(main.get("conf"), self.where(main))

    def _user_defined(self, ud: etree._Element, extras: Extras, parent: str, line: Line | None) -> bool:
        """Sort UserAttributes into ours, carried foreign extras and kept ones. True when it
        set the line status."""
        status_set = False
        for _, attr in self.children(ud):
            name = attr.get("name") or ""
            value = attr.get("value") or ""
            if name.startswith(FOREIGN):
                if "@" in name:
                    extras.attributes[name] = value
                else:
                    extras.elements.append((name, value))
            elif name == MSPT + "status" and line is not None:
                try:
                    line.status = LineStatus(value)
                    status_set = True
                except ValueError:
                    raise FormatError(f"{self.where(attr)}: unknown line status {value!r}") from None
            elif name == MSPT + "char_confidences" and line is not None:
                line.char_confidences = [c.parse_float(v, self.where(attr)) or 0.0 for v in value.split()]
            else:
                c.keep_element(extras, "page", f"{parent}/UserDefined", attr, NS)
        return status_set

    def _region(self, el: etree._Element, out: list, nested: bool = False) -> None:
        if nested:
            self.report.add("nested TextRegion flattened (its lines are kept)")
        region = Region(id=el.get("id", ""))
        found, rest = _split_custom(el.get("custom"))
        c.keep_attrs(region.extras, "page", el, {"id", "custom"})
        if rest:
            region.extras.attributes["page:TextRegion@custom"] = rest
        region.region_type = found.get("type") or el.get("type")
        region.polygon = self._coords(el, "Coords", region.extras)
        lines: list[tuple[Line, str | None]] = []
        out.append((region, found.get("index")))
        for name, child in self.children(el):
            if name == "Coords":
                continue
            if name == "TextLine":
                lines.append(self._line(child))
            elif name == "TextRegion":
                self._region(child, out, nested=True)
            elif name == "TextEquiv":
                pass  # the region's text is its lines' text; rebuilt, never stale
            elif name == "UserDefined":
                self._user_defined(child, region.extras, "TextRegion", None)
            else:
                c.keep_element(region.extras, "page", "TextRegion", child, NS)
        # Transkribus numbers lines with custom readingOrder; file order breaks ties.
        indexed = [(float(i) if i is not None else float("inf"), n, ln) for n, (ln, i) in enumerate(lines)]
        region.lines = [ln for _, _, ln in sorted(indexed, key=lambda t: (t[0], t[1]))]

    def _line(self, el: etree._Element) -> tuple[Line, str | None]:
        line = Line(id=el.get("id", ""))
        found, rest = _split_custom(el.get("custom"))
        c.keep_attrs(line.extras, "page", el, {"id", "custom"})
        if rest:
            line.extras.attributes["page:TextLine@custom"] = rest
        line.line_type = found.get("type")
        line.polygon = self._coords(el, "Coords", line.extras)
        line.baseline = self._coords(el, "Baseline", line.extras)
        text, line.confidence = self._text_equiv(el, line.extras, "TextLine")
        status_set = False
        for name, child in self.children(el):
            if name in ("Coords", "Baseline", "TextEquiv"):
                continue
            if name == "Word":
                line.words.append(self._word(child))
            elif name == "UserDefined":
                status_set = self._user_defined(child, line.extras, "TextLine", line)
            else:
                c.keep_element(line.extras, "page", "TextLine", child, NS)
        line.text = text if text is not None else " ".join(w.text for w in line.words)
        if not status_set:
            line.status = LineStatus.RECOGNIZED if line.text else LineStatus.UNRECOGNIZED
        return line, found.get("index")

    def _word(self, el: etree._Element) -> Word:
        word = Word(id=el.get("id", ""), text="")
        c.keep_attrs(word.extras, "page", el, {"id"})
        word.polygon = self._coords(el, "Coords", word.extras)
        text, word.confidence = self._text_equiv(el, word.extras, "Word")
        for name, child in self.children(el):
            if name in ("Coords", "TextEquiv"):
                continue
            if name == "Glyph":
                scratch = Extras()
                g_text, g_conf = self._text_equiv(child, scratch, "Glyph")
                glyph = Glyph(
                    id=child.get("id", ""),
                    text=g_text or "",
                    confidence=g_conf,
                    polygon=self._coords(child, "Coords", scratch),
                )
                word.glyphs.append(glyph)
                if scratch or any(n not in ("Coords", "TextEquiv") for n, _ in self.children(child)):
                    self.report.add("glyph details other than id, Coords and TextEquiv not kept")
            elif name == "UserDefined":
                self._user_defined(child, word.extras, "Word", None)
            else:
                c.keep_element(word.extras, "page", "Word", child, NS)
        word.text = text if text is not None else "".join(g.text for g in word.glyphs)
        return word


# ----------------------------------------------------------------------------------- writing


class _Writer:
    def __init__(self, report: Report):
        self.report = report
        self.ids: set[str] = set()

    def e(self, parent, name: str, attrs: dict[str, str] | None = None) -> etree._Element:
        return etree.SubElement(parent, f"{{{NS}}}{name}", attrs or {})

    def points(self, points: list) -> str:
        """PAGE allows only non-negative integers and at least two points."""
        out = []
        for x, y in points:
            if not (float(x).is_integer() and float(y).is_integer()):
                self.report.add("fractional coordinates rounded to whole pixels (PAGE allows integers only)")
            if x < 0 or y < 0:
                self.report.add("negative coordinates clamped to 0 (PAGE allows none)")
            out.append(f"{max(0, round(x))},{max(0, round(y))}")
        if len(out) == 1:
            out.append(out[0])
        return " ".join(out)

    def kept(self, extras: Extras, parent: str) -> list[etree._Element]:
        return [_fragment(x) for x in c.kept_elements(extras, "page", parent)]

    def place(self, parent: etree._Element, kind: str, made: list[etree._Element], kept: list[etree._Element]) -> None:
        """Append our and kept children in the order the schema demands for ``kind``."""
        order = _ORDER.get(kind, [])
        tail = _TAIL.get(kind, [])

        def rank(el):
            name = localname(el)
            if name in order:
                return order.index(name)
            if name in tail:
                return len(order) + 1 + tail.index(name)
            return len(order)  # regions and anything unknown

        for el in sorted(made + kept, key=rank):
            parent.append(el)

    def user_defined(self, extras: Extras, kind: str, ours: dict[str, str]) -> list[etree._Element]:
        attrs = dict(ours)
        foreign_attrs, foreign_elems = c.foreign(extras, "page")
        attrs.update(foreign_attrs)
        kept = self.kept(extras, f"{kind}/UserDefined")
        if not attrs and not kept and not foreign_elems:
            return []
        ud = etree.Element(f"{{{NS}}}UserDefined")
        for el in kept:
            ud.append(el)
        for name, value in attrs.items():
            self.e(ud, "UserAttribute", {"name": name, "type": "xsd:string", "value": value})
        # An element kept from another format rides along serialized, one UserAttribute each.
        for key, xml in foreign_elems:
            self.e(ud, "UserAttribute", {"name": key, "type": "xsd:string", "value": xml})
        return [ud]

    def text_equiv(self, text: str, conf: float | None, extras: Extras) -> etree._Element:
        te = etree.Element(f"{{{NS}}}TextEquiv")
        idx = extras.attributes.get("page:TextEquiv@index")
        if idx is not None:
            te.set("index", idx)
        if conf is not None:
            if not 0 <= conf <= 1:
                raise FormatError(f"confidence {conf} outside [0, 1]")
            te.set("conf", c.num(conf))
        for k, v in c.kept_attrs(extras, "page", "TextEquiv").items():
            if k != "index":
                te.set(k, v)
        self.e(te, "Unicode").text = text
        return te

    def coords(self, name: str, points: list, extras: Extras) -> etree._Element:
        el = etree.Element(f"{{{NS}}}{name}", {"points": self.points(points)})
        for k, v in c.kept_attrs(extras, "page", name).items():
            el.set(k, v)
        return el

    def custom(self, extras: Extras, kind: str, type_: str | None, index: int) -> str:
        rest = extras.attributes.get(f"page:{kind}@custom", "")
        parts = [f"readingOrder {{index:{index};}}"]
        if type_ and "structure" not in rest:
            parts.append(f"structure {{type:{type_};}}")
        if rest:
            parts.append(rest)
        return " ".join(parts)

    def unique(self, wanted: str, fallback: str) -> str:
        ident = wanted or fallback
        if ident in self.ids:
            raise FormatError(f"duplicate ID {ident!r}; PAGE IDs must be unique")
        self.ids.add(ident)
        return ident

    def tree(self, page: Page, out_path: Path) -> etree._ElementTree:
        ex = page.extras
        root = etree.Element(f"{{{NS}}}PcGts", nsmap={None: NS, "xsi": XSI})
        root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
        root.set("pcGtsId", page.id or "page")
        for k, v in c.kept_attrs(ex, "page", "PcGts").items():
            root.set(k, v)
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        meta = self.e(root, "Metadata", c.kept_attrs(ex, "page", "Metadata"))
        values = {"Creator": "mspt", "Created": now, "LastChange": now, **page.metadata}
        made = []
        for name in ("Creator", "Created", "LastChange", "Comments"):
            if name in values:
                el = etree.Element(f"{{{NS}}}{name}")
                el.text = values[name]
                made.append(el)
        for key in FOUND_METADATA:
            if key in page.metadata:
                made.append(
                    etree.Element(
                        f"{{{NS}}}MetadataItem",
                        {"type": "processingStep", "name": MSPT + key, "value": page.metadata[key]},
                    )
                )
        extra_meta = set(page.metadata) - {"Creator", "Created", "LastChange", "Comments", *FOUND_METADATA}
        if extra_meta:
            self.report.add(f"page metadata {sorted(extra_meta)} has no PAGE element; not kept")
        self.place(meta, "Metadata", made, self.kept(ex, "Metadata"))
        for _ in self.kept(ex, "PcGts"):
            self.report.add("elements beside Page in PcGts not kept")
        page_el = self.e(
            root,
            "Page",
            {
                "imageFilename": c.image_ref(page.image_path, out_path),
                "imageWidth": str(page.width),
                "imageHeight": str(page.height),
            },
        )
        for k, v in c.kept_attrs(ex, "page", "Page").items():
            page_el.set(k, v)
        made = []
        if page.regions:
            ro = etree.Element(f"{{{NS}}}ReadingOrder")
            group = self.e(ro, "OrderedGroup", {"id": self.unique("ro_" + (page.id or "page"), "")})
            for i, region in enumerate(page.regions):
                self.e(group, "RegionRefIndexed", {"index": str(i), "regionRef": region.id})
            made.append(ro)
        made += self.user_defined(ex, "Page", {})
        made += [self.region(r, i) for i, r in enumerate(page.regions)]
        self.place(page_el, "Page", made, self.kept(ex, "Page"))
        return etree.ElementTree(root)

    def region(self, region: Region, index: int) -> etree._Element:
        ex = region.extras
        el = etree.Element(f"{{{NS}}}TextRegion", {"id": self.unique(region.id, f"r{index}")})
        el.set(
            "custom",
            self.custom(
                ex,
                "TextRegion",
                region.region_type if region.region_type != ex.attributes.get("page:TextRegion@type") else None,
                index,
            ),
        )
        for k, v in c.kept_attrs(ex, "page", "TextRegion").items():
            if k != "custom":
                el.set(k, v)
        polygon = region.polygon or _hull([p for ln in region.lines for p in (ln.polygon or ln.baseline)])
        if not region.polygon:
            self.report.add("region without polygon given its lines' bounding box (PAGE requires Coords)")
        made = [self.coords("Coords", polygon or [(0, 0), (0, 0)], ex)]
        made += self.user_defined(ex, "TextRegion", {})
        made += [self.line(ln, i, region.id) for i, ln in enumerate(region.lines)]
        self.place(el, "TextRegion", made, self.kept(ex, "TextRegion"))
        return el

    def line(self, line: Line, index: int, region_id: str) -> etree._Element:
        ex = line.extras
        el = etree.Element(f"{{{NS}}}TextLine", {"id": self.unique(line.id, f"{region_id}_l{index}")})
        el.set("custom", self.custom(ex, "TextLine", line.line_type, index))
        for k, v in c.kept_attrs(ex, "page", "TextLine").items():
            if k != "custom":
                el.set(k, v)
        polygon = line.polygon
        if not polygon:
            self.report.add("line without polygon given its baseline's box (PAGE requires Coords)")
            polygon = _hull(line.baseline) or [(0, 0), (0, 0)]
        made = [self.coords("Coords", polygon, ex)]
        if line.baseline:
            made.append(self.coords("Baseline", line.baseline, ex))
        made += [self.word(w, f"{el.get('id')}_w{i}") for i, w in enumerate(line.words)]
        if line.text or line.confidence is not None or "page:TextEquiv@index" in ex.attributes:
            made.append(self.text_equiv(line.text, line.confidence, ex))
        ours = {}
        default = LineStatus.RECOGNIZED if line.text else LineStatus.UNRECOGNIZED
        if line.status != default:
            ours[MSPT + "status"] = line.status.value
        if line.char_confidences:
            ours[MSPT + "char_confidences"] = " ".join(repr(float(v)) for v in line.char_confidences)
        made += self.user_defined(ex, "TextLine", ours)
        self.place(el, "TextLine", made, self.kept(ex, "TextLine"))
        return el

    def word(self, word: Word, fallback_id: str) -> etree._Element:
        ex = word.extras
        el = etree.Element(f"{{{NS}}}Word", {"id": self.unique(word.id, fallback_id)})
        for k, v in c.kept_attrs(ex, "page", "Word").items():
            el.set(k, v)
        made = [self.coords("Coords", word.polygon or [(0, 0), (0, 0)], ex)]
        if not word.polygon:
            self.report.add("word without polygon written with an empty box (PAGE requires Coords)")
        for i, g in enumerate(word.glyphs):
            gel = etree.Element(f"{{{NS}}}Glyph", {"id": self.unique(g.id, f"{el.get('id')}_g{i}")})
            gel.append(self.coords("Coords", g.polygon or [(0, 0), (0, 0)], Extras()))
            gel.append(self.text_equiv(g.text, g.confidence, Extras()))
            made.append(gel)
        made.append(self.text_equiv(word.text, word.confidence, ex))
        made += self.user_defined(ex, "Word", {})
        self.place(el, "Word", made, self.kept(ex, "Word"))
        return el


def _hull(points: list) -> list:
    if not points:
        return []
    return box_polygon(*bbox(points))


def _fragment(xml: str) -> etree._Element:
    el = parse_bytes(xml.encode("utf-8"), "an element kept from the input")  # the one hardened parser
    if namespace(el).startswith(NS_PREFIX) and namespace(el) != NS:  # 2013 → 2019: same names
        old = namespace(el)
        for node in el.iter():
            if isinstance(node.tag, str) and namespace(node) == old:
                node.tag = f"{{{NS}}}{localname(node)}"
        etree.cleanup_namespaces(el)
    return el


def to_bytes(page: Page, out_path: Path, report: Report) -> bytes:
    try:
        tree = _Writer(report).tree(page, out_path)
    except FormatError as error:
        raise FormatError(f"{out_path}: cannot write PAGE: {error}") from None
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)

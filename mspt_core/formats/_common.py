"""Small helpers shared by the PAGE and ALTO modules: a reader's state, points, numbers, kept
extras."""

from __future__ import annotations

import copy
import math
import os
import re
import unicodedata
from pathlib import Path

from lxml import etree

from mspt_core.document import Extras, Point
from mspt_core.errors import FormatError

from ._report import Report
from .xmlsafe import namespace

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class XmlReader:
    """What reading one PAGE or ALTO file keeps at hand: the file (for messages), its root, the
    namespace its elements are in, and the report of what could not be kept."""

    def __init__(self, path: Path, root: etree._Element):
        self.path = path
        self.root = root
        self.ns = namespace(root)
        self.report = Report()

    def where(self, el: etree._Element) -> str:
        """``FILE:LINE`` of an element, for messages."""
        return f"{self.path}:{el.sourceline}"


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def parse_points(value: str | None, where: str) -> list[Point]:
    """Both point syntaxes in the wild: "x1,y1 x2,y2" (PAGE, newer ALTO) and "x1 y1 x2 y2"."""
    if not value or not value.strip():
        return []
    nums = _NUM.findall(value)
    leftover = _NUM.sub("", value).replace(",", "").strip()
    if leftover or len(nums) % 2:
        raise FormatError(f"{where}: bad point list {value[:60]!r}")
    vals = [float(n) for n in nums]
    if not all(math.isfinite(v) for v in vals):
        raise FormatError(f"{where}: non-finite coordinate in {value[:60]!r}")
    return list(zip(vals[0::2], vals[1::2], strict=True))


def parse_float(value: str | None, where: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise FormatError(f"{where}: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise FormatError(f"{where}: not a finite number: {value!r}")
    return number


def num(v: float) -> str:
    """Shortest exact text for a coordinate: 368.0 -> "368", 368.5 -> "368.5"."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def keep_attrs(extras: Extras, fmt: str, el: etree._Element, known: set[str]) -> None:
    """Put every attribute of ``el`` not in ``known`` into ``extras``."""
    name = etree.QName(el).localname
    for key, value in el.attrib.items():
        qn = etree.QName(key)
        attr = qn.localname if qn.namespace is None else key
        if attr not in known:
            extras.attributes[f"{fmt}:{name}@{attr}"] = value


def keep_element(extras: Extras, fmt: str, parent: str, child: etree._Element, ns: str | None = None) -> None:
    """Keep ``child`` verbatim, but moved into namespace ``ns`` (the version we write, as the
    default namespace) and without indentation, so a kept element reads back the same after
    we write it."""
    old = etree.QName(child).namespace
    child = _rebuild(child, old, ns) if ns and old else copy.deepcopy(child)
    for node in child.iter():
        if not isinstance(node.tag, str):
            continue
        if len(node) and node.text is not None and not node.text.strip():
            node.text = None
        for sub in node:
            if sub.tail is not None and not sub.tail.strip():
                sub.tail = None
    etree.cleanup_namespaces(child)
    text = etree.tostring(child, encoding="unicode", with_tail=False)
    extras.elements.append((f"{fmt}:{parent}", text))


def _rebuild(node: etree._Element, old: str, ns: str, parent: etree._Element | None = None) -> etree._Element:
    qn = etree.QName(node)
    tag = f"{{{ns}}}{qn.localname}" if qn.namespace == old else node.tag
    el = etree.Element(tag, nsmap={None: ns}) if parent is None else etree.SubElement(parent, tag)
    for key, value in node.attrib.items():
        el.set(key, value)
    el.text, el.tail = node.text, node.tail
    for sub in node:
        if isinstance(sub.tag, str):
            _rebuild(sub, old, ns, el)
        else:
            el.append(copy.deepcopy(sub))
    return el


def kept_attrs(extras: Extras, fmt: str, element: str) -> dict[str, str]:
    prefix = f"{fmt}:{element}@"
    return {k[len(prefix) :]: v for k, v in extras.attributes.items() if k.startswith(prefix)}


def kept_elements(extras: Extras, fmt: str, parent: str) -> list[str]:
    key = f"{fmt}:{parent}"
    return [xml for k, xml in extras.elements if k == key]


def foreign(extras: Extras, fmt: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Extras that came from a format other than ``fmt``."""
    attrs = {k: v for k, v in extras.attributes.items() if not k.startswith(fmt + ":")}
    elems = [(k, x) for k, x in extras.elements if not k.startswith(fmt + ":")]
    return attrs, elems


def image_ref(image_path: Path | None, out_path: Path) -> str:
    """How an output file names its page image: relative to the file's own folder when it can."""
    if image_path is None:
        return ""
    try:
        return Path(os.path.relpath(image_path, out_path.resolve().parent)).as_posix()
    except ValueError:  # another drive on Windows
        return str(image_path)


def resolve_image(name: str | None, xml_path: Path) -> Path | None:
    if not name or not name.strip():
        return None
    name = name.strip()
    if name.startswith("file://"):
        name = name[len("file://") :]
    path = Path(name)
    if path.is_absolute():
        return Path(os.path.normpath(path))
    here = Path(os.path.normpath(xml_path.resolve().parent / path))
    # Transkribus exports put the XML in page/ beside the images and name the bare file.
    above = Path(os.path.normpath(xml_path.resolve().parent.parent / path))
    return above if not here.exists() and above.exists() else here


def image_folder(xml_path: Path) -> Path:
    """The folder a PAGE/ALTO file's page images are trusted to lie in: the file's own folder,
    or the one above when the file sits in a page/ folder (Transkribus exports and mspt
    projects keep their XML in page/ beside the images)."""
    folder = Path(xml_path).resolve().parent
    return folder.parent if folder.name.lower() == "page" else folder


def image_inside(image_path: Path, xml_path: Path) -> bool:
    """Whether the image lies in ``image_folder(xml_path)`` (links followed). An image from
    elsewhere, named by a file from someone else, is one the person never chose to share."""
    return Path(image_path).resolve().is_relative_to(image_folder(xml_path))


def duplicate_id(page) -> str | None:
    """The first ID given twice among the page's regions, lines, words and glyphs (ID-less
    parts aside), or None: XML IDs must be unique, and PAGE and ALTO writers both refuse it."""
    seen: set[str] = set()
    for region in page.regions:
        for part in _parts(region):
            if part.id and part.id in seen:
                return part.id
            seen.add(part.id)
    return None


def _parts(region):
    yield region
    for line in region.lines:
        yield line
        for word in line.words:
            yield word
            yield from word.glyphs

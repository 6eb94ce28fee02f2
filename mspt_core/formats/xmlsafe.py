"""The one hardened XML parser every format reader uses.

Document files come from other people. The parser never resolves entities, never loads a DTD
and never touches the network; on top of that any file that declares a DOCTYPE is refused,
because PAGE and ALTO never need one and every XXE or entity-expansion ("billion laughs")
attack needs one.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from mspt_core.errors import FormatError
from mspt_core.inputs import file_problem

# The largest page file read. A PAGE/ALTO page is a few MB at most (under 1 MB for every page of
# our 13 collections; a dense newspaper page with word and glyph boxes some 6 MB). A file at this
# cap takes seconds and a few hundred MB to convert (benchmarks/caps.py, RESULTS.md); the earlier
# 200 MB cap admitted files that took 1.5 minutes and 3.6 GB.
MAX_BYTES = 16 * 1024 * 1024


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe and the GUI reads in workers.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )


def parse_bytes(data: bytes, name: str | Path) -> etree._Element:
    """Parse ``data`` (read from ``name``, used in messages) and return the root element."""
    # A DOCTYPE must come before the root element, so looking at the prolog is enough; the
    # check after parsing below catches encodings where this byte test cannot see it.
    head = data[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise FormatError(
            f"{name}: refused: the file declares a DOCTYPE/entities (possible XXE or "
            "entity-expansion attack); PAGE and ALTO files never need one"
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else "?"
        reason = str(error.msg or error).split(", line ")[0]
        raise FormatError(f"{name}: malformed XML at line {line}: {reason}") from None
    except ValueError as error:  # e.g. an encoding declaration lxml cannot honour
        raise FormatError(f"{name}: cannot parse XML: {error}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise FormatError(f"{name}: refused: the file declares a DOCTYPE (possible XXE or entity-expansion attack)")
    return root


def parse_file(path: str | Path) -> etree._Element:
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise FormatError(f"{path}: {problem}")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise FormatError(
                f"{path}: refused: {size / 2**20:.1f} MiB is over the limit of {MAX_BYTES / 2**20:.0f} MiB "
                "for a page file (one page of PAGE XML or ALTO is a few MB at most)"
            )
        data = path.read_bytes()
    except OSError as error:
        raise FormatError(f"{path}: cannot read: {error.strerror or error}") from None
    if not data.strip():
        raise FormatError(f"{path}: empty file")
    return parse_bytes(data, path)


def localname(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def namespace(el: etree._Element) -> str:
    return etree.QName(el).namespace or ""

"""Finding the fonts installed on this machine and what each one can draw.

Fonts come from Debian ``fonts-*`` packages (see docs/synth.md for the list); nothing is
downloaded. Each face's character map is read with fontTools so that a string is only ever
rendered with a font that has a glyph for every character in it — a missing glyph would draw a
box or nothing, and the image would no longer match its text.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mspt_core.errors import DataError
from mspt_core.inputs import folder_files

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")

# A face must draw these to be of any use for Latin-script text lines.
REQUIRED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,")

# Families whose glyphs are not letters (keycaps, decorative initials, symbols, maths).
EXCLUDED_WORDS = ("keyboard", "initials", "math", "symbol", "dingbat", "d050000l", "emoji", "icons")

# Family-name keywords -> category, first match wins; fixed-pitch faces are "typewriter".
CATEGORY_WORDS = (
    ("blackletter", ("blankenburg", "fraktur", "blackletter", "textura", "schwabacher", "gotisch")),
    ("handwriting", ("handwriting", "dkg", "z003", "chancery", "script")),
    ("typewriter", ("mono", "courier", "typewriter")),
    (
        "oldstyle",
        (
            "garamond",
            "junicode",
            "old standard",
            "libertine",
            "caslon",
            "gentium",
            "bookman",
            "palatino",
            "p052",
            "didot",
        ),
    ),
    ("sans", ("sans", "cantarell", "carlito", "biolinum", "gothic", "arial", "helvet", "lato", "open sans", "roboto")),
)

# How often each category is drawn when it can draw the text: mostly book faces.
CATEGORY_WEIGHTS = {
    "serif": 0.32,
    "oldstyle": 0.30,
    "sans": 0.14,
    "typewriter": 0.10,
    "blackletter": 0.07,
    "handwriting": 0.07,
}
STYLE_WEIGHTS = {"regular": 4.0, "italic": 1.0, "bold": 1.0, "bold italic": 0.4}


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int  # face number inside a .ttc collection, else 0
    family: str
    style: str  # "regular", "italic", "bold" or "bold italic"
    category: str  # a key of CATEGORY_WEIGHTS
    codepoints: frozenset[int] = field(repr=False, compare=False, hash=False)

    @property
    def name(self) -> str:
        return f"{self.family} {self.style}".strip()

    def can_draw(self, text: str) -> bool:
        """True when every non-space character of ``text`` has a glyph in this face."""
        return all(ord(ch) in self.codepoints for ch in text if not ch.isspace())

    def missing(self, text: str) -> str:
        """The characters of ``text`` this face has no glyph for, each once, in order."""
        seen: dict[str, None] = {}
        for ch in text:
            if not ch.isspace() and ord(ch) not in self.codepoints:
                seen[ch] = None
        return "".join(seen)


def _style_of(subfamily: str) -> str:
    words = subfamily.lower()
    bold = any(w in words for w in ("bold", "black", "heavy", "semibold", "demi"))
    italic = any(w in words for w in ("italic", "oblique", "slanted"))
    return {(False, False): "regular", (False, True): "italic", (True, False): "bold", (True, True): "bold italic"}[
        (bold, italic)
    ]


def _category_of(family: str, fixed_pitch: bool) -> str:
    lowered = family.lower()
    for category, words in CATEGORY_WORDS:
        if any(w in lowered for w in words):
            return category
    return "typewriter" if fixed_pitch else "serif"


def read_face(path: Path, index: int = 0) -> FontFace | None:
    """The face at ``path`` (face ``index`` of a collection), or None when it is unreadable, a
    symbol font, or cannot draw basic Latin."""
    from fontTools.ttLib import TTFont, TTLibError

    try:
        font = TTFont(str(path), fontNumber=index, lazy=True)
        cmap = font.getBestCmap() or {}
        names = font["name"]
        family = str(names.getBestFamilyName() or path.stem)
        subfamily = str(names.getBestSubFamilyName() or "")
        fixed = bool(font["post"].isFixedPitch) if "post" in font else False
        font.close()
    except (TTLibError, OSError, KeyError, AssertionError, ValueError, TypeError):
        return None
    if any(w in family.lower() for w in EXCLUDED_WORDS):
        return None
    if any(w in f"{subfamily} {path.stem}".lower() for w in ("thin", "hairline")):
        return None  # strokes too faint to survive a scan
    codepoints = frozenset(cmap)
    if not all(ord(ch) in codepoints for ch in REQUIRED):
        return None
    # Some fonts (Courier Prime) name every face "Light"; the file name tells the style too.
    style = _style_of(f"{subfamily} {path.stem}")
    return FontFace(path, index, family, style, _category_of(family, fixed), codepoints)


def _font_files_from_fc_list() -> list[Path]:
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(
            ["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [Path(line) for line in out.splitlines() if line.lower().endswith(FONT_SUFFIXES)]


def _font_files_in(dirs: Iterable[Path]) -> list[Path]:
    return [path for root in dirs if root.is_dir() for path in folder_files(root, FONT_SUFFIXES)]


def _faces_in(path: Path) -> list[FontFace]:
    if path.suffix.lower() != ".ttc":
        face = read_face(path)
        return [face] if face else []
    from fontTools.ttLib import TTCollection

    try:
        count = len(TTCollection(str(path), lazy=True).fonts)
    except Exception:  # an unreadable collection is skipped like an unreadable font
        return []
    return [f for f in (read_face(path, i) for i in range(count)) if f]


_CACHE: dict[tuple[str, ...], list[FontFace]] = {}


def find_fonts(dirs: Sequence[Path | str] | None = None) -> list[FontFace]:
    """Every usable face, sorted by path for a stable order. Without ``dirs``: what fontconfig
    lists plus the usual font folders. Results are cached per process."""
    key = tuple(sorted(str(d) for d in dirs)) if dirs else ()
    if key not in _CACHE:
        if dirs:
            files = _font_files_in(Path(d) for d in dirs)
        else:
            files = _font_files_from_fc_list() + _font_files_in(FONT_DIRS)
        unique = sorted({p.resolve() for p in files if p.is_file()})
        _CACHE[key] = [face for path in unique for face in _faces_in(path)]
    return list(_CACHE[key])


class FontSet:
    """Faces to draw from, weighted so that book faces dominate and no family with many faces
    (Junicode has dozens of widths) crowds out the others."""

    def __init__(self, faces: Sequence[FontFace]):
        if not faces:
            raise DataError(
                "no usable fonts found: install Debian fonts-* packages (see docs/synth.md) or pass a font folder"
            )
        self.faces = list(faces)

    @classmethod
    def installed(cls, dirs: Sequence[Path | str] | None = None, categories: Iterable[str] | None = None) -> FontSet:
        faces = find_fonts(dirs)
        if categories is not None:
            wanted = set(categories)
            faces = [f for f in faces if f.category in wanted]
        return cls(faces)

    def __len__(self) -> int:
        return len(self.faces)

    def covering(self, text: str) -> list[FontFace]:
        return [f for f in self.faces if f.can_draw(text)]

    def weights(self, faces: Sequence[FontFace]) -> np.ndarray:
        """Sampling probability of each face: category share, split evenly among the category's
        families, then among each family's faces by style."""
        families: dict[str, set[str]] = {}
        style_total: dict[str, float] = {}
        for f in faces:
            families.setdefault(f.category, set()).add(f.family)
            style_total[f.family] = style_total.get(f.family, 0.0) + STYLE_WEIGHTS[f.style]
        w = np.array(
            [
                CATEGORY_WEIGHTS[f.category]
                / len(families[f.category])
                * STYLE_WEIGHTS[f.style]
                / style_total[f.family]
                for f in faces
            ]
        )
        return w / w.sum()

    def pick(self, text: str, rng: np.random.Generator) -> FontFace:
        """A random face that can draw ``text``; DataError when none can."""
        faces = self.covering(text)
        if not faces:
            nowhere = "".join(
                sorted({ch for ch in text if not ch.isspace() and not any(ord(ch) in f.codepoints for f in self.faces)})
            )
            detail = (
                f"no font has {nowhere!r}"
                if nowhere
                else "each character exists in some font, but no font has them all"
            )
            raise DataError(f"none of the {len(self.faces)} fonts can draw {text!r}: {detail}")
        return faces[int(rng.choice(len(faces), p=self.weights(faces)))]

"""Characters <-> ids. Id 0 is the CTC blank; the decoder head reuses it as padding and adds its
own start/end ids after the characters. Text is NFC-normalized on the way in, so "é" typed as
e + combining acute and "é" precomposed are one character."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

BLANK = 0


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# Cyrillic and Greek letters drawn like a Latin one. Ground truth typed with the wrong keyboard
# layout or copied from another tool carries them inside Latin words (two EHRI training pages
# spell "ä" and "ö" with Cyrillic "ӓ" and "ӧ"), and a model trained on it writes them back.
_BASE_TWINS = dict(
    zip(
        "аеорсухіјѕһԁԛԝАВЕКМНОРСТХІЈЅҮΑΒΕΖΗΙΚΜΝΟΡΤΥΧο",
        "aeopcyxijshdqwABEKMHOPCTXIJSYABEZHIKMNOPTYXo",
        strict=True,
    )
)


def _accented_twins() -> dict[str, str]:
    """Every Cyrillic or Greek letter whose base letter has a Latin twin and which, accents and
    all, has a single precomposed Latin character (Cyrillic "ӓ" -> "ä")."""
    twins = {}
    for code in range(0x0370, 0x0530):
        letter = chr(code)
        parts = unicodedata.normalize("NFD", letter)
        if parts[0] in _BASE_TWINS:
            latin = unicodedata.normalize("NFC", _BASE_TWINS[parts[0]] + parts[1:])
            if len(latin) == 1:
                twins[letter] = latin
    return twins


LATIN_TWINS = _accented_twins()
_LETTERS = re.compile(r"[^\W\d_]+")


def _script(letter: str) -> str:
    return unicodedata.name(letter, "").split(" ", 1)[0]


def latin_lookalikes_folded(text: str) -> str:
    """``text`` with the Cyrillic and Greek lookalikes inside Latin words written as the Latin
    letters they look like ("unfӓhig" -> "unfähig"). A word is folded only when it has a Latin
    letter and every non-Latin letter in it has a twin, so Cyrillic or Greek words are kept as
    they are; one character stays one character, so per-character positions keep lining up."""
    if text.isascii() or LATIN_TWINS.keys().isdisjoint(text):  # nearly every reading: nothing to fold
        return text

    def fold(match: re.Match[str]) -> str:
        word = match.group()
        scripts = [_script(c) for c in word]
        if "LATIN" not in scripts or not any(c in LATIN_TWINS for c in word):
            return word
        if any(s in ("CYRILLIC", "GREEK") and c not in LATIN_TWINS for c, s in zip(word, scripts, strict=True)):
            return word
        return "".join(LATIN_TWINS.get(c, c) for c in word)

    return _LETTERS.sub(fold, text)


class Charset:
    def __init__(self, chars: Sequence[str]):
        if len(set(chars)) != len(chars):
            raise ValueError("charset has duplicate characters")
        if any(len(c) != 1 for c in chars):
            raise ValueError("charset entries must be single characters")
        self.chars: list[str] = list(chars)
        self._ids = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 1) -> Charset:
        """Every character seen at least ``min_count`` times, sorted by code point for a stable order."""
        counts = Counter(ch for text in texts for ch in normalize(text))
        return cls(sorted(ch for ch, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        """Number of output classes, including the blank."""
        return len(self.chars) + 1

    def __contains__(self, ch: str) -> bool:
        return ch in self._ids

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; characters outside the charset are skipped (see ``unknown``)."""
        return [self._ids[c] for c in normalize(text) if c in self._ids]

    def unknown(self, text: str) -> set[str]:
        return {c for c in normalize(text) if c not in self._ids}

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))

    def extended(self, texts: Iterable[str]) -> tuple[Charset, list[str]]:
        """A charset with the characters of ``texts`` not yet known appended after the old ones,
        so every old id keeps its meaning; returns it and the list of added characters."""
        new = sorted({c for text in texts for c in normalize(text)} - set(self.chars))
        return Charset(self.chars + new), new

    def to_json(self) -> list[str]:
        return list(self.chars)

    @classmethod
    def from_json(cls, chars: list[str]) -> Charset:
        return cls(chars)

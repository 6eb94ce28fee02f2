"""Characters <-> ids. Id 0 is the CTC blank; the decoder head reuses it as padding and adds its
own start/end ids after the characters. Text is NFC-normalized on the way in, so "é" typed as
e + combining acute and "é" precomposed are one character."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

BLANK = 0


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


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

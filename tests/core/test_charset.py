"""Cyrillic and Greek lookalikes inside Latin words (faulty ground truth, and what a model learns
from it) are written as the Latin letters they look like; Cyrillic and Greek text is kept."""

from __future__ import annotations

from mspt_core.charset import latin_lookalikes_folded


def test_lookalikes_in_a_latin_word_become_latin_letters():
    assert latin_lookalikes_folded("unfӓhigen Persӧnlichkeiten") == "unfähigen Persönlichkeiten"
    assert latin_lookalikes_folded("Сhâteau, Nіce.") == "Château, Nice."  # capital Es, Ukrainian i


def test_cyrillic_and_greek_words_are_kept():
    for text in ("Москва", "сор", "Ελλάδα", "Ярослав Hašek"):
        assert latin_lookalikes_folded(text) == text
    # A word with a Cyrillic letter that looks like no Latin one is not a typing slip: kept.
    assert latin_lookalikes_folded("Mоскв") == "Mоскв"


def test_one_character_stays_one_character():
    """Readings carry a confidence and a position per character: folding must not shift them."""
    text = "wӓre Ӧl ёe Ḱ Ќa"
    folded = latin_lookalikes_folded(text)
    assert len(folded) == len(text)
    assert folded.startswith("wäre Öl ëe")

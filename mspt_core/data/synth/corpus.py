"""Text for synthetic lines, from corpora that Debian packages install (never from the
ground truth of our evaluation sets).

Two kinds of source per language: *prose* (paragraphs: fortune cookies, licence texts, the
Debian Reference) gives real word sequences and punctuation; *words* (spelling word lists)
gives the long tail of vocabulary and diacritics, strung into lines with random punctuation,
capitals and numbers. A source whose files are absent is simply not used.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mspt_core.errors import DataError

FORTUNES = Path("/usr/share/games/fortunes")
# Fortune files that are pictures drawn with characters, not text.
FORTUNE_ART = {"art", "ascii-art", "asciiart"}


def clean(text: str) -> str:
    """NFC, one space between words, and only characters a printed page shows: letters, marks,
    digits, punctuation and a few symbols (no control, box-drawing or emoji)."""
    text = unicodedata.normalize("NFC", text)
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isspace():
            kept.append(" ")
        elif category[0] in "LMNP" or category in ("Sc", "Sm") or ch in "°§©®&@#%/*+=~^|":
            kept.append(ch)
    return " ".join("".join(kept).split())


def _mostly_letters(text: str) -> bool:
    """Rejects ASCII art, tables and code: at least 60 % letters among non-space characters."""
    chars = [ch for ch in text if not ch.isspace()]
    return bool(chars) and sum(ch.isalpha() for ch in chars) >= 0.6 * len(chars)


# ---- readers: a file -> paragraphs (prose) or words (word lists) ----


def read_fortunes(path: Path) -> list[str]:
    """Fortune cookie files: entries separated by lines holding only ``%``."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    return [clean(entry) for entry in re.split(r"^%\s*$", raw, flags=re.M)]


def read_plain(path: Path) -> list[str]:
    """Plain text: paragraphs separated by blank lines."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    return [clean(p) for p in re.split(r"\n\s*\n", raw)]


def read_html(path: Path) -> list[str]:
    """An HTML document's paragraphs, without code listings, tables or markup."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    raw = re.sub(r"<(pre|script|style|table)\b.*?</\1>", " ", raw, flags=re.S | re.I)
    blocks = re.split(r"<(?:p|li|dd|h\d|div)\b[^>]*>", raw, flags=re.I)
    return [clean(html.unescape(re.sub(r"<[^>]+>", " ", b))) for b in blocks]


def read_perl_data(path: Path) -> list[str]:
    """The ``__DATA__`` section of a Perl module (Text::Lorem keeps its Latin there)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    _, _, data = raw.partition("__DATA__")
    return [clean(p) for p in data.split("\n")]


def read_word_list(path: Path) -> list[str]:
    """One word per line (/usr/share/dict)."""
    words = path.read_text(encoding="utf-8", errors="replace").split("\n")
    return [w for w in (clean(w) for w in words) if w and " " not in w]


def read_dictd_headwords(path: Path) -> list[str]:
    """Headwords of a dictd ``.index`` file (first tab-separated column)."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").split("\n"):
        head = clean(line.split("\t", 1)[0])
        if head and not head.startswith("00database"):
            words.extend(w for w in head.split() if w.isalpha())
    return words


@dataclass
class TextSource:
    """One language's text from one kind of file; read on first use."""

    language: str
    kind: str  # "prose" or "words"
    paths: list[Path]
    reader: Callable[[Path], list[str]]
    _items: list[str] | None = field(default=None, repr=False)

    @property
    def items(self) -> list[str]:
        """Paragraphs (prose) or words, with the unusable ones dropped."""
        if self._items is None:
            items: list[str] = []
            for path in self.paths:
                try:
                    items.extend(self.reader(path))
                except OSError:
                    continue
            if self.kind == "prose":
                items = [p for p in items if len(p) >= 20 and _mostly_letters(p)]
            self._items = items
        return self._items


def _files(folder: Path, pattern: str = "*", skip: Iterable[str] = ()) -> list[Path]:
    """Regular files in ``folder`` matching ``pattern``, symlinks resolved and deduplicated."""
    if not folder.is_dir():
        return []
    skipped = set(skip)
    found = {p.resolve() for p in folder.glob(pattern) if p.is_file() and p.name not in skipped}
    return sorted(found)


def _fortune_files(folder: Path) -> list[Path]:
    # Entries live in files without a suffix; .dat are indexes and .u8 links to the same text.
    return [p for p in _files(folder, skip=FORTUNE_ART) if not p.suffix]


def _existing(*paths: str) -> list[Path]:
    return [Path(p) for p in paths if Path(p).is_file()]


def installed_sources() -> list[TextSource]:
    """Every known source whose files are on this machine (empty lists are dropped)."""
    candidates = [
        TextSource("en", "prose", _fortune_files(FORTUNES), read_fortunes),
        TextSource("en", "prose", _files(Path("/usr/share/common-licenses")), read_plain),
        TextSource(
            "en",
            "words",
            _existing("/usr/share/dict/american-english", "/usr/share/dict/british-english"),
            read_word_list,
        ),
        TextSource("de", "prose", _fortune_files(FORTUNES / "de"), read_fortunes),
        TextSource("de", "words", _existing("/usr/share/dict/ngerman"), read_word_list),
        TextSource("cs", "prose", _fortune_files(FORTUNES / "cs"), read_fortunes),
        TextSource("fr", "prose", _files(Path("/usr/share/debian-reference"), "*.fr.html"), read_html),
        TextSource("fr", "words", _existing("/usr/share/dict/french"), read_word_list),
        TextSource("la", "prose", _existing("/usr/share/perl5/Text/Lorem.pm"), read_perl_data),
        TextSource("la", "words", _existing("/usr/share/dictd/freedict-lat-eng.index"), read_dictd_headwords),
    ]
    return [s for s in candidates if s.paths]


# Word-salad lines mimic print: sentence punctuation, an occasional number or hyphenated break.
PUNCTUATION = [",", ".", ";", ":", "!", "?"]
PUNCTUATION_P = [0.45, 0.3, 0.08, 0.07, 0.05, 0.05]


def _target_length(rng: np.random.Generator) -> int:
    """Characters in a line: mostly book-line lengths, sometimes a short fragment."""
    if rng.random() < 0.12:
        return int(rng.integers(3, 20))
    return int(np.clip(rng.normal(55, 18), 12, 95))


# Quotation marks of printed dialogue, by language (opening, closing), the first the commonest.
# The corpora hold few of them, and a model that seldom saw speech marks leaves them out of a
# novel's dialogue (the first print model dropped most of the bundled sample page's).
QUOTES = {
    "en": [('"', '"'), ("“", "”"), ("'", "'")],
    "fr": [("« ", " »"), ("«", "»"), ('"', '"'), ("“", "”")],
    "de": [("„", "“"), ("»", "«"), ('"', '"')],
}
OTHER_QUOTES = [('"', '"'), ("„", "“"), ("«", "»")]
DASHES = ["–", "—", "–", "—", "-"]  # between words, unspaced, as a broken-off speech is set


class Corpus:
    """Random text lines from a mix of sources, languages drawn evenly. ``dialogue``: the share
    of lines given the punctuation of printed speech (``speech_marks``); 0 leaves the text, and
    the random draws, as they were before the option existed."""

    def __init__(self, sources: Sequence[TextSource], dialogue: float = 0.0):
        if not sources:
            raise DataError(
                "no text corpus found: install the Debian packages listed in "
                "docs/synth.md (fortunes, wamerican, ...) or give text files"
            )
        if not 0.0 <= dialogue <= 1.0:
            raise ValueError(f"dialogue must be a share between 0 and 1, got {dialogue}")
        self.sources = list(sources)
        self.dialogue = dialogue

    @classmethod
    def installed(cls, languages: Iterable[str] | None = None, dialogue: float = 0.0) -> Corpus:
        sources = installed_sources()
        if languages is not None:
            wanted = set(languages)
            sources = [s for s in sources if s.language in wanted]
            if not sources:
                raise DataError(
                    f"no corpus installed for {', '.join(sorted(wanted))}; see docs/synth.md for the Debian packages"
                )
        return cls(sources, dialogue)

    @classmethod
    def from_files(cls, paths: Sequence[Path | str], language: str = "xx", dialogue: float = 0.0) -> Corpus:
        """Plain UTF-8 text files of one's own (paragraphs separated by blank lines)."""
        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise DataError(f"no such text file: {', '.join(missing)}")
        return cls([TextSource(language, "prose", [Path(p) for p in paths], read_plain)], dialogue)

    @property
    def languages(self) -> list[str]:
        return sorted({s.language for s in self.sources})

    def _source(self, rng: np.random.Generator, language: str | None) -> TextSource:
        languages = [language] if language else self.languages
        chosen = languages[int(rng.integers(len(languages)))]
        pool = [s for s in self.sources if s.language == chosen and s.items]
        if not pool:
            raise DataError(f"the {chosen!r} corpus is empty")
        prose = [s for s in pool if s.kind == "prose"]
        words = [s for s in pool if s.kind == "words"]
        # Prose carries real punctuation and word order, so it gets the larger share.
        group = prose if prose and (not words or rng.random() < 0.7) else words
        return group[int(rng.integers(len(group)))]

    def sample(self, rng: np.random.Generator, language: str | None = None) -> tuple[str, str]:
        """(line text, language)."""
        source = self._source(rng, language)
        target = _target_length(rng)
        if source.kind == "prose":
            text = _prose_line(source.items, target, rng)
        else:
            text = _word_line(source.items, target, rng)
        if self.dialogue and rng.random() < self.dialogue:
            text = speech_marks(text, source.language, rng)
        return text, source.language

    def passage(self, rng: np.random.Generator, chars: int, language: str | None = None) -> str:
        """About ``chars`` characters of running text (a paragraph for a page)."""
        source = self._source(rng, language)
        if source.kind == "prose":
            return _prose_line(source.items, chars, rng)
        return _word_line(source.items, chars, rng)

    def lines(self, rng: np.random.Generator, language: str | None = None) -> Iterator[str]:
        while True:
            yield self.sample(rng, language)[0]


def _prose_line(paragraphs: list[str], target: int, rng: np.random.Generator) -> str:
    index = int(rng.integers(len(paragraphs)))
    words = paragraphs[index].split()
    # Often from a paragraph's start (capital first word), but not always the same start of
    # one long paragraph.
    start = 0 if len(words) < 80 and rng.random() < 0.3 else int(rng.integers(len(words)))
    taken: list[str] = []
    length = -1
    while length < target:
        if start >= len(words):  # run on into the next paragraph
            index = (index + 1) % len(paragraphs)
            words, start = paragraphs[index].split(), 0
        word = words[start]
        start += 1
        if taken and length + 1 + len(word) > target + 8:
            break
        taken.append(word)
        length += 1 + len(word)
    return " ".join(taken)


def _word_line(vocabulary: list[str], target: int, rng: np.random.Generator) -> str:
    taken: list[str] = []
    length = -1
    capital = rng.random() < 0.5
    while length < target:
        word = vocabulary[int(rng.integers(len(vocabulary)))]
        if rng.random() < 0.04:
            word = str(int(rng.integers(1, 2000)))
        if capital:
            word = word[:1].upper() + word[1:]
        capital = False
        if rng.random() < 0.12:
            mark = PUNCTUATION[int(rng.choice(len(PUNCTUATION), p=PUNCTUATION_P))]
            word += mark
            capital = mark in ".!?"
        taken.append(word)
        length += 1 + len(word)
    text = " ".join(taken)
    if rng.random() < 0.08:  # a word broken at the line end, as in justified print
        text += "-"
    return text


def speech_marks(text: str, language: str, rng: np.random.Generator) -> str:
    """``text`` punctuated as a line of printed dialogue: speech opening at its start, closing
    at its end (after a comma, full stop, ? or ! where it has none), a reply set inside it
    (``word," said ... "Word``), or two words joined by an unspaced dash."""
    words = text.split()
    if not words:
        return text
    styles = QUOTES.get(language, OTHER_QUOTES)
    opening, closing = styles[0] if rng.random() < 0.6 else styles[int(rng.integers(len(styles)))]
    form = rng.choice(["open", "close", "both", "inside", "dash"], p=[0.2, 0.25, 0.2, 0.25, 0.1])
    if form == "dash" and len(words) > 1:
        k = int(rng.integers(len(words) - 1))
        words[k : k + 2] = [words[k].rstrip(",.;:") + DASHES[int(rng.integers(len(DASHES)))] + words[k + 1]]
        return " ".join(words)
    if form in ("close", "both", "inside"):
        k = len(words) - 1 if form != "inside" or len(words) < 4 else int(rng.integers(len(words) - 3))
        if words[k][-1] not in ".,;:!?":
            words[k] += str(rng.choice([",", ".", "?", "!"], p=[0.45, 0.35, 0.1, 0.1]))
        words[k] += closing
        reply = k + 1 + int(rng.integers(1, 4))  # "...," said she, "...
        if form == "inside" and reply < len(words):
            words[reply] = opening + words[reply]
    if form in ("open", "both"):
        words[0] = opening + words[0]
    return " ".join(words)

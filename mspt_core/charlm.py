"""A character n-gram language model for CTC beam search (shallow fusion).

Where the optical model hesitates between readings of a hand ("tems" or "tous"), the reading
that is more likely French or English text wins. The beam search (``decode.beam_search``) adds
``alpha`` x log P(character | the characters before it) and ``beta`` per character to each
prefix's optical log-probability (Hannun et al. 2014, "Deep Speech", first-pass decoding).

The model: counts of characters after contexts of up to ``order - 1`` characters, smoothed by
interpolated Witten-Bell (each context gives way to its shorter context in proportion to how
many different characters it has seen), down to a uniform distribution. Contexts seen fewer than
``min_context_count`` times are dropped when it is trained, to keep the file small.

A word list (``Lexicon``) adds what five characters of context cannot see: whether a whole
word is one the language has. The search adds ``unknown_word`` (a negative number) for each word
of a reading the list does not hold, so a reading that is no word gives way to one that is where
the optical model hesitates; a word with a digit, and a word broken at the end of the line
("compa-"), are not judged (Transkribus and PyLaia offer such dictionaries; the penalty form keeps the beam's
scores comparable between readings with different numbers of words).

Files: JSON (``FORMAT``), no code, in resources/reading/NAME.charlm.json; the word list beside
it, NAME.words.gz (gzip, UTF-8, one word per line). A model that reads with them names them in
its own file, with the fusion chosen on validation lines for that model: ``"language_model":
{"name": NAME, "alpha": .., "beta": .., "beam": .., "prune": .., "unknown_word": ..}`` (no
``unknown_word``, or 0: the word list is not used).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import math
import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mspt_core.atomic import atomic_write
from mspt_core.errors import ModelFileError

FORMAT = "mspt-charlm"
FORMAT_VERSION = 1
START, END = "\x02", "\x03"  # before the first character of a line; after its last
MAX_ORDER = 12
MAX_CONTEXTS = 5_000_000  # what a file may make mspt hold in memory
MAX_WORDS = 5_000_000
# A word's letters are judged in parts split at these: "qu'il" is "qu" and "il", "peut-être"
# "peut" and "être" (the list holds the parts of its own words, so it knows both).
LINE_BREAK_MARKS = "-‐=¬"  # a line ending in a word and one of these breaks the word
WORD_JOINS = re.compile("['’" + re.escape(LINE_BREAK_MARKS) + "]")
NOT_WORD_EDGE = re.compile(r"^\W+|\W+$")
WORD_GAPS = re.compile(r"\s")  # a space, or a no-break space (the handwriting model reads some)
MAX_WORD_BYTES = 64  # a word list's file may hold at most MAX_WORDS lines of about this length
MAX_WORD_LETTERS = 80  # the search looks this far back for the word a gap ends (no word is longer)


def word_parts(word: str) -> list[str] | None:
    """The parts a word is looked up by in a ``Lexicon``: lower case, long s as s, split at
    apostrophes and hyphens, each without the punctuation around it ("d'«un»" is "d" and "un");
    None for a word not to judge (no letters, or a digit: a number, a date, a folio)."""
    bare = NOT_WORD_EDGE.sub("", unicodedata.normalize("NFC", word))
    if not bare or any(ch.isdigit() for ch in bare):
        return None
    parts = [NOT_WORD_EDGE.sub("", part) for part in WORD_JOINS.split(bare.lower().replace("ſ", "s"))]
    return [part for part in parts if part] or None


def text_words(lines: Iterable[str]) -> list[str]:
    """The words of consecutive lines of text, a word broken at a line's end
    (``LINE_BREAK_MARKS``) joined with the next line's first word: its halves are not words."""
    words: list[str] = []
    broken = False
    for line in lines:
        found = line.split()
        if not found:
            continue
        if broken:
            words[-1] = words[-1][:-1] + found.pop(0)
        words += found
        if len(words) > 1 and words[-1] == "¬":  # "remar ¬": the mark set apart (a lone - or = is a dash)
            words[-1:] = []
            words[-1] += "¬"
        broken = len(words[-1]) > 1 and words[-1].endswith(tuple(LINE_BREAK_MARKS))
    return words


class Lexicon:
    """The words a language is known to have (``word_parts`` of each)."""

    def __init__(self, words: Iterable[str]):
        self._parts = frozenset(part for word in words for part in (word_parts(word) or ()))

    def __len__(self) -> int:
        return len(self._parts)

    def knows(self, word: str) -> bool | None:
        """Whether every part of ``word`` is in the list; None for a word not to judge."""
        parts = word_parts(word)
        return None if parts is None else all(part in self._parts for part in parts)

    def save(self, path: Path) -> Path:
        text = "\n".join(sorted(self._parts)) + "\n"
        return atomic_write(path, gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        path = Path(path)
        cap = MAX_WORDS * MAX_WORD_BYTES
        try:
            chunks, size = [], 0
            with gzip.open(path, "rb") as stream:
                while size <= cap and (chunk := stream.read(1 << 20)):  # never more than the cap unpacked
                    chunks.append(chunk)
                    size += len(chunk)
            data = b"".join(chunks)
            if size > cap or data.count(b"\n") > MAX_WORDS:
                raise ModelFileError(f"{path}: more than {MAX_WORDS} words or {cap} bytes")
            words = data.decode("utf-8").split("\n")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
            raise ModelFileError(f"{path}: cannot read the word list ({error})") from error
        lexicon = cls(())
        lexicon._parts = frozenset(word for word in words if word)  # saved as parts already
        return lexicon


@dataclass(frozen=True)
class Fusion:
    """How a beam search weighs the language model: ``alpha`` x its log-probability plus ``beta``
    per character (against CTC's bias towards short readings), ``beam`` prefixes kept; with a
    ``lexicon``, ``unknown_word`` (<= 0) for each word of the reading it does not hold."""

    alpha: float = 0.5
    beta: float = 1.0
    beam: int = 8
    prune: float = 1e-3  # classes less likely than this at a token are not tried
    unknown_word: float = 0.0
    lexicon: Lexicon | None = field(default=None, repr=False)  # compared as the same list or not

    def settings(self) -> dict[str, float]:
        """The numbers, as a model's file keeps them (no ``unknown_word`` where it is 0, as in
        every file from before the word list)."""
        return {name: getattr(self, name) for name in FUSION_SETTINGS if name != "unknown_word" or self.unknown_word}

    def word_ended(self, text: str, label: str) -> float:
        """What the word list adds where ``label`` follows ``text``: ``unknown_word`` where the
        label starts a gap after a word the list does not hold, else 0."""
        if self.lexicon is None or not self.unknown_word or not label[:1].isspace() or text[-1:].isspace():
            return 0.0
        return self._judged(WORD_GAPS.split(text[-MAX_WORD_LETTERS:])[-1])

    def line_ended(self, text: str) -> float:
        """What the word list adds for the last word of a whole line ``text``."""
        if self.lexicon is None or not self.unknown_word:
            return 0.0
        return self._judged_last(WORD_GAPS.split(text)[-1])

    def words_of(self, text: str) -> float:
        """What the word list adds for every word of a whole line ``text``."""
        if self.lexicon is None or not self.unknown_word:
            return 0.0
        words = WORD_GAPS.split(text)
        return sum(self._judged(word) for word in words[:-1]) + self._judged_last(words[-1])

    def _judged_last(self, word: str) -> float:
        return 0.0 if word.endswith(tuple(LINE_BREAK_MARKS)) else self._judged(word)  # broken, not ended

    def _judged(self, word: str) -> float:
        return self.unknown_word if word and self.lexicon is not None and self.lexicon.knows(word) is False else 0.0


# The numbers of a fusion, as a model's file names them.
FUSION_SETTINGS = tuple(f.name for f in dataclasses.fields(Fusion) if f.name != "lexicon")


class CharLM:
    def __init__(self, order: int, counts: dict[str, dict[str, int]], metadata: dict | None = None):
        self.order = order
        self.metadata = metadata or {}
        self._counts = counts
        self._totals = {context: sum(after.values()) for context, after in counts.items()}
        vocabulary = {char for after in counts.values() for char in after}
        self._uniform = 1.0 / max(1, len(vocabulary))
        self._log_prob = lru_cache(maxsize=1 << 18)(self._log_prob)  # type: ignore[method-assign]

    @classmethod
    def train(cls, texts: Iterable[str], order: int = 6, min_context_count: int = 2) -> CharLM:
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"order must be 1 to {MAX_ORDER}, got {order}")
        counts: defaultdict[str, Counter] = defaultdict(Counter)
        for text in texts:
            padded = START * (order - 1) + text + END
            for i in range(order - 1, len(padded)):
                for n in range(order):
                    counts[padded[i - n : i]][padded[i]] += 1
        kept = {
            context: dict(after)
            for context, after in counts.items()
            if context == "" or sum(after.values()) >= min_context_count
        }
        return cls(order, kept)

    def log_prob(self, history: str, char: str) -> float:
        """log P(``char`` | the line so far ``history``); ``char`` END for the end of the line."""
        if self.order == 1:
            return self._log_prob("", char)
        tail = history[-(self.order - 1) :]
        return self._log_prob(START * (self.order - 1 - len(tail)) + tail, char)

    def _log_prob(self, context: str, char: str) -> float:
        p = self._uniform
        for n in range(self.order):  # the empty context first, each longer one interpolated over it
            key = context[len(context) - n :]
            after = self._counts.get(key)
            if after is None:
                break  # no longer context is known either: each contains this one
            total = self._totals[key]
            weight = total / (total + len(after))
            p = weight * after.get(char, 0) / total + (1 - weight) * p
        return math.log(p)

    def text_log_prob(self, history: str, text: str) -> float:
        """log P(``text`` follows ``history``): one class of a charset may be several characters."""
        total = 0.0
        for char in text:
            total += self.log_prob(history, char)
            history += char
        return total

    # --- file --------------------------------------------------------------------------------

    def save(self, path: Path) -> Path:
        document = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "order": self.order,
            "metadata": self.metadata,
            "counts": self._counts,
        }
        return atomic_write(path, json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8"))

    @classmethod
    def load(cls, path: Path) -> CharLM:
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelFileError(f"{path}: cannot read the language model ({error})") from error
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise ModelFileError(f"{path}: not an mspt character language model")
        version = document.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelFileError(f"{path}: made by a newer mspt (format {version!r}); please upgrade")
        try:
            order, counts = document["order"], document["counts"]
            valid = (
                isinstance(order, int)
                and 1 <= order <= MAX_ORDER
                and isinstance(counts, dict)
                and len(counts) <= MAX_CONTEXTS
                and "" in counts  # the shortest context, which every probability rests on
                and all(
                    isinstance(after, dict)
                    and after  # a context with nothing after it would divide by zero
                    and all(isinstance(c, str) and isinstance(n, int) and n > 0 for c, n in after.items())
                    for after in counts.values()
                )
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ModelFileError(f"{path}: damaged language model ({error})") from error
        if not valid:
            raise ModelFileError(f"{path}: damaged language model (order or counts out of range)")
        return cls(order, counts, document.get("metadata") or {})


log = logging.getLogger(__name__)


def for_model(metadata: dict) -> tuple[CharLM, Fusion] | None:
    """The language model a model's file names (``"language_model"``) and how to fuse it; None
    where it names none, or (logged) where it is not installed or cannot be read."""
    spec = metadata.get("language_model")
    if not spec:
        return None
    try:
        if not isinstance(spec, dict):
            raise TypeError("not a JSON object")
        name = spec["name"]
        fusion = Fusion(**{k: spec[k] for k in FUSION_SETTINGS if k in spec})
        if not (isinstance(name, str) and name.replace("-", "").isalnum()):
            raise ValueError(f"{name!r} is not a language model's name")
        numbers = (fusion.alpha, fusion.beta, fusion.prune, fusion.unknown_word)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
            raise ValueError("alpha, beta, prune and unknown_word must be numbers")
        if not (isinstance(fusion.beam, int) and not isinstance(fusion.beam, bool) and fusion.beam >= 1):
            raise ValueError("beam must be a whole number of at least 1")
        if not 0 < fusion.prune < 1:
            raise ValueError("prune must be between 0 and 1")
        if fusion.unknown_word > 0:
            raise ValueError("unknown_word must not be above 0")
        lm = _load_bundled(name)
    except (KeyError, TypeError, ValueError) as error:
        log.warning('reading without a language model: the model\'s "language_model" is damaged (%s)', error)
        return None
    except ModelFileError as error:
        log.warning("reading without the language model %s: %s", spec.get("name"), error)
        return None
    if not fusion.unknown_word:
        return lm, fusion
    try:
        return lm, dataclasses.replace(fusion, lexicon=_load_lexicon(name))
    except ModelFileError as error:
        log.warning("reading without the word list %s: %s", name, error)
        return lm, dataclasses.replace(fusion, unknown_word=0.0)


def _installed(path: Path) -> Path:
    if not path.is_file():
        raise ModelFileError(f"{path}: not installed")
    return path


@lru_cache(maxsize=4)
def _load_bundled(name: str) -> CharLM:
    from mspt_core import resources

    return CharLM.load(_installed(resources.language_model(name)))


@lru_cache(maxsize=4)
def _load_lexicon(name: str) -> Lexicon:
    from mspt_core import resources

    return Lexicon.load(_installed(resources.lexicon(name)))

"""A character n-gram language model for CTC beam search (shallow fusion).

Where the optical model hesitates between readings of a hand ("tems" or "tous"), the reading
that is more likely French or English text wins. The beam search (``decode.beam_search``) adds
``alpha`` x log P(character | the characters before it) and ``beta`` per character to each
prefix's optical log-probability (Hannun et al. 2014, "Deep Speech", first-pass decoding).

The model: counts of characters after contexts of up to ``order - 1`` characters, smoothed by
interpolated Witten-Bell (each context gives way to its shorter context in proportion to how
many different characters it has seen), down to a uniform distribution. Contexts seen fewer than
``min_context_count`` times are dropped when it is trained, to keep the file small.

File: JSON (``FORMAT``), no code, in resources/reading/NAME.charlm.json. A model that reads with
one names it in its own file, with the fusion chosen on validation lines for that model:
``"language_model": {"name": NAME, "alpha": .., "beta": .., "beam": .., "prune": ..}``.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mspt_core.atomic import atomic_write
from mspt_core.errors import ModelFileError

FORMAT = "mspt-charlm"
FORMAT_VERSION = 1
START, END = "\x02", "\x03"  # before the first character of a line; after its last
MAX_ORDER = 12
MAX_CONTEXTS = 5_000_000  # what a file may make mspt hold in memory


@dataclass(frozen=True)
class Fusion:
    """How a beam search weighs the language model: ``alpha`` x its log-probability plus ``beta``
    per character (against CTC's bias towards short readings), ``beam`` prefixes kept."""

    alpha: float = 0.5
    beta: float = 1.0
    beam: int = 8
    prune: float = 1e-3  # classes less likely than this at a token are not tried


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
        fusion = Fusion(**{k: spec[k] for k in ("alpha", "beta", "beam", "prune") if k in spec})
        if not (isinstance(name, str) and name.replace("-", "").isalnum()):
            raise ValueError(f"{name!r} is not a language model's name")
        numbers = (fusion.alpha, fusion.beta, fusion.prune)
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
            raise ValueError("alpha, beta and prune must be numbers")
        if not (isinstance(fusion.beam, int) and not isinstance(fusion.beam, bool) and fusion.beam >= 1):
            raise ValueError("beam must be a whole number of at least 1")
        if not 0 < fusion.prune < 1:
            raise ValueError("prune must be between 0 and 1")
        return _load_bundled(name), fusion
    except (KeyError, TypeError, ValueError) as error:
        log.warning('reading without a language model: the model\'s "language_model" is damaged (%s)', error)
    except ModelFileError as error:
        log.warning("reading without the language model %s: %s", spec.get("name"), error)
    return None


@lru_cache(maxsize=4)
def _load_bundled(name: str) -> CharLM:
    from mspt_core import resources

    path = resources.language_model(name)
    if not path.is_file():
        raise ModelFileError(f"{path}: not installed")
    return CharLM.load(path)

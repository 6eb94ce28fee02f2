"""Character and word error rates on NFC text, with a per-line report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from mspt_core.charset import normalize

# Two mean CERs this close (0.05 points) count as equal when a model's setting is chosen on val:
# the cheaper or plainer choice wins (packaging/ship_model.py's int8 check, the language model's
# search, reading_settings.py, script_classifier.py).
CER_TIE = 0.0005


@dataclass
class LineError:
    reference: str
    hypothesis: str
    char_errors: int
    word_errors: int

    @property
    def cer(self) -> float:
        return self.char_errors / max(len(self.reference), 1)


@dataclass
class ErrorReport:
    lines: list[LineError]

    @property
    def chars(self) -> int:
        return sum(len(line.reference) for line in self.lines)

    @property
    def words(self) -> int:
        return sum(len(line.reference.split()) for line in self.lines)

    @property
    def cer(self) -> float:
        return sum(line.char_errors for line in self.lines) / max(self.chars, 1)

    @property
    def wer(self) -> float:
        return sum(line.word_errors for line in self.lines) / max(self.words, 1)

    def worst(self, n: int = 10) -> list[LineError]:
        return sorted(self.lines, key=lambda line: line.cer, reverse=True)[:n]


def char_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(normalize(reference), normalize(hypothesis))


def word_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(normalize(reference).split(), normalize(hypothesis).split())


def error_report(references: Sequence[str], hypotheses: Sequence[str]) -> ErrorReport:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    return ErrorReport(
        [
            LineError(normalize(r), normalize(h), char_errors(r, h), word_errors(r, h))
            for r, h in zip(references, hypotheses, strict=True)
        ]
    )


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    return error_report(references, hypotheses).cer

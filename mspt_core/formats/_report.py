"""Loss reports: what a reader or writer could not keep, counted, so a user is told once per
file ("line status not kept in ALTO (28 lines)") rather than once per line."""

from __future__ import annotations

from collections import Counter


class Report:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def lines(self, name: str) -> list[str]:
        return [f"{name}: {what}" + (f" ({n}×)" if n > 1 else "") for what, n in self.counts.items()]

    def flush(self, name: str, into: list[str] | None) -> None:
        if into is not None:
            into.extend(self.lines(name))

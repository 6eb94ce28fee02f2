"""CTC decoding: greedy with per-character confidences and token positions, and prefix beam
search. Inputs are one line's log-probabilities (T, C) over its real (unpadded) tokens."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from mspt_core.charset import BLANK


@dataclass
class Decoded:
    ids: list[int]
    confidences: list[float]  # one per id, in [0, 1]
    positions: list[int]  # token index where each character peaks; x = index * 8 pixels

    @property
    def confidence(self) -> float:
        """Whole-line confidence: the least sure character (1.0 for an empty line)."""
        return min(self.confidences, default=1.0)


def greedy(log_probs: np.ndarray) -> Decoded:
    """Best class per token, repeats merged, blanks dropped. A character's confidence is the
    highest probability among the tokens that produced it."""
    best = log_probs.argmax(axis=1)
    best_p = np.exp(log_probs[np.arange(len(best)), best])
    ids: list[int] = []
    confs: list[float] = []
    positions: list[int] = []
    previous = BLANK
    for t, (cls, p) in enumerate(zip(best.tolist(), best_p.tolist(), strict=True)):
        if cls != BLANK and cls != previous:
            ids.append(cls)
            confs.append(p)
            positions.append(t)
        elif cls != BLANK and p > confs[-1]:
            confs[-1] = p
            positions[-1] = t
        previous = cls
    return Decoded(ids, confs, positions)


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    high = max(a, b)
    return high + math.log1p(math.exp(-abs(a - b)))


def beam_search(log_probs: np.ndarray, beam: int = 8, prune: float = 1e-4) -> Decoded:
    """CTC prefix beam search. Each prefix keeps the log-probability of ending in blank and in
    its last character. Classes below ``prune`` probability at a token are not expanded.
    Confidences of the result come from the greedy alignment of the same output when it
    matches, else from the per-token maxima along the best path."""
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    log_prune = math.log(prune)
    for t in range(log_probs.shape[0]):
        row = log_probs[t]
        candidates = np.nonzero(row >= log_prune)[0].tolist()
        if BLANK not in candidates:
            candidates.append(BLANK)
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_blank, p_char) in beams.items():
            total = _logsumexp(p_blank, p_char)
            for cls in candidates:
                p = float(row[cls])
                if cls == BLANK:
                    entry = nxt[prefix]
                    entry[0] = _logsumexp(entry[0], total + p)
                    continue
                extended = prefix + (cls,)
                entry = nxt[extended]
                if prefix and prefix[-1] == cls:
                    # A repeat needs a blank in between to count as a new character.
                    entry[1] = _logsumexp(entry[1], p_blank + p)
                    same = nxt[prefix]
                    same[1] = _logsumexp(same[1], p_char + p)
                else:
                    entry[1] = _logsumexp(entry[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logsumexp(*kv[1]), reverse=True)[:beam]
        beams = {prefix: (pb, pc) for prefix, (pb, pc) in ranked}
    best_prefix = max(beams, key=lambda k: _logsumexp(*beams[k]))
    path = greedy(log_probs)
    if tuple(path.ids) == best_prefix:
        return path
    # Beam result differs from the greedy path: place characters by a forced alignment-free
    # estimate, spreading them over the tokens where any non-blank class wins.
    probs = np.exp(log_probs)
    confs = [float(probs[:, cls].max()) for cls in best_prefix]
    positions = [int(probs[:, cls].argmax()) for cls in best_prefix]
    return Decoded(list(best_prefix), confs, positions)

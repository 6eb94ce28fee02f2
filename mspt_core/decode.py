"""CTC decoding: greedy with per-character confidences and token positions, and prefix beam
search, optionally with a character language model (``charlm``). Inputs are one line's
log-probabilities (T, C) over its real (unpadded) tokens."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mspt_core.charlm import END, CharLM, Fusion
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


# Prefixes this far (natural log) below the best are dropped even where the beam has room: at
# e^-12 of the best they cannot come back within a line, and clean print leaves one or two.
BEAM_GAP = 12.0


def _entry(
    beams: dict[tuple[int, ...], list],
    prefix: tuple[int, ...],
    parent: list,
    lm: CharLM | None = None,
    fusion: Fusion | None = None,
    label: str | None = None,
) -> list:
    """``prefix``'s state in ``beams``, made from its ``parent``'s (``label`` added to the
    parent's text, and scored by ``lm``) when it is not there yet."""
    found = beams.get(prefix)
    if found is None:
        score, text = parent[2], parent[3]
        if label is not None:
            if lm is not None and fusion is not None:
                score += fusion.alpha * lm.text_log_prob(text, label) + fusion.beta * len(label)
                if fusion.lexicon is not None:
                    score += fusion.word_ended(text, label)
            text += label
        found = beams[prefix] = [-math.inf, -math.inf, score, text]
    return found


def beam_search(
    log_probs: np.ndarray,
    beam: int = 8,
    prune: float = 1e-4,
    lm: CharLM | None = None,
    labels: Sequence[str] | None = None,
    fusion: Fusion | None = None,
) -> Decoded:
    """CTC prefix beam search. Each prefix keeps the log-probability of ending in blank and in
    its last character. Classes below ``prune`` probability at a token are not expanded.
    With a language model ``lm`` (and ``labels``, the text of each class), a prefix also carries
    fusion.alpha x the model's log-probability of its text plus fusion.beta per character, added
    once, when the prefix is made, and with a word list fusion.unknown_word for each word it ended
    that the list does not hold; the end of the line (and its last word) is scored at the end.
    Confidences and positions come from the greedy path when the result is its reading, else
    from the forced alignment of the result (``align``)."""
    if lm is not None and (labels is None or fusion is None):
        raise ValueError("a language model needs the labels of the classes and the fusion")
    best = log_probs.argmax(axis=1)
    sure = log_probs[np.arange(len(best)), best] >= math.log1p(-prune)
    if lm is not None and bool(sure.all()):
        # Every token is surer than 1 - prune: the reading is taken to be the greedy one.
        return greedy(log_probs)
    # A token surer than 1 - prune is searched as certain: no other class passes the pruning,
    # and dropping a sure character for a blank (or a sure blank for a character) would cost
    # more than a language model could give back in practice (an approximation, not a proof).
    # The beams so carry no such paths, and a run of sure blanks costs one step.
    search = log_probs
    if sure.any():
        search = np.array(log_probs, dtype=np.float64)
        search[sure] = -math.inf
        search[sure, best[sure]] = 0.0
    log_prune = math.log(prune)
    blank_only = np.asarray((np.delete(search, BLANK, axis=1) < log_prune).all(axis=1))  # no character passes
    # prefix -> [log P(ending in blank), log P(ending in its last class), language score, text]
    beams: dict[tuple[int, ...], list] = {(): [0.0, -math.inf, 0.0, ""]}
    t, steps = 0, search.shape[0]
    while t < steps:
        if blank_only[t]:  # a run of such tokens: every prefix stays itself, in the same order
            run = t + 1
            while run < steps and blank_only[run]:
                run += 1
            blank = float(search[t:run, BLANK].sum())
            beams = {
                prefix: [_logsumexp(pb, pc) + blank, -math.inf, score, text]
                for prefix, (pb, pc, score, text) in beams.items()
            }
            t = run
            continue
        row = search[t]
        t += 1
        candidates = [cls for cls in np.nonzero(row >= log_prune)[0].tolist() if cls != BLANK]
        blank = float(row[BLANK])
        nxt: dict[tuple[int, ...], list] = {}
        for prefix, state in beams.items():
            p_blank, p_char = state[0], state[1]
            total = _logsumexp(p_blank, p_char)
            same = _entry(nxt, prefix, state)
            same[0] = _logsumexp(same[0], total + blank)
            for cls in candidates:
                p = float(row[cls])
                extended = _entry(nxt, prefix + (cls,), state, lm, fusion, labels[cls] if labels else None)
                if prefix and prefix[-1] == cls:
                    # A repeat needs a blank in between to count as a new character.
                    extended[1] = _logsumexp(extended[1], p_blank + p)
                    same[1] = _logsumexp(same[1], p_char + p)
                else:
                    extended[1] = _logsumexp(extended[1], total + p)
        scored = sorted(((_logsumexp(e[0], e[1]) + e[2], prefix) for prefix, e in nxt.items()), reverse=True)
        floor = scored[0][0] - BEAM_GAP
        beams = {prefix: nxt[prefix] for score, prefix in scored[:beam] if score >= floor}

    def final(prefix: tuple[int, ...]) -> float:
        p_blank, p_char, score, text = beams[prefix]
        end = 0.0
        if lm is not None and fusion is not None:
            end = fusion.alpha * lm.log_prob(text, END) + fusion.line_ended(text)
        return _logsumexp(p_blank, p_char) + score + end

    best_prefix = max(beams, key=final)
    path = greedy(log_probs)
    if tuple(path.ids) == best_prefix:
        return path
    return align(log_probs, list(best_prefix))


def _ctc_states(ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The states of CTC's path graph for ``ids``: their classes (blank, ids[0], blank, ...,
    blank) and where a path may jump over the blank before a state (only between two different
    characters)."""
    labels = np.full(2 * len(ids) + 1, BLANK)
    labels[1::2] = ids
    jump = np.zeros(len(labels), bool)
    jump[3::2] = labels[3::2] != labels[1:-2:2]
    return labels, jump


def _predecessors(score: np.ndarray, jump: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each state's score one state back and, where it may jump, two states back (-inf else)."""
    before = np.concatenate(([-np.inf], score[:-1]))
    jumped = np.where(jump, np.concatenate(([-np.inf, -np.inf], score[:-2])), -np.inf)
    return before, jumped


def ctc_log_likelihood(log_probs: np.ndarray, ids: Sequence[int]) -> float:
    """log P(``ids`` | the line): the CTC forward sum over every path that spells them (-inf
    where none fits in the line's tokens)."""
    if not len(ids):
        return float(log_probs[:, BLANK].sum())  # the one path: blank in every token
    if not len(log_probs):
        return -math.inf
    labels, jump = _ctc_states(ids)
    emit = log_probs[:, labels]
    alpha = np.full(len(labels), -np.inf)
    alpha[:2] = emit[0, :2]
    for t in range(1, log_probs.shape[0]):
        before, jumped = _predecessors(alpha, jump)
        alpha = np.logaddexp(np.logaddexp(alpha, before), jumped) + emit[t]
    return float(np.logaddexp(alpha[-1], alpha[-2]))


def search_score(
    log_probs: np.ndarray,
    ids: Sequence[int],
    lm: CharLM | None = None,
    labels: Sequence[str] | None = None,
    fusion: Fusion | None = None,
) -> float:
    """About what ``beam_search`` ranks readings by (it prunes classes and takes sure tokens as
    certain), for the reading ``ids``: its CTC log-likelihood, plus with a language model
    fusion.alpha x the model's log-probability of its text (its end included), fusion.beta per
    character and fusion.unknown_word per word its word list does not hold. Comparable between
    two inputs of one line (copies of it altered), to keep the reading that its own input
    explains best."""
    score = ctc_log_likelihood(log_probs, ids)
    if lm is not None and labels is not None and fusion is not None:
        text = "".join(labels[i] for i in ids)
        score += fusion.alpha * (lm.text_log_prob("", text) + lm.log_prob(text, END)) + fusion.beta * len(text)
        score += fusion.words_of(text)
    return score


def align(log_probs: np.ndarray, ids: list[int]) -> Decoded:
    """``ids`` placed on the line by CTC forced alignment (Viterbi): each character's tokens are
    those of the likeliest path that spells ``ids``; its confidence is its highest probability
    there and its position the token of that. Where no path fits (more characters than tokens
    allow), each character's highest probability anywhere on the line is taken instead."""
    steps = log_probs.shape[0]
    labels, jump = _ctc_states(ids)
    emit = log_probs[:, labels]
    score = np.full(len(labels), -np.inf)
    score[:2] = emit[0, :2]
    came = np.zeros((steps, len(labels)), np.int8)  # 0: stayed, 1: from the state before, 2: jumped
    for t in range(1, steps):
        before, jumped = _predecessors(score, jump)
        options = np.stack([score, before, jumped])
        came[t] = options.argmax(axis=0)
        score = options.max(axis=0) + emit[t]
    end = len(labels) - 1 if len(labels) == 1 or score[-1] >= score[-2] else len(labels) - 2
    probs = np.exp(log_probs)
    if not np.isfinite(score[end]):
        return Decoded(ids, [float(probs[:, c].max()) for c in ids], [int(probs[:, c].argmax()) for c in ids])
    states = np.empty(steps, int)
    for t in range(steps - 1, -1, -1):
        states[t] = end
        end -= int(came[t, end])
    confidences, positions = [], []
    for k, cls in enumerate(ids):
        tokens = np.flatnonzero(states == 2 * k + 1)
        best = tokens[probs[tokens, cls].argmax()]
        confidences.append(float(probs[best, cls]))
        positions.append(int(best))
    return Decoded(ids, confidences, positions)

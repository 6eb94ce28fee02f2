"""CTC decoding: greedy with per-character confidences and token positions, and prefix beam
search, optionally with a character language model (``charlm``). Inputs are one line's
log-probabilities (T, C) over its real (unpadded) tokens."""

from __future__ import annotations

import heapq
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


class _Prefixes:
    """Every prefix a beam search has made, as a tree: a prefix is a number, made once from its
    parent and one class, so that hashing one costs the same at any length. With a language
    model, a prefix's score (fusion.alpha x the model's log-probability of its text, fusion.beta
    per character, the word list's penalties) and text are worked out only when the search needs
    them (``score``): most prefixes made at a step are dropped on their CTC probability alone.
    Until then ``ceilings`` holds the most its score can be (its exact score once known)."""

    def __init__(self, lm: CharLM | None, labels: Sequence[str] | None, fusion: Fusion | None, classes: int):
        self.lm, self.labels, self.fusion, self.classes = lm, labels, fusion, classes
        self.parent, self.last = [-1], [BLANK]
        self.known, self.ceilings, self.texts = [True], [0.0], [""]
        self.children: dict[int, int] = {}  # parent x classes + class -> the child prefix
        # A prefix's score is at most its parent's plus beta per character: its language model
        # and word list terms are never above 0 (with alpha >= 0; a negative one is not bounded).
        self._lazy = lm is not None and fusion is not None and fusion.alpha >= 0 and fusion.unknown_word <= 0
        self._gain = [fusion.beta * len(label) for label in labels or ()] if lm is not None and fusion else []

    def child(self, prefix: int, cls: int) -> int:
        """The prefix that adds ``cls`` to ``prefix``, made now: the caller looks in ``children``
        first (in the search's innermost loop, a method call less for the prefixes it has)."""
        made = self.children[prefix * self.classes + cls] = len(self.parent)
        self.parent.append(prefix)
        self.last.append(cls)
        self.texts.append("")  # its text once scored
        known = self.lm is None  # without a language model every score is 0
        self.known.append(known)
        self.ceilings.append(0.0 if known else self.ceilings[prefix] + self._gain[cls])
        if not known and not self._lazy:
            self.score(made)
        return made

    def score(self, prefix: int) -> float:
        """The prefix's score, worked out from its parent's if not known yet (the parent's
        always is: a prefix is made only from one in the beam)."""
        if not self.known[prefix]:
            assert self.lm is not None and self.fusion is not None and self.labels is not None
            parent = self.parent[prefix]
            text, label = self.texts[parent], self.labels[self.last[prefix]]
            # summed as the search always summed it, so that scores are the same to the last bit
            score = self.score(parent) + (
                self.fusion.alpha * self.lm.text_log_prob(text, label) + self._gain[self.last[prefix]]
            )
            if self.fusion.lexicon is not None:
                score += self.fusion.word_ended(text, label)
            self.known[prefix], self.ceilings[prefix], self.texts[prefix] = True, score, text + label
        return self.ceilings[prefix]

    def ids(self, prefix: int) -> list[int]:
        """The classes of the prefix, first to last."""
        ids = []
        while prefix > 0:
            ids.append(self.last[prefix])
            prefix = self.parent[prefix]
        return ids[::-1]


def _best(candidates: dict[int, list[float]], prefixes: _Prefixes, beam: int) -> list[int]:
    """The ``beam`` prefixes of ``candidates`` (prefix -> [log P(ending in blank), log P(ending in
    its last class)]) with the best total scores, best first, none more than BEAM_GAP below the
    best. Candidates are taken in the order of the most they can score, and a prefix's language
    model is asked only while it could still enter the beam: the choice scoring all would make."""
    ceilings = prefixes.ceilings
    ranked = []
    for prefix, (p_blank, p_char) in candidates.items():
        acoustic = _logsumexp(p_blank, p_char)
        ranked.append((acoustic + ceilings[prefix], acoustic, prefix))
    ranked.sort(reverse=True)
    kept: list[tuple[float, int]] = []  # a heap: the worst kept first
    for ceiling, acoustic, prefix in ranked:
        if len(kept) == beam and ceiling <= kept[0][0]:
            break  # neither this one nor any after it can beat the worst kept
        total = acoustic + prefixes.score(prefix)
        if len(kept) < beam:
            heapq.heappush(kept, (total, prefix))
        elif total > kept[0][0]:
            heapq.heapreplace(kept, (total, prefix))
    kept.sort(reverse=True)
    floor = kept[0][0] - BEAM_GAP
    return [prefix for total, prefix in kept if total >= floor]


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
    fusion.alpha x the model's log-probability of its text plus fusion.beta per character, and
    with a word list fusion.unknown_word for each word it ended that the list does not hold,
    worked out once per prefix, and only while the prefix could still enter the beam
    (``_best``); the end of the line (and its last word) is scored at the end.
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
    prefixes = _Prefixes(lm, labels, fusion, log_probs.shape[1])
    children, last, classes = prefixes.children, prefixes.last, prefixes.classes
    # prefix -> [log P(ending in blank), log P(ending in its last class)]; 0 is the empty prefix
    beams: dict[int, list[float]] = {0: [0.0, -math.inf]}
    t, steps = 0, search.shape[0]
    while t < steps:
        if blank_only[t]:  # a run of such tokens: every prefix stays itself, in the same order
            run = t + 1
            while run < steps and blank_only[run]:
                run += 1
            blank = float(search[t:run, BLANK].sum())
            beams = {prefix: [_logsumexp(pb, pc) + blank, -math.inf] for prefix, (pb, pc) in beams.items()}
            t = run
            continue
        row = search[t]
        t += 1
        candidates = [(cls, float(row[cls])) for cls in np.nonzero(row >= log_prune)[0].tolist() if cls != BLANK]
        blank = float(row[BLANK])
        nxt: dict[int, list[float]] = {}
        for prefix, (p_blank, p_char) in beams.items():
            total = _logsumexp(p_blank, p_char)
            same = nxt.setdefault(prefix, [-math.inf, -math.inf])
            same[0] = _logsumexp(same[0], total + blank)
            for cls, p in candidates:
                child = children.get(prefix * classes + cls)
                if child is None:
                    child = prefixes.child(prefix, cls)
                extended = nxt.get(child)
                if extended is None:
                    extended = nxt[child] = [-math.inf, -math.inf]
                if prefix and last[prefix] == cls:
                    # A repeat needs a blank in between to count as a new character.
                    extended[1] = _logsumexp(extended[1], p_blank + p)
                    same[1] = _logsumexp(same[1], p_char + p)
                else:
                    extended[1] = _logsumexp(extended[1], total + p)
        beams = {prefix: nxt[prefix] for prefix in _best(nxt, prefixes, beam)}

    def final(prefix: int) -> float:
        p_blank, p_char = beams[prefix]
        score, text = prefixes.score(prefix), prefixes.texts[prefix]
        end = 0.0
        if lm is not None and fusion is not None:
            end = fusion.alpha * lm.log_prob(text, END) + fusion.line_ended(text)
        return _logsumexp(p_blank, p_char) + score + end

    best_ids = prefixes.ids(max(beams, key=final))
    path = greedy(log_probs)
    if path.ids == best_ids:
        return path
    if not best_ids:  # the language model prefers nothing to the faint marks greedy read
        return Decoded([], [], [])
    return align(log_probs, best_ids)


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

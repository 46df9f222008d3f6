"""Extractive-QA span decoding shared by finetuning post-processing and the `extractive-question-answering` pipeline.

Pure numpy: from one chunk's start/end logits and its token -> character offsets, the best answer spans.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: list,
    context_mask: np.ndarray,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> list[tuple[float, int, int]]:
    """Candidate answers of one chunk, best first.

    start_logits, end_logits: (L,) for the chunk's tokens. offsets: L (char_start, char_end) pairs into the context,
    or None for tokens outside the context. context_mask: (L,) bool, True on context tokens. Only the `n_best`
    highest start and end logits are paired (as the reference SQuAD scripts do). Returns (score, char_start,
    char_end) with score = start_logit + end_logit, end >= start, at most `max_answer_length` tokens.
    """
    start_logits = np.where(context_mask, start_logits, -np.inf)
    end_logits = np.where(context_mask, end_logits, -np.inf)
    starts = np.argsort(start_logits)[::-1][:n_best]
    ends = np.argsort(end_logits)[::-1][:n_best]
    spans = []
    for s in starts:
        if not np.isfinite(start_logits[s]):
            continue
        for e in ends:
            if not np.isfinite(end_logits[e]) or e < s or e - s + 1 > max_answer_length:
                continue
            if offsets[s] is None or offsets[e] is None:
                continue
            spans.append((float(start_logits[s] + end_logits[e]), int(offsets[s][0]), int(offsets[e][1])))
    spans.sort(key=lambda span: -span[0])
    return spans


def softmax_scores(scores: list[float]) -> list[float]:
    """Turn span scores (summed logits) into probabilities over the listed candidates."""
    if not scores:
        return []
    return softmax(np.asarray(scores, dtype=np.float64)).tolist()

"""Entity-level precision / recall / F1 for sequence labelling (same outputs as the Hub's `seqeval`).

Tags are `B-TYPE` / `I-TYPE` / `O` (IOB2; IOB1, `E-` and `S-` tags are also understood). An entity counts as found only
when its type and exact span match a reference entity. `mode=None` (default) is conlleval's lenient chunking, as
seqeval's default: an `I-X` after `O` or another type starts a new entity. `mode="strict"` (IOB2) only accepts
entities that start with `B-X`. Implemented here rather than wrapping the `seqeval` package, so there is no extra
dependency; the chunking rules follow conlleval.

Output: one entry per entity type `{"precision", "recall", "f1", "number"}` (`number` = reference entities of that
type) and `overall_precision`, `overall_recall`, `overall_f1`, `overall_accuracy` (token accuracy).
"""

from collections import defaultdict

import datasets
import evaluate


def _split(tag: str) -> tuple[str, str]:
    if tag in ("O", "", None):
        return "O", ""
    prefix, _, entity_type = tag.partition("-")
    if not entity_type:  # a bare type such as "PER" is read as I-PER, as conlleval does
        return "I", prefix
    return prefix, entity_type


def _end_of_chunk(prev_tag, tag, prev_type, type_) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag != "O" and prev_type != type_


def _start_of_chunk(prev_tag, tag, prev_type, type_) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag != "O" and prev_type != type_


def get_entities(tags: list[str], mode: str | None = None) -> set[tuple[str, int, int]]:
    """Entity spans `(type, first, last)` (inclusive token indices) of one tag sequence."""
    entities = []
    prev_tag, prev_type, begin, begin_tag = "O", "", 0, "O"
    for i, raw in enumerate([*tags, "O"]):
        tag, type_ = _split(raw)
        if _end_of_chunk(prev_tag, tag, prev_type, type_):
            entities.append((prev_type, begin, i - 1, begin_tag))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin, begin_tag = i, tag
        prev_tag, prev_type = tag, type_
    if mode == "strict":  # IOB2: an entity must open with B-
        return {(t, s, e) for t, s, e, first in entities if first == "B"}
    return {(t, s, e) for t, s, e, _ in entities}


def _prf(n_correct: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


class Seqeval(evaluate.Metric):
    def _info(self):
        tags = datasets.Sequence(datasets.Value("string"))
        return evaluate.MetricInfo(
            description="Entity-level precision, recall and F1 (conlleval chunking) plus token accuracy.",
            citation="",
            inputs_description="predictions, references: lists of tag sequences (lists of str), same lengths; "
            "optional mode ('strict' for IOB2-strict entities), suffix (unsupported, must be False).",
            features=datasets.Features({"predictions": tags, "references": tags}),
        )

    def _compute(self, predictions, references, mode=None, suffix=False, zero_division=0):
        if suffix:
            raise ValueError("suffix-style tags (PER-B) are not supported; use prefix tags (B-PER)")
        correct, n_pred, n_true = defaultdict(int), defaultdict(int), defaultdict(int)
        tokens_right = tokens_total = 0
        for pred, ref in zip(predictions, references):
            if len(pred) != len(ref):
                raise ValueError(f"prediction and reference have different lengths: {len(pred)} vs {len(ref)}")
            tokens_right += sum(p == r for p, r in zip(pred, ref))
            tokens_total += len(ref)
            pred_entities, true_entities = get_entities(pred, mode), get_entities(ref, mode)
            for entity_type, *_ in pred_entities:
                n_pred[entity_type] += 1
            for entity_type, *_ in true_entities:
                n_true[entity_type] += 1
            for entity_type, *_ in pred_entities & true_entities:
                correct[entity_type] += 1
        result = {}
        for entity_type in sorted(set(n_true) | set(n_pred)):
            p, r, f = _prf(correct[entity_type], n_pred[entity_type], n_true[entity_type])
            result[entity_type] = {"precision": p, "recall": r, "f1": f, "number": n_true[entity_type]}
        p, r, f = _prf(sum(correct.values()), sum(n_pred.values()), sum(n_true.values()))
        result.update(
            overall_precision=p,
            overall_recall=r,
            overall_f1=f,
            overall_accuracy=tokens_right / tokens_total if tokens_total else 0.0,
        )
        return result

"""SQuAD v1 exact match and F1 (same inputs and outputs as the Hub's `squad`; both in percent).

Answers are normalised as in the official script (lower case, no punctuation, no articles a/an/the, single spaces);
each prediction is scored against its best-matching reference answer.
"""

import collections
import re
import string

import datasets
import evaluate


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match_score(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1_score(prediction: str, truth: str) -> float:
    pred_tokens, true_tokens = normalize_answer(prediction).split(), normalize_answer(truth).split()
    common = collections.Counter(pred_tokens) & collections.Counter(true_tokens)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(true_tokens)
    return 2 * precision * recall / (precision + recall)


class Squad(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="SQuAD v1 exact match and token F1 (percent), best over the reference answers.",
            citation="",
            inputs_description="predictions: [{'id', 'prediction_text'}]; "
            "references: [{'id', 'answers': {'text': [...], 'answer_start': [...]}}].",
            features=datasets.Features(
                {
                    "predictions": {"id": datasets.Value("string"), "prediction_text": datasets.Value("string")},
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": datasets.Sequence(
                            {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
                        ),
                    },
                }
            ),
        )

    def _compute(self, predictions, references):
        by_id = {p["id"]: p["prediction_text"] for p in predictions}
        exact = f1 = 0.0
        for ref in references:
            if ref["id"] not in by_id:
                raise ValueError(f"no prediction for question id {ref['id']!r}")
            truths = ref["answers"]["text"]
            if not truths:
                raise ValueError(f"question {ref['id']!r} has no reference answer (SQuAD v1 needs one)")
            pred = by_id[ref["id"]]
            exact += max(exact_match_score(pred, t) for t in truths)
            f1 += max(f1_score(pred, t) for t in truths)
        n = max(len(references), 1)
        return {"exact_match": 100.0 * exact / n, "f1": 100.0 * f1 / n}

"""Accuracy: the fraction of predictions equal to the references, by scikit-learn (the Hub `accuracy` outputs)."""

import datasets
import evaluate
from sklearn.metrics import accuracy_score


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Proportion of correct predictions (sklearn.metrics.accuracy_score).",
            citation="",
            inputs_description="predictions, references: lists of int labels; optional sample_weight, normalize.",
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        return {
            "accuracy": float(
                accuracy_score(references, predictions, normalize=normalize, sample_weight=sample_weight)
            )
        }

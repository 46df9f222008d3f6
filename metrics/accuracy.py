"""Accuracy: the fraction of predictions equal to the references (same output as the Hub's `accuracy`)."""

import datasets
import evaluate
import numpy as np


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Proportion of correct predictions.",
            citation="",
            inputs_description="predictions, references: lists of int labels; optional sample_weight, normalize.",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        correct = (np.asarray(predictions) == np.asarray(references)).astype(np.float64)
        if sample_weight is not None:
            correct = correct * np.asarray(sample_weight, dtype=np.float64)
        return {"accuracy": float(correct.sum() / (np.sum(sample_weight) if sample_weight is not None else len(correct))) if normalize else float(correct.sum())}

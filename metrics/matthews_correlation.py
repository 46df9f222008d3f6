"""Matthews correlation coefficient (same output as the Hub's `matthews_correlation`), via scikit-learn.

In [-1, 1]; 0 for a constant predictor, which makes it a fair single number for unbalanced classes.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import matthews_corrcoef


class MatthewsCorrelation(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Matthews correlation coefficient between predicted and reference labels.",
            citation="",
            inputs_description="predictions, references: lists of int labels; optional sample_weight.",
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, sample_weight=None):
        return {
            "matthews_correlation": float(
                matthews_corrcoef(np.asarray(references), np.asarray(predictions), sample_weight=sample_weight)
            )
        }

"""Spearman rank correlation (same output as the Hub's `spearmanr`), via scipy. `return_pvalue=True` adds the p-value."""

import datasets
import evaluate
import numpy as np
from scipy.stats import spearmanr


class Spearmanr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Spearman rank-order correlation coefficient between predictions and references.",
            citation="",
            inputs_description="predictions, references: lists of floats.",
            features=datasets.Features(
                {"predictions": datasets.Value("float"), "references": datasets.Value("float")}
            ),
        )

    def _compute(self, predictions, references, return_pvalue=False):
        result = spearmanr(np.asarray(references, dtype=np.float64), np.asarray(predictions, dtype=np.float64))
        out = {"spearmanr": float(result[0])}
        if return_pvalue:
            out["spearmanr_pvalue"] = float(result[1])
        return out

"""Pearson correlation (same output as the Hub's `pearsonr`), via scipy. `return_pvalue=True` adds the p-value."""

import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr


class Pearsonr(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Pearson correlation coefficient between predictions and references.",
            citation="",
            inputs_description="predictions, references: lists of floats.",
            features=datasets.Features(
                {"predictions": datasets.Value("float"), "references": datasets.Value("float")}
            ),
        )

    def _compute(self, predictions, references, return_pvalue=False):
        result = pearsonr(np.asarray(references, dtype=np.float64), np.asarray(predictions, dtype=np.float64))
        out = {"pearsonr": float(result[0])}
        if return_pvalue:
            out["p-value"] = float(result[1])
        return out

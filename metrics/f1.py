"""F1 score (same name, arguments and output as the Hub's `f1`): a thin wrapper over scikit-learn's `f1_score`.

`average` is "binary" (default; `pos_label` is the positive class), "micro", "macro", "weighted", "samples" or None
(one score per class, returned as a list). Load with the config name "multilabel" for multi-hot inputs.
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import f1_score


class F1(evaluate.Metric):
    def _info(self):
        value = datasets.Value("int64")
        if self.config_name == "multilabel":
            features = datasets.Features(
                {"predictions": datasets.Sequence(value), "references": datasets.Sequence(value)}
            )
        else:
            features = datasets.Features({"predictions": value, "references": value})
        return evaluate.MetricInfo(
            description="Harmonic mean of precision and recall.",
            citation="",
            inputs_description="predictions, references: int labels (multi-hot lists with config 'multilabel'); "
            "labels, pos_label, average, sample_weight as in sklearn.metrics.f1_score.",
            features=features,
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None):
        score = f1_score(
            np.asarray(references),
            np.asarray(predictions),
            labels=labels,
            pos_label=pos_label,
            average=average,
            sample_weight=sample_weight,
            zero_division=0,
        )
        return {"f1": score.tolist() if isinstance(score, np.ndarray) and score.ndim else float(score)}

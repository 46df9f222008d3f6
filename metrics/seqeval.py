"""Entity-level precision / recall / F1 for sequence labelling by the `seqeval` package (the Hub `seqeval` outputs).

A thin `evaluate` wrapper over `seqeval.metrics.classification_report`, as the Hub module is (Apache-2.0,
huggingface/evaluate `metrics/seqeval`), so that the chunking rules are seqeval's own. Tags are `B-TYPE` /
`I-TYPE` / `O` (IOB2; IOB1, `E-` and `S-` tags are also understood). `mode=None` (default) is conlleval's lenient
chunking; `mode="strict"` only counts entities that are well formed in `scheme` (IOB2 when not given).

Output: one entry per entity type `{"precision", "recall", "f1", "number"}` (`number` = reference entities of that
type) and `overall_precision`, `overall_recall`, `overall_f1`, `overall_accuracy` (token accuracy). Undefined
ratios (no predicted or no reference entity) are `zero_division` (0) without a warning.
"""

import importlib
import warnings

import datasets
import evaluate
import numpy as np
from seqeval.metrics import accuracy_score, classification_report

SCHEMES = ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU")


class Seqeval(evaluate.Metric):
    def _info(self):
        tags = datasets.Sequence(datasets.Value("string"))
        return evaluate.MetricInfo(
            description="Entity-level precision, recall and F1 (seqeval) plus token accuracy.",
            citation="Nakayama, seqeval: A Python framework for sequence labeling evaluation (2018).",
            inputs_description="predictions, references: lists of tag sequences (lists of str), same lengths; "
            "optional mode ('strict'), scheme (one of " + ", ".join(SCHEMES) + "), suffix, sample_weight, "
            "zero_division, as seqeval.metrics.classification_report.",
            features=datasets.Features({"predictions": tags, "references": tags}),
        )

    def _compute(
        self, predictions, references, suffix=False, scheme=None, mode=None, sample_weight=None, zero_division=0
    ):
        if mode == "strict" and scheme is None:
            scheme = "IOB2"
        if scheme is not None:
            if scheme not in SCHEMES:
                raise ValueError(f"scheme must be one of {list(SCHEMES)}, got {scheme!r}")
            scheme = getattr(importlib.import_module("seqeval.scheme"), scheme)
        for i, (pred, ref) in enumerate(zip(predictions, references)):
            if len(pred) != len(ref):
                raise ValueError(f"prediction {i} has {len(pred)} tags, its reference {len(ref)}")
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            # the macro average of zero entity types is nan (and unused): silence numpy about it
            warnings.simplefilter("ignore", RuntimeWarning)
            report = classification_report(
                y_true=references,
                y_pred=predictions,
                suffix=suffix,
                output_dict=True,
                scheme=scheme,
                mode=mode,
                sample_weight=sample_weight,
                zero_division=zero_division,
            )
        report.pop("macro avg")
        report.pop("weighted avg")
        overall = report.pop("micro avg")
        scores = {
            entity_type: {
                "precision": float(score["precision"]),
                "recall": float(score["recall"]),
                "f1": float(score["f1-score"]),
                "number": int(score["support"]),
            }
            for entity_type, score in report.items()
        }
        scores["overall_precision"] = float(overall["precision"])
        scores["overall_recall"] = float(overall["recall"])
        scores["overall_f1"] = float(overall["f1-score"])
        scores["overall_accuracy"] = float(accuracy_score(y_true=references, y_pred=predictions))
        return scores

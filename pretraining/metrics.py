"""Evaluation metrics of a pretraining run: MLM loss / perplexity / accuracy, NSP accuracy.

The Trainer's `eval_loss` of an MLM+NSP model is the *sum* of both losses, so perplexity is computed from the MLM
part alone: `preprocess_logits_for_metrics` reduces each eval batch (before the Trainer gathers it across processes)
to the argmax predictions at the labelled positions and the summed MLM negative log-likelihood per example;
`compute_metrics` turns those into metrics, with accuracy through `evaluate` (`seedformer.metrics.load_metric`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from ..metrics import load_metric


def _split_labels(labels):
    """(mlm_labels, nsp_labels or None) from the Trainer's labels (a tensor, or a tuple with next_sentence_label)."""
    if isinstance(labels, (tuple, list)):
        return labels[0], (labels[1] if len(labels) > 1 else None)
    return labels, None


def preprocess_logits_for_metrics(logits, labels):
    """Per eval batch: `(mlm_predictions (B, L) with -100 where unlabelled, mlm_nll (B,)[, nsp_predictions (B,)])`.

    Accepts dense MLM logits (B, L, V) or sparse ones (N, V) at the N labelled positions in row-major order
    (`config.sparse_prediction`), alone or as the first element of a tuple whose second element is the NSP logits (B, 2).
    """
    mlm_labels, _ = _split_labels(labels)
    nsp_logits = None
    if isinstance(logits, (tuple, list)):
        mlm_logits = logits[0]
        if len(logits) > 1 and logits[1] is not None and logits[1].dim() == 2 and logits[1].shape[-1] == 2:
            nsp_logits = logits[1]
    else:
        mlm_logits = logits
    keep = mlm_labels != -100
    flat_labels = mlm_labels[keep]
    flat_logits = mlm_logits if mlm_logits.dim() == 2 else mlm_logits[keep]
    nll_tokens = F.cross_entropy(flat_logits.float(), flat_labels, reduction="none")
    predictions = torch.full_like(mlm_labels, -100)
    predictions[keep] = flat_logits.argmax(-1)
    nll = torch.zeros(mlm_labels.shape[0], dtype=torch.float32, device=mlm_labels.device)
    nll.index_add_(0, keep.nonzero()[:, 0], nll_tokens)
    out = (predictions, nll)
    if nsp_logits is not None:
        out = out + (nsp_logits.argmax(-1),)
    return out


class PretrainingMetrics:
    """`compute_metrics` for the Trainer: `mlm_loss`, `perplexity`, `mlm_accuracy`, (with NSP) `nsp_accuracy`, and
    with a `probe` (`pretraining.probe.LinearProbe`) `probe_accuracy`: a linear probe of the frozen encoder that
    `model_getter()` returns at evaluation time (the Trainer logs it as `eval_probe_accuracy`)."""

    def __init__(self, probe=None, model_getter=None):
        self.accuracy = load_metric("accuracy")
        if (probe is None) != (model_getter is None):
            raise ValueError("PretrainingMetrics: give both `probe` and `model_getter`, or neither.")
        self.probe, self.model_getter = probe, model_getter

    def __call__(self, eval_pred) -> dict[str, float]:
        predictions = eval_pred.predictions
        mlm_labels, nsp_labels = _split_labels(eval_pred.label_ids)
        mlm_pred, nll = predictions[0], predictions[1]
        keep = mlm_labels != -100
        n = int(keep.sum())
        metrics = {}
        if n:
            mlm_loss = float(np.sum(nll)) / n
            metrics["mlm_loss"] = mlm_loss
            metrics["perplexity"] = math.exp(min(mlm_loss, 50.0))
            metrics["mlm_accuracy"] = self.accuracy.compute(predictions=mlm_pred[keep], references=mlm_labels[keep])[
                "accuracy"
            ]
        if len(predictions) > 2 and nsp_labels is not None:
            metrics["nsp_accuracy"] = self.accuracy.compute(
                predictions=np.asarray(predictions[2]).reshape(-1), references=np.asarray(nsp_labels).reshape(-1)
            )["accuracy"]
        if self.probe is not None:
            score = self.probe(self.model_getter())
            if score is not None:
                metrics["probe_accuracy"] = score
        return metrics

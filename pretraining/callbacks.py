"""Trainer callbacks of a pretraining run: a wall-clock budget (with a learning-rate schedule that ends with it) and a
linear probe of the encoder's frozen features during evaluation.

A budget in minutes, not steps, is what a user with a machine for an afternoon has, and what the recipe study
compares arms on. Cramming (Geiping & Goldstein 2023) ties the learning-rate schedule to the budget so every run
anneals to zero by its end; a step-based decay cut off by a time limit would stop at a high learning rate.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from transformers import TrainerCallback

logger = logging.getLogger(__name__)

BUDGET_STATE = "time_budget.json"


def budget_lr_factor(progress: float, warmup_fraction: float) -> float:
    """Learning-rate multiplier at `progress` (fraction of the budget spent): linear warm-up over the first
    `warmup_fraction`, then linear decay to 0 at the end of the budget."""
    progress = min(max(progress, 0.0), 1.0)
    if warmup_fraction > 0 and progress < warmup_fraction:
        return progress / warmup_fraction
    return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - warmup_fraction))


class TimeBudgetCallback(TrainerCallback):
    """Stop training after `minutes` spent in training (evaluation included), checkpointing there when saving is on.
    `clock="wall"` counts wall time; `clock="cpu"` counts this process's CPU time (all its threads), which on a shared
    machine measures the work done rather than the neighbours' load (with one thread, CPU minutes = core minutes). With `schedule=True` the learning rate follows `budget_lr_factor` of the time spent instead of the
    step count (the Trainer's scheduler must be `constant`: this callback replaces its multiplier).

    The time spent is carried across a resume: every checkpoint gets a `time_budget.json` with the seconds spent so
    far, and `resume_from` (the checkpoint the run resumes from) restores it.
    """

    def __init__(
        self,
        minutes: float,
        schedule: bool = False,
        warmup_fraction: float = 0.1,
        resume_from: str | None = None,
        clock: str = "wall",
    ):
        if clock not in ("wall", "cpu"):
            raise ValueError(f"budget clock must be 'wall' or 'cpu', got {clock!r}.")
        self.clock = time.monotonic if clock == "wall" else time.process_time
        if minutes <= 0:
            raise ValueError(f"max_train_minutes must be > 0, got {minutes}.")
        if not 0 <= warmup_fraction < 1:
            raise ValueError(f"budget warm-up fraction must be in [0, 1), got {warmup_fraction}.")
        self.seconds = 60.0 * minutes
        self.schedule = schedule
        self.warmup_fraction = warmup_fraction
        self.spent_before = 0.0
        if resume_from is not None and (Path(resume_from) / BUDGET_STATE).is_file():
            self.spent_before = json.loads((Path(resume_from) / BUDGET_STATE).read_text())["seconds_spent"]
        self.start = None

    def spent(self) -> float:
        return self.spent_before + (self.clock() - self.start if self.start is not None else 0.0)

    def progress(self) -> float:
        return self.spent() / self.seconds

    def on_train_begin(self, args, state, control, lr_scheduler=None, optimizer=None, **kwargs):
        self.start = self.clock()
        if not self.schedule:
            return
        if lr_scheduler is None or not hasattr(lr_scheduler, "lr_lambdas"):
            raise ValueError("The budget learning-rate schedule needs --lr_scheduler_type constant (a LambdaLR).")

        def factor(_step):  # the step is ignored: the schedule runs on the clock
            return budget_lr_factor(self.progress(), self.warmup_fraction)

        lr_scheduler.lr_lambdas = [factor] * len(lr_scheduler.lr_lambdas)
        for group, base in zip(optimizer.param_groups, lr_scheduler.base_lrs):
            group["lr"] = base * factor(0)
        lr_scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]  # what the Trainer logs

    def on_step_end(self, args, state, control, **kwargs):
        if self.spent() >= self.seconds:
            logger.warning(
                "Time budget of %.1f min reached at step %d: stopping.", self.seconds / 60, state.global_step
            )
            control.should_training_stop = True
            # A resumable checkpoint at the stop, unless the run asked for none (the final model is saved anyway).
            control.should_save = args.save_strategy != "no"
        return control

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir() and state.is_world_process_zero:
            (folder / BUDGET_STATE).write_text(
                json.dumps({"seconds_spent": self.spent(), "budget_seconds": self.seconds})
            )


# ---------------------------------------------------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------------------------------------------------
def encoder_of(model):
    """The Seedformer backbone inside a pretraining model (MLM, MLM+NSP, the ELECTRA pair), or None."""
    if hasattr(model, "discriminator"):
        model = model.discriminator
    return getattr(model, "seedformer", None)


@torch.no_grad()
def mean_pooled_features(
    encoder, tokenizer, texts: list[str], max_length: int = 128, batch_size: int = 32
) -> np.ndarray:
    """(N, hidden) float32: the last hidden states averaged over each text's real tokens (eval mode, no grad)."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    out = []
    try:
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[i : i + batch_size], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            batch.pop("token_type_ids", None)
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = encoder(**batch, return_dict=True).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(out)


class LinearProbe:
    """Logistic regression (scikit-learn) on frozen mean-pooled features: fit on the first half of the labelled
    texts, accuracy on the second half. A few hundred texts cost a second or two of forward passes."""

    def __init__(self, tokenizer, texts: list[str], labels: list, max_length: int = 128):
        if len(texts) != len(labels) or len(texts) < 4:
            raise ValueError(
                f"The linear probe needs >= 4 labelled texts (and as many labels), got {len(texts)} / {len(labels)}."
            )
        if len(set(labels)) < 2:
            raise ValueError("The linear probe's texts all have the same label.")
        self.tokenizer, self.texts, self.labels, self.max_length = tokenizer, list(texts), list(labels), max_length

    def __call__(self, model) -> float | None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        encoder = encoder_of(model)
        if encoder is None:
            return None
        x = mean_pooled_features(encoder, self.tokenizer, self.texts, self.max_length)
        half = len(x) // 2
        scaler = StandardScaler().fit(x[:half])
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(scaler.transform(x[:half]), self.labels[:half])
        return float(clf.score(scaler.transform(x[half:]), self.labels[half:]))


def load_probe_data(path: str, n: int, text_column: str = "text", label_column: str = "label", seed: int = 0):
    """`n` labelled rows (a seeded shuffle) of a jsonl/json/csv/tsv/parquet file (optionally .gz) -> (texts, labels)."""
    from ..data.readers import DataSource, check_label_column, check_text_column, read_data_file

    data = read_data_file(path, txt_as=None, needs="--probe_file (text and label columns)")
    missing = {text_column, label_column} - set(data.column_names)
    if missing:
        raise ValueError(f"--probe_file {path} lacks the column(s) {sorted(missing)} (it has {data.column_names}).")
    source = DataSource.of("probe", path)
    check_text_column(data, text_column, source, option="--probe_text_column")
    check_label_column(data, label_column, source, option="--probe_label_column")
    data = data.shuffle(seed=seed).select(range(min(n, len(data))))
    return list(data[text_column]), list(data[label_column])

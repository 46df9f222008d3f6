"""The time budget of a training run (pretraining or finetuning): `--max_train_minutes`, and with it a learning-rate
schedule that ends with the budget.

A budget in minutes, not steps, is what a user with a machine for an afternoon has, and what the recipe study
compares arms on. Cramming (Geiping & Goldstein 2023) ties the learning-rate schedule to the budget so every run
anneals to zero by its end; a step-based decay cut off by a time limit would stop at a high learning rate.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

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

"""Loss curves of a pretraining run from the Trainer's `trainer_state.json` (train loss, eval MLM loss / accuracy)."""

from __future__ import annotations

import json
from pathlib import Path


def plot_loss_curve(run_dir: str | Path, out_png: str | Path, title: str | None = None) -> Path:
    """Write a small PNG: train loss and eval MLM loss against the step (left), eval MLM accuracy (right).

    run_dir: the run's output_dir (or a checkpoint folder), holding `trainer_state.json`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = json.loads((Path(run_dir) / "trainer_state.json").read_text())["log_history"]
    train = [(e["step"], e["loss"]) for e in history if "loss" in e]
    eval_key = "eval_mlm_loss" if any("eval_mlm_loss" in e for e in history) else "eval_loss"
    evals = [(e["step"], e[eval_key]) for e in history if eval_key in e]
    accuracy = [(e["step"], e["eval_mlm_accuracy"]) for e in history if "eval_mlm_accuracy" in e]
    if not train and not evals:
        raise ValueError(f"No logged losses in {run_dir}/trainer_state.json.")

    fig, axes = plt.subplots(1, 2 if accuracy else 1, figsize=(8 if accuracy else 4.5, 3), dpi=100, squeeze=False)
    ax = axes[0, 0]
    if train:
        ax.plot(*zip(*train), label="train loss")
    if evals:
        ax.plot(*zip(*evals), "o-", label=eval_key.replace("_", " "))
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats)")
    ax.grid(alpha=0.3)
    ax.legend()
    if accuracy:
        ax2 = axes[0, 1]
        ax2.plot(*zip(*accuracy), "o-", color="tab:green")
        ax2.set_xlabel("step")
        ax2.set_ylabel("eval MLM accuracy")
        ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    plt.close(fig)
    return out_png

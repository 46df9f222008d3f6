"""Offline `evaluate` metrics.

`evaluate.load("accuracy")` needs the Hugging Face Hub. The metric modules in this folder are small, self-contained
`evaluate.Metric` scripts with the Hub metrics' names and outputs; `load_metric` prefers the Hub version when it can
reach it and falls back to the shipped module otherwise, so `evaluate` stays the interface either way.
"""

from __future__ import annotations

import os
from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent


def available_metrics() -> list[str]:
    return sorted(p.stem for p in METRICS_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_metric(name: str, **kwargs):
    """`evaluate.load(name)` from the Hub when online, else the shipped module of the same name."""
    import evaluate

    local = METRICS_DIR / f"{name}.py"
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    if not offline:
        try:
            return evaluate.load(name, **kwargs)
        except Exception:  # unreachable Hub, or no such Hub metric: fall back to ours
            if not local.exists():
                raise
    if not local.exists():
        raise ValueError(f"No offline metric {name!r}; shipped ones: {available_metrics()}")
    return evaluate.load(str(local), **kwargs)

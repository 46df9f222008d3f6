"""Local, deterministic `evaluate` metrics.

`evaluate.load("accuracy")` fetches the metric script from the Hugging Face Hub, so a number could depend on the
network (and on whichever script version the Hub serves that day). Each module in this folder is a small
`evaluate.Metric` named and shaped like the Hub metric of the same name; the arithmetic is done by the reference
package (scikit-learn, scipy, `seqeval`, `sacrebleu`, `rouge_score`), except `squad`, whose official script is
a dozen lines kept here. `load_metric` always loads the shipped module by its file path, which `evaluate` handles
without any network call; `evaluate` stays the interface (`compute`, `add_batch`, distributed gathering).
"""

from __future__ import annotations

from pathlib import Path

METRICS_DIR = Path(__file__).resolve().parent


def available_metrics() -> list[str]:
    return sorted(p.stem for p in METRICS_DIR.glob("*.py") if not p.stem.startswith("_"))


def load_metric(name: str, **kwargs):
    """The shipped `evaluate` module `name` (e.g. "accuracy", "seqeval"); never the Hub. kwargs go to `evaluate.load`."""
    import evaluate

    local = METRICS_DIR / f"{name}.py"
    if not local.is_file():
        raise ValueError(f"No metric {name!r} in {METRICS_DIR}; shipped: {', '.join(available_metrics())}")
    return evaluate.load(str(local), **kwargs)

"""Downstream finetuning recipes: one `TaskRecipe` per task, a shared data loader and `run_finetuning`.

`scripts/finetune.py --task text-classification|token-classification|question-answering|multiple-choice` is a
thin `HfArgumentParser` wrapper over `run_finetuning(model_args, data_args, training_args)`.

Names are imported lazily so that light users do not pay for
`datasets` and the Trainer.
"""

import importlib

_EXPORTS = {
    "ModelArguments": "arguments",
    "DataArguments": "arguments",
    "load_raw_datasets": "data",
    "read_conll": "data",
    "TASK_RECIPES": "recipes",
    "get_recipe": "recipes",
    "run_finetuning": "runner",
    "apply_lora": "lora",
    "SEEDFORMER_LORA_TARGET_MODULES": "lora",
    "pool_hidden_states": "features",
    "extract_features": "features",
    "write_features": "features",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

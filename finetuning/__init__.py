"""Downstream finetuning recipes: one `TaskRecipe` per task, a shared data loader and `run_finetuning`.

`scripts/finetune.py --task NAME` is a thin `HfArgumentParser` wrapper over
`run_finetuning(model_args, data_args, training_args)`; the task names are the keys of `recipes.TASKS`: the encoder
tasks and the seq2seq ones (`translation`, `summarization`: Seq2SeqTrainer with generation).

The task modules are imported here, once, so that each registers its recipe (`@register_task`) before anything
looks the task up. The runner, LoRA and the Trainer are imported lazily.
"""

import importlib

from . import multiple_choice, question_answering, seq2seq, text_classification, token_classification  # noqa: F401

_EXPORTS = {
    "ModelArguments": "arguments",
    "DataArguments": "arguments",
    "parse_finetuning_args": "arguments",
    "load_raw_datasets": "data",
    "read_conll": "data",
    "TASKS": "recipes",
    "TaskRecipe": "recipes",
    "register_task": "recipes",
    "get_recipe": "recipes",
    "run_finetuning": "runner",
    "apply_lora": "lora",
    "SEEDFORMER_LORA_TARGET_MODULES": "lora",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

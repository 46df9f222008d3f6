"""The interface every finetuning task implements, and the one task-name -> recipe table (`TASKS`).

Each task module registers its recipe with `@register_task`; `seedformer.finetuning` imports the task modules once,
so the table is full whenever any `seedformer.finetuning.*` module is in use. This module never imports the task
modules (they import it), so there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from datasets import Dataset, DatasetDict
from transformers import Trainer, TrainingArguments

from ..data.readers import DataSource
from .data import no_header_hint


class TaskRecipe:
    """What `run_finetuning` needs from a task: labels, model class, preprocessing, collator, metrics, outputs.

    Subclasses set the class attributes and implement the methods; a recipe instance holds the label set found
    in the data (`setup_labels`) and is otherwise stateless.
    """

    task: str  # the --task name
    description: str  # one line for --help: what the task is and what the data looks like
    auto_model_class: type  # e.g. AutoModelForSequenceClassification
    peft_task_type: str | None = None  # peft.TaskType value, sets modules_to_save for the head
    head_modules: tuple[str, ...] = ()  # names of head modules trained in full under LoRA
    main_metric: str = "accuracy"  # for metric_for_best_model; always greater-is-better
    # The Trainer and its arguments class: generation tasks take Seq2SeqTrainer / Seq2SeqTrainingArguments (the CLI
    # parses the flags of this class, so `--predict_with_generate` exists exactly where it means something).
    trainer_class: type = Trainer
    training_args_class: type = TrainingArguments
    reads_parallel_text: bool = False  # --data_dir with aligned <split>.<source_lang> / <split>.<target_lang> files
    trains_from_scratch: bool = False  # without --model_name_or_path: new_tokenizer / new_config build the model

    def __init__(self, data_args):
        self.data_args = data_args

    # -- data -------------------------------------------------------------------------------------------------
    def setup_labels(self, raw: DatasetDict, sources: dict[str, DataSource] | None = None) -> None:
        """Find the columns and the label set; check every row. Raises ValueError on missing columns, null /
        numeric / mixed-type values and unseen eval labels, naming the row by `sources[split].where(row)` (its line
        in the file when the splits are still in file order)."""

    def config_kwargs(self, config, tokenizer) -> dict[str, Any]:
        """Config fields the task sets on the loaded `config`: num_labels, id2label, label2id, problem_type (or, for
        seq2seq, the decoder's special ids when an encoder checkpoint is warm-started)."""
        return {}

    def align_labels_with_checkpoint(self, config, ignore_mismatched_sizes: bool) -> None:
        """Adopt the checkpoint's label order when it already has a trained head for the same labels."""

    # -- a model from scratch (no --model_name_or_path): tasks with `trains_from_scratch` implement these -------
    def new_tokenizer(self, raw: DatasetDict, model_args):
        """A tokenizer trained on the data, when neither --model_name_or_path nor --tokenizer_name names one."""
        raise NotImplementedError

    def new_config(self, tokenizer, config_overrides: dict[str, Any]):
        """A fresh model config sized to `tokenizer` (with the parsed `--config_overrides`), for a run without
        --model_name_or_path."""
        raise NotImplementedError

    def prepare_training(self, model, training_args) -> None:
        """Adjust the model / Trainer arguments before the Trainer is built (generation tasks: generate at
        evaluation, and save the generation length with the model)."""

    def preprocess(self, dataset: Dataset, tokenizer, split: str) -> Dataset:
        raise NotImplementedError

    def tokenize(self, dataset: Dataset, encode: Callable[[dict], dict], split: str) -> Dataset:
        """`preprocess`'s one pass: the batched `encode` over `dataset`, its raw columns replaced by the features."""
        return dataset.map(
            encode,
            batched=True,
            remove_columns=dataset.column_names,
            num_proc=self.data_args.preprocessing_num_workers,
            desc=f"Tokenizing {split}",
        )

    def data_collator(self, tokenizer, model=None, pad_to_multiple_of: int | None = None) -> Callable:
        """The batch builder; `model` for collators that derive inputs from it (seq2seq: decoder inputs from the
        labels, needed when the Trainer's label smoother takes the labels away from the model)."""
        raise NotImplementedError

    # -- evaluation -------------------------------------------------------------------------------------------
    def compute_metrics_fn(self, examples: Dataset, features: Dataset, tokenizer) -> Callable:
        """The Trainer's `compute_metrics` for this eval split (QA needs the examples to rebuild answers, seq2seq the
        tokenizer to decode generated ids)."""
        raise NotImplementedError

    def prediction_records(self, examples: Dataset, features: Dataset, predictions, tokenizer) -> list[dict]:
        """One JSON-able dict per example: the prediction (label names / spans / tags / generated text) next to the
        input and gold."""
        raise NotImplementedError


def first_output(predictions):
    """The model's first output array (logits, generated ids) from `Trainer.predict` or an `EvalPrediction`: a tuple
    when the model returns more than one array."""
    return predictions[0] if isinstance(predictions, tuple) else predictions


TASKS: dict[str, type[TaskRecipe]] = {}


def register_task(recipe_class: type[TaskRecipe]) -> type[TaskRecipe]:
    """Class decorator: make `recipe_class` the recipe for `--task <recipe_class.task>`."""
    name = recipe_class.task
    if TASKS.get(name, recipe_class) is not recipe_class:
        raise ValueError(f"Task {name!r} is already registered by {TASKS[name].__qualname__}")
    TASKS[name] = recipe_class
    return recipe_class


def task_names() -> tuple[str, ...]:
    return tuple(TASKS)


def tasks_help() -> str:
    """`name (description); ...` for every registered task, for --task's help and docs."""
    return "; ".join(f"{name} ({recipe.description})" for name, recipe in TASKS.items())


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"--task must be one of {', '.join(TASKS)}; got {task!r}")


def get_recipe(data_args) -> TaskRecipe:
    check_task(data_args.task)
    return TASKS[data_args.task](data_args)


def require_columns(
    dataset: Dataset, split: str, columns: dict[str, str | None], flags: str = "--text_column/--label_column/etc"
) -> None:
    """columns: role -> column name. ValueError naming the missing ones, the columns that exist and the `flags`
    that name the right ones."""
    missing = [
        f"{role} column {name!r}"
        for role, name in columns.items()
        if name is not None and name not in dataset.column_names
    ]
    if missing:
        raise ValueError(
            f"The {split} split has no {', '.join(missing)}; its columns are {dataset.column_names}. "
            f"Name the right ones with {flags}." + no_header_hint(dataset.column_names)
        )


def source_for(sources: dict[str, DataSource] | None, split: str) -> DataSource:
    """Where `split` came from; without sources, rows are named by their index in the split."""
    return (sources or {}).get(split) or DataSource(split)


def first_present(dataset: Dataset, candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in dataset.column_names), None)


def check_known_labels(values, known, split: str, column: str) -> None:
    unknown = sorted({str(v) for v in values} - {str(k) for k in known})
    if unknown:
        shown = unknown[:10] + (["..."] if len(unknown) > 10 else [])
        raise ValueError(
            f"The {split} split has label values not seen in training in column {column!r}: {shown}. "
            f"Known labels: {list(known)[:20]}. Fix the data, or train on data that contains them."
        )


def label_config(label_list: list[str]) -> dict[str, Any]:
    return {
        "num_labels": len(label_list),
        "id2label": {i: str(name) for i, name in enumerate(label_list)},
        "label2id": {str(name): i for i, name in enumerate(label_list)},
    }


def checkpoint_label_names(config) -> list[str] | None:
    """The checkpoint's label names if it was finetuned with named labels, else None (default LABEL_i names)."""
    id2label = getattr(config, "id2label", None) or {}
    names = [id2label[i] for i in sorted(id2label)]
    if not names or all(name == f"LABEL_{i}" for i, name in enumerate(names)):
        return None
    return names


def align_label_list(label_list: list[str], config, ignore_mismatched_sizes: bool, what: str = "labels") -> list[str]:
    """Return the label order to use: the checkpoint's when it names the same labels, else ours.

    A checkpoint whose head was trained for other labels is an error unless `ignore_mismatched_sizes`.
    """
    names = checkpoint_label_names(config)
    if names is None:
        return label_list
    if set(names) == set(label_list):
        return names
    if ignore_mismatched_sizes:
        return label_list
    raise ValueError(
        f"The checkpoint's head was trained for {what} {names} but the data has {label_list}. Pass "
        f"--ignore_mismatched_sizes to replace the head (it is re-initialised when the sizes differ)."
    )

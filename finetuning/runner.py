"""`run_finetuning`: data -> tokenizer/config/model (+ LoRA) -> stock Trainer -> metrics, prediction files, saved model."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from transformers import AutoConfig, AutoTokenizer, set_seed

from ..hub.export import RemoteCodeCallback
from ..training.budget import TimeBudgetCallback
from ..training.config_overrides import apply_config_overrides, parse_config_overrides
from ..training.resume import check_resumable
from .data import read_raw_datasets, select_samples
from .lora import apply_lora
from .recipes import get_recipe

logger = logging.getLogger(__name__)


def load_tokenizer(recipe, model_args, raw):
    """The checkpoint's (or --tokenizer_name's) tokenizer; without either, one the recipe trains on the data."""
    name = model_args.tokenizer_name or model_args.model_name_or_path
    if name is None:
        return recipe.new_tokenizer(raw, model_args)
    return AutoTokenizer.from_pretrained(name)


def load_config(recipe, model_args, tokenizer):
    """The checkpoint's config with --config_overrides and the task's fields (labels, ...); without a checkpoint,
    a fresh config from the recipe."""
    if model_args.model_name_or_path is None:
        config = recipe.new_config(tokenizer, parse_config_overrides(model_args.config_overrides))
    else:
        config = AutoConfig.from_pretrained(model_args.model_name_or_path)
        if model_args.config_overrides:
            apply_config_overrides(config, model_args.config_overrides)
    recipe.align_labels_with_checkpoint(config, model_args.ignore_mismatched_sizes)
    for key, value in recipe.config_kwargs(config, tokenizer).items():
        setattr(config, key, value)
    return config


def load_model(recipe, model_args, config):
    """The task model from the checkpoint, loaded once (or built from `config` when there is no checkpoint); a head
    of the wrong size is an error unless asked to re-initialise.

    transformers refuses a mismatched head without `ignore_mismatched_sizes=True` with an error about tensor shapes;
    so we always load with it (one load, one load report) and raise our own error, naming the labels, when the user
    did not ask for the re-initialisation.
    """
    if model_args.model_name_or_path is None:
        return recipe.auto_model_class.from_config(config)
    model, info = recipe.auto_model_class.from_pretrained(
        model_args.model_name_or_path, config=config, ignore_mismatched_sizes=True, output_loading_info=True
    )
    mismatched = info.get("mismatched_keys") or []
    if mismatched and not model_args.ignore_mismatched_sizes:
        shapes = ", ".join(f"{key} {tuple(old)} -> {tuple(new)}" for key, old, new in mismatched)
        raise ValueError(
            f"The checkpoint's head does not fit the data ({config.num_labels} labels): {shapes}. Pass "
            f"--ignore_mismatched_sizes to re-initialise it."
        )
    return model


# A LoRA run's output folder is a pure adapter (adapter_config.json + adapter_model.safetensors + tokenizer); its
# `base_model_name_or_path` points at this sub-folder: the base checkpoint with the task's head config (labels).
LORA_BASE_DIR = "base"


def save_lora_base(model, tokenizer, base_dir: Path) -> None:
    """Save the task model before the adapters go in: base weights + a head sized for the labels, and the config
    with `id2label`/`label2id`.

    peft's `AutoPeftModelFor*.from_pretrained(adapter)` and transformers' `AutoModelFor*.from_pretrained(adapter)`
    both build the base from `base_model_name_or_path` with that folder's config; the original base checkpoint
    would give a head of its own size (2 labels by default) that the trained head in the adapter does not fit.
    The head saved here is the untrained one; the adapter carries the trained copy (`modules_to_save`).
    Costs one copy of the base weights on disk.
    """
    model.save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)


def write_jsonl(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, default=float) + "\n")


def run_finetuning(model_args, data_args, training_args) -> dict:
    """Finetune, evaluate and predict as the arguments say. Returns the metrics (also in <output_dir>/*.json).

    Writes to `training_args.output_dir`: the final model (or LoRA adapter) with its tokenizer, `all_results.json`,
    `eval_predictions.jsonl` (validation split) and `predict_predictions.jsonl` (test split). The recipe picks the
    Trainer class and its arguments class (`Seq2SeqTrainer` with generation for translation / summarization), and
    trains a model from scratch where it can (no --model_name_or_path). With `--use_lora` the
    folder is a pure adapter whose base is `base/` (see `save_lora_base`), so `AutoPeftModelFor*.from_pretrained`
    and `AutoModelFor*.from_pretrained` load it as is; `--merge_lora` adds a full merged checkpoint in `merged/`.
    The task's main metric is `metric_for_best_model` unless the arguments name another, so
    `--load_best_model_at_end` keeps the best checkpoint by it.
    """
    if not (training_args.do_train or training_args.do_eval or training_args.do_predict):
        raise ValueError("Nothing to do: add --do_train, --do_eval and/or --do_predict (with --test_file).")
    set_seed(training_args.seed)
    recipe = get_recipe(data_args)
    if model_args.model_name_or_path is None and not recipe.trains_from_scratch:
        raise ValueError(f"--task {data_args.task} finetunes a checkpoint: give --model_name_or_path.")
    if not isinstance(training_args, recipe.training_args_class):
        raise ValueError(
            f"--task {data_args.task} needs {recipe.training_args_class.__name__}, got "
            f"{type(training_args).__name__} (finetuning.arguments.parse_finetuning_args picks the task's class)."
        )
    raw, sources = read_raw_datasets(data_args)
    # Rows are checked (and the label set found) while row i is still line i of its file; then the subsets.
    recipe.setup_labels(raw, sources)
    raw = select_samples(raw, data_args, seed=training_args.seed)
    if training_args.do_train and "train" not in raw:
        raise ValueError("--do_train needs a train split (--train_file or a dataset with one)")
    if training_args.do_eval and "validation" not in raw:
        raise ValueError("--do_eval needs a validation split (--validation_file or --validation_split_percentage)")
    if training_args.do_predict and "test" not in raw:
        raise ValueError("--do_predict needs a test split (--test_file, or test.<source_lang> in --data_dir)")

    tokenizer = load_tokenizer(recipe, model_args, raw)
    config = load_config(recipe, model_args, tokenizer)
    model = load_model(recipe, model_args, config)
    recipe.prepare_training(model, training_args)
    output_dir = Path(training_args.output_dir)
    if model_args.use_lora:
        targets = model_args.lora_target_modules.split(",") if model_args.lora_target_modules else None
        base_dir = output_dir / LORA_BASE_DIR
        if training_args.should_save:
            save_lora_base(model, tokenizer, base_dir)
        model = apply_lora(
            model,
            recipe.peft_task_type,
            recipe.head_modules,
            model_args.lora_r,
            model_args.lora_alpha,
            model_args.lora_dropout,
            targets,
        )
        # adapter_config.json names the labelled base, so the stock loaders build the head at the right size
        model.peft_config["default"].base_model_name_or_path = str(base_dir.resolve())
        if training_args.process_index == 0:
            model.print_trainable_parameters()

    # TrainingArguments fills in "loss" itself when --load_best_model_at_end is given without a metric; we take
    # that as "not chosen" and select by the task's main metric (ask for `eval_loss` to select by loss).
    if training_args.metric_for_best_model in (None, "loss"):
        training_args.metric_for_best_model = recipe.main_metric
        training_args.greater_is_better = True

    with training_args.main_process_first(desc="tokenizing"):
        features = {split: recipe.preprocess(dataset, tokenizer, split) for split, dataset in raw.items()}
    compute_metrics = (
        recipe.compute_metrics_fn(raw["validation"], features["validation"], tokenizer)
        if "validation" in raw
        else None
    )
    callbacks = [RemoteCodeCallback()]  # --push_to_hub: every checkpoint push carries the model code
    if getattr(data_args, "max_train_minutes", None):
        callbacks.append(
            TimeBudgetCallback(data_args.max_train_minutes, resume_from=training_args.resume_from_checkpoint)
        )
    trainer = recipe.trainer_class(
        model=model,
        args=training_args,
        train_dataset=features.get("train"),
        eval_dataset=features.get("validation"),
        processing_class=tokenizer,
        data_collator=recipe.data_collator(tokenizer, model=model),
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )

    results: dict = {}
    if training_args.do_train:
        if training_args.resume_from_checkpoint:  # name a missing or truncated file, not torch's zip error
            check_resumable(training_args.resume_from_checkpoint)
        train_result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
        trainer.save_model()  # model (or adapter) + tokenizer; config carries id2label/label2id
        trainer.save_state()
        results.update(train_result.metrics)
        results["train_samples"] = len(features["train"])
        if trainer.state.best_model_checkpoint:
            results["best_model_checkpoint"] = trainer.state.best_model_checkpoint
            results[f"best_{training_args.metric_for_best_model}"] = trainer.state.best_metric
        if model_args.use_lora:
            results["lora_base_model"] = str(output_dir / LORA_BASE_DIR)
    if training_args.do_eval:
        prediction = trainer.predict(features["validation"], metric_key_prefix="eval")
        results.update(prediction.metrics)
        results["eval_samples"] = len(raw["validation"])
        if trainer.is_world_process_zero():
            write_jsonl(
                output_dir / "eval_predictions.jsonl",
                recipe.prediction_records(
                    raw["validation"], features["validation"], prediction.predictions, tokenizer
                ),
            )
    if training_args.do_predict:
        prediction = trainer.predict(features["test"], metric_key_prefix="predict")
        if trainer.is_world_process_zero():
            write_jsonl(
                output_dir / "predict_predictions.jsonl",
                recipe.prediction_records(raw["test"], features["test"], prediction.predictions, tokenizer),
            )
        results["predict_samples"] = len(raw["test"])

    if model_args.use_lora and model_args.merge_lora and training_args.do_train:
        # Last, because merging rewrites the model in place (the predictions above come from the adapter model).
        merged_dir = output_dir / "merged"
        merged = trainer.model.merge_and_unload()
        if trainer.is_world_process_zero():
            merged.save_pretrained(merged_dir)
            tokenizer.save_pretrained(merged_dir)
        results["merged_model"] = str(merged_dir)

    if trainer.is_world_process_zero():
        os.makedirs(output_dir, exist_ok=True)
        with open(output_dir / "all_results.json", "w") as handle:
            json.dump(results, handle, indent=2, default=str)
    return results

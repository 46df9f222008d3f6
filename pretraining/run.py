"""A pretraining run with the stock `Trainer`: corpus -> objective's examples -> model -> train / evaluate / save.

`scripts/pretrain.py` only parses the arguments and calls `pretrain`. Distribution (DDP via `torchrun` /
`accelerate launch`, FSDP / DeepSpeed through `TrainingArguments`) is the Trainer's; nothing here is rank-specific
except that dataset preprocessing runs on the main process first so the others read its `datasets` cache.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import datasets
import transformers
from transformers import AutoConfig, AutoTokenizer, Trainer, set_seed

from ..configuration import SeedformerConfig
from ..hub.export import RemoteCodeCallback
from ..training.budget import TimeBudgetCallback
from ..training.config_overrides import apply_config_overrides, parse_config_overrides
from ..training.resume import check_resumable, finished_run, last_complete_checkpoint
from .arguments import PRESETS, DataArguments, ModelArguments
from .corpus import load_corpus
from .denoising import set_seq2seq_special_ids
from .metrics import PretrainingMetrics, preprocess_logits_for_metrics
from .objectives import PretrainingObjective, get_objective
from .probe import LinearProbe, load_probe_data
from .recipes import apply_recipe

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------------------
def build_config(model_args: ModelArguments, tokenizer, objective: PretrainingObjective):
    """The model config: from the checkpoint, a config file, or a preset sized to the tokenizer (+ overrides)."""
    if model_args.model_name_or_path is not None:
        config = AutoConfig.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir)
        return apply_config_overrides(config, model_args.config_overrides)
    overrides = parse_config_overrides(model_args.config_overrides)
    config_name = model_args.config_name
    if config_name is not None and config_name not in PRESETS:
        config = AutoConfig.from_pretrained(config_name, cache_dir=model_args.cache_dir)
        for key, value in {**objective.config_updates, **overrides}.items():
            setattr(config, key, value)
        prepare = getattr(objective, "prepare_config", None)
        if prepare is not None:
            prepare(config, tokenizer)
        config.validate()
        return config
    preset = config_name or model_args.preset
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; choose one of {list(PRESETS)}.")
    kwargs = {"vocab_size": len(tokenizer), "pad_token_id": tokenizer.pad_token_id}
    kwargs.update(objective.config_updates)
    kwargs.update(overrides)
    config = getattr(SeedformerConfig, preset)(**kwargs)
    prepare = getattr(objective, "prepare_config", None)
    if prepare is not None:
        prepare(config, tokenizer)
    return config


# ---------------------------------------------------------------------------------------------------------------------
# Checks before any training step
# ---------------------------------------------------------------------------------------------------------------------
def check_setup(
    config, tokenizer, data_args: DataArguments, objective: PretrainingObjective, training_args=None
) -> None:
    """Raise `ValueError` for a run that would fail (or silently go wrong) later."""
    vocab = config.vocab_size
    if len(tokenizer) > vocab:
        raise ValueError(
            f"The tokenizer has {len(tokenizer)} tokens but the model's vocab_size is {vocab}: ids >= {vocab} would be"
            " out of range. Use a smaller tokenizer or a larger vocab_size (--config_overrides vocab_size=...)."
        )
    for name in ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"):
        token = getattr(tokenizer, name, None)
        if token is None:
            continue
        token_id = tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id >= vocab:
            raise ValueError(
                f"The tokenizer's {name} {token!r} has id {token_id}, outside the model's vocab_size {vocab}."
            )
    if objective.needs_mask_token and tokenizer.mask_token is None:
        raise ValueError(f"Objective {objective.name!r} needs a tokenizer with a mask token.")
    if tokenizer.pad_token_id is not None and getattr(config, "pad_token_id", None) not in (
        None,
        tokenizer.pad_token_id,
    ):
        raise ValueError(
            f"config.pad_token_id={config.pad_token_id} but the tokenizer pads with id {tokenizer.pad_token_id}."
        )
    if objective.needs_token_types and config.type_vocab_size < 2:
        raise ValueError(
            f"Objective {objective.name!r} feeds segment ids 0/1: it needs type_vocab_size >= 2, got {config.type_vocab_size}."
        )
    if data_args.max_seq_length < 8:
        raise ValueError(f"max_seq_length={data_args.max_seq_length} is too small for pretraining examples.")
    if config.position_embedding_type != "rope" and data_args.max_seq_length > config.max_position_embeddings:
        raise ValueError(
            f"max_seq_length={data_args.max_seq_length} exceeds the model's max_position_embeddings="
            f"{config.max_position_embeddings}. Lower --max_seq_length or raise max_position_embeddings."
        )
    if data_args.max_seq_length > tokenizer.model_max_length:
        logger.warning(
            "max_seq_length=%d exceeds the tokenizer's model_max_length=%d",
            data_args.max_seq_length,
            tokenizer.model_max_length,
        )
    if training_args is not None and data_args.streaming and training_args.max_steps <= 0:
        raise ValueError("--streaming reads an IterableDataset of unknown length: set --max_steps.")


# ---------------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------------
def prepare_datasets(
    data_args: DataArguments, tokenizer, objective: PretrainingObjective, seed: int = 42, cache_dir=None
):
    """Raw corpus -> `{"train": ..., "validation": ...}` of the objective's collator-ready rows."""
    raw = load_corpus(
        dataset_name=data_args.dataset_name,
        dataset_config_name=data_args.dataset_config_name,
        train_file=data_args.train_file,
        validation_file=data_args.validation_file,
        text_column=data_args.text_column,
        validation_split_percentage=data_args.validation_split_percentage,
        streaming=data_args.streaming,
        txt_sample_by=data_args.txt_sample_by,
        max_train_samples=data_args.max_train_samples,
        max_eval_samples=data_args.max_eval_samples,
        cache_dir=cache_dir,
        seed=seed,
        num_proc=data_args.preprocessing_num_workers,
    )
    built = {}
    for name, split in raw.items():
        built[name] = objective.build_dataset(split, tokenizer, data_args, seed)
        if not isinstance(built[name], datasets.IterableDataset) and len(built[name]) == 0:
            raise ValueError(
                f"The {name} corpus is too small for one {objective.name!r} example of max_seq_length="
                f"{data_args.max_seq_length} tokens (blocks shorter than that are dropped)."
            )
    return built


# ---------------------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------------------
def _setup_logging(training_args) -> None:
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", level=logging.INFO)
    level = training_args.get_process_log_level()
    logger.setLevel(level)
    datasets.utils.logging.set_verbosity(level)
    transformers.utils.logging.set_verbosity(level)


def pretrain(model_args: ModelArguments, data_args: DataArguments, training_args) -> dict:
    """Train (resuming when asked or when output_dir holds a checkpoint), evaluate, save. Returns all metrics."""
    _setup_logging(training_args)
    if not (training_args.do_train or training_args.do_eval):
        raise ValueError("Nothing to do: add --do_train (pretrain) and/or --do_eval (evaluate the model).")
    objective = get_objective(data_args.objective)
    recipe = None
    if model_args.model_name_or_path is None and model_args.config_name is None:
        recipe = apply_recipe(model_args, data_args, training_args)  # fills the options left at their defaults
    set_seed(training_args.seed)

    tokenizer_name = model_args.tokenizer_name or model_args.model_name_or_path
    if tokenizer_name is None:
        raise ValueError("Give --tokenizer_name (train one with scripts/train_tokenizer.py) or --model_name_or_path.")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_name, cache_dir=model_args.cache_dir)
    config = build_config(model_args, tokenizer, objective)
    if config.is_encoder_decoder:  # denoising objectives: decoder start / end tokens from the tokenizer
        set_seq2seq_special_ids(config, tokenizer)
    check_setup(config, tokenizer, data_args, objective, training_args)

    resume = training_args.resume_from_checkpoint
    auto_resume = getattr(training_args, "auto_resume", True) and training_args.do_train
    if resume is None and auto_resume:
        resume = last_complete_checkpoint(training_args.output_dir)
        if resume is not None:
            logger.info("Resuming from the last complete checkpoint in output_dir: %s", resume)
    finished = None
    if training_args.do_train:
        # The Trainer would take one more step each time a finished run is re-run; a finished run is left as it is.
        # (output_dir holds the trained model itself unless the objective exports a part of it, as ELECTRA does.)
        final_dir = training_args.output_dir if auto_resume and objective.export_model is None else None
        looked_in = [final_dir, resume]
        finished = finished_run(looked_in, training_args.max_steps, training_args.num_train_epochs)
        if finished is not None:
            logger.warning(
                "This run already finished at step %d (%s): nothing left to train. Raise --max_steps or "
                "--num_train_epochs to train further, or use a new --output_dir.",
                finished[1],
                finished[0],
            )
            resume = None
        elif resume is not None:
            check_resumable(resume)  # names the missing or unreadable file instead of a fresh optimizer or a crash

    with training_args.main_process_first(desc="pretraining data"):
        splits = prepare_datasets(
            data_args, tokenizer, objective, seed=training_args.seed, cache_dir=model_args.cache_dir
        )
    train_dataset = splits["train"] if training_args.do_train else None
    eval_dataset = splits.get("validation") if training_args.do_eval else None
    if training_args.do_eval and eval_dataset is None:
        raise ValueError("--do_eval needs a validation split: --validation_file or --validation_split_percentage > 0.")

    if training_args.remove_unused_columns:
        # The objective's rows are collator-ready; the collators consume columns the model's forward does not take
        # (`special_tokens_mask`, the word-boundary `offset_mapping`), which the Trainer would otherwise drop.
        training_args.remove_unused_columns = False

    callbacks = [RemoteCodeCallback()]  # --push_to_hub: every checkpoint push carries the model code
    budget_minutes = getattr(training_args, "max_train_minutes", None)
    if budget_minutes:
        schedule = getattr(training_args, "budget_lr_schedule", True)
        warmup = getattr(training_args, "budget_warmup_fraction", None)
        if warmup is None:
            warmup = recipe.budget_warmup_fraction if recipe is not None else 0.1
        if schedule:  # the clock drives the multiplier of a constant schedule (training/budget.py)
            training_args.lr_scheduler_type = "constant"
            training_args.warmup_steps = 0
        clock = getattr(training_args, "budget_clock", "wall")
        callbacks.append(TimeBudgetCallback(budget_minutes, schedule, warmup, resume_from=resume, clock=clock))

    model_class = objective.model_class()
    model_kwargs = {"attn_implementation": model_args.attn_implementation} if model_args.attn_implementation else {}
    if finished is not None:
        model = model_class.from_pretrained(finished[0], config=config, **model_kwargs)
    elif model_args.model_name_or_path is not None:
        model = model_class.from_pretrained(
            model_args.model_name_or_path, config=config, cache_dir=model_args.cache_dir, **model_kwargs
        )
    else:
        model = model_class._from_config(config, **model_kwargs)
    logger.info("Model: %s, %.2fM parameters", model_class.__name__, model.num_parameters() / 1e6)

    compute_metrics = None
    if training_args.do_eval:
        probe = None
        if data_args.probe_file:
            texts, labels = load_probe_data(
                data_args.probe_file,
                data_args.probe_samples,
                data_args.probe_text_column,
                data_args.probe_label_column,
                seed=training_args.seed,
            )
            probe = LinearProbe(tokenizer, texts, labels, max_length=data_args.max_seq_length)
        # The probe reads the model being trained (the Trainer's own reference, unwrapped).
        compute_metrics = PretrainingMetrics(probe=probe, model_getter=(lambda: trainer.model) if probe else None)
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=objective.build_collator(tokenizer, data_args),
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=preprocess_logits_for_metrics if training_args.do_eval else None,
        callbacks=callbacks,
    )

    def save_final_model():
        if objective.export_model is None:
            trainer.save_model()  # model + tokenizer in output_dir
        elif trainer.is_world_process_zero():  # e.g. ELECTRA: the discriminator, a normal encoder checkpoint
            objective.export_model(trainer.model).save_pretrained(training_args.output_dir)
            tokenizer.save_pretrained(training_args.output_dir)

    metrics: dict = {}
    if finished is not None and not any(Path(training_args.output_dir).glob("model*.safetensors")):
        save_final_model()  # killed after its last checkpoint but before the final save
    if training_args.do_train and finished is None:
        wall, cpu = time.monotonic(), time.process_time()
        result = trainer.train(resume_from_checkpoint=resume)
        wall, cpu = time.monotonic() - wall, time.process_time() - cpu
        save_final_model()
        train_metrics = dict(result.metrics)
        # Wall and CPU seconds of this process's training (a resumed run: since the resume; CPU time sums the
        # process's threads); tokens: every optimizer step of the run, resumes included (padding counts for NSP).
        train_metrics["train_wall_seconds"] = wall
        train_metrics["train_cpu_seconds"] = cpu
        train_metrics["train_tokens"] = (
            trainer.state.global_step
            * training_args.per_device_train_batch_size
            * training_args.world_size
            * training_args.gradient_accumulation_steps
            * data_args.max_seq_length
        )
        if train_dataset is not None and not isinstance(train_dataset, datasets.IterableDataset):
            train_metrics["train_samples"] = len(train_dataset)
        trainer.log_metrics("train", train_metrics)
        trainer.save_metrics("train", train_metrics)
        trainer.save_state()
        metrics.update(train_metrics)
    if training_args.do_eval:
        eval_metrics = trainer.evaluate()
        if "eval_perplexity" not in eval_metrics and "eval_loss" in eval_metrics:
            eval_metrics["eval_perplexity"] = math.exp(min(eval_metrics["eval_loss"], 50.0))
        trainer.log_metrics("eval", eval_metrics)
        trainer.save_metrics("eval", eval_metrics)
        metrics.update(eval_metrics)
    metrics["global_step"] = finished[1] if finished is not None else trainer.state.global_step
    metrics["log_history"] = list(trainer.state.log_history)
    return metrics

"""Command-line arguments of `scripts/pretrain.py`, as `HfArgumentParser` dataclasses (like transformers' `run_mlm.py`).

`ModelArguments` (what to train), `DataArguments` (on what, how the examples are built) and
`PretrainingArguments` = `TrainingArguments` + `auto_resume`, so every Trainer option is a flag.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

# Config presets (SeedformerConfig classmethods). `cpu_small` is also a full recipe (pretraining/recipes.py): it sets
# masking, learning rate, schedule, batch and sequence length where the run leaves them at their defaults.
PRESETS = ("cpu_small", "bert_like", "modern")
DEFAULT_PRESET = "cpu_small"


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Checkpoint to continue pretraining from. Leave unset to train from scratch."}
    )
    config_name: str | None = field(
        default=None,
        metadata={
            "help": "Config folder/file, or a preset name (cpu_small | bert_like | modern). From-scratch runs only."
        },
    )
    preset: str = field(
        default=DEFAULT_PRESET,
        metadata={
            "help": "When --config_name is not given: cpu_small (the measured CPU recipe: model + masking, learning"
            " rate, schedule, batch; see pretraining/recipes.py) | bert_like | modern (model config only)."
        },
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated config fields, e.g. 'hidden_size=256,num_hidden_layers=4,num_attention_heads=4'."
        },
    )
    tokenizer_name: str | None = field(
        default=None,
        metadata={"help": "Tokenizer folder (scripts/train_tokenizer.py). Defaults to --model_name_or_path."},
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "eager | sdpa | flex_attention | flash_attention_2"}
    )
    cache_dir: str | None = field(default=None, metadata={"help": "datasets / transformers cache folder."})


@dataclass
class DataArguments:
    objective: str = field(
        default="mlm",
        metadata={"help": "mlm | wwm | mlm_nsp | electra | span | infill (see pretraining/objectives.py)."},
    )
    dataset_name: str | None = field(default=None, metadata={"help": "A `datasets` dataset name or folder."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Its configuration name."})
    train_file: str | None = field(
        default=None,
        metadata={
            "help": "jsonl/json, csv, tsv or parquet with --text_column, or plain text .txt (see --txt_sample_by); "
            "each optionally .gz."
        },
    )
    validation_file: str | None = field(default=None, metadata={"help": "Any format --train_file takes."})
    text_column: str = field(default="text", metadata={"help": "Column holding the documents."})
    txt_sample_by: str = field(
        default="line",
        metadata={
            "help": "What a .txt corpus holds: line (one document per line) | paragraph (documents separated by a "
            "blank line, the BERT corpus format) | document (the whole file is one document)."
        },
    )
    validation_split_percentage: int = field(
        default=5,
        metadata={
            "help": "Held-out percentage of train when there is no validation split (streaming: max_eval_samples docs)."
        },
    )
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per example (block or sentence pair)."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Fraction of tokens (or words, for wwm) to mask."})
    mask_replace_prob: float = field(
        default=0.8, metadata={"help": "Of the masked tokens, fraction replaced by [MASK]."}
    )
    random_replace_prob: float = field(
        default=0.1, metadata={"help": "Of the masked tokens, fraction replaced by a random token."}
    )
    mask_seed: int = field(
        default=0,
        metadata={
            "help": "Masks are seeded per batch from this and the batch's tokens (reproducible resume and eval); -1: torch's global RNG."
        },
    )
    short_seq_prob: float = field(default=0.1, metadata={"help": "mlm_nsp: probability of a shorter target length."})
    nsp_probability: float = field(
        default=0.5, metadata={"help": "mlm_nsp: probability that B is from another document."}
    )
    # --- denoising objectives (span, infill; pretraining/denoising.py) ---
    noise_density: float = field(default=0.15, metadata={"help": "span: fraction of the tokens cut out into spans."})
    mean_noise_span_length: float = field(default=3.0, metadata={"help": "span: mean length of a cut-out span."})
    infill_mask_ratio: float = field(
        default=0.3, metadata={"help": "infill: fraction of the tokens masked (spans replaced by one mask each)."}
    )
    poisson_lambda: float = field(default=3.0, metadata={"help": "infill: mean (Poisson) length of a masked span."})
    pad_to_multiple_of: int | None = field(
        default=None, metadata={"help": "Pad batches to a multiple of this (tensor cores)."}
    )
    streaming: bool = field(
        default=False, metadata={"help": "Read the corpus lazily (IterableDataset); needs --max_steps."}
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "num_proc of datasets.map."})
    overwrite_cache: bool = field(default=False, metadata={"help": "Recompute the datasets.map caches."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N training documents."})
    max_eval_samples: int | None = field(default=None, metadata={"help": "Use only the first N validation documents."})
    probe_file: str | None = field(
        default=None,
        metadata={
            "help": "Labelled texts (json/jsonl/csv/parquet) for a linear probe of the frozen encoder at every "
            "evaluation, logged as eval_probe_accuracy (logistic regression on mean-pooled features)."
        },
    )
    probe_samples: int = field(
        default=400, metadata={"help": "Texts of --probe_file used (half to fit, half to score)."}
    )
    probe_text_column: str = field(default="text")
    probe_label_column: str = field(default="label")


@dataclass
class PretrainingArguments(TrainingArguments):
    auto_resume: bool = field(
        default=True,
        metadata={
            "help": "Resume from the last complete checkpoint in output_dir when --resume_from_checkpoint is unset."
        },
    )
    max_train_minutes: float | None = field(
        default=None,
        metadata={
            "help": "Stop training after this many minutes of wall time (carried across resumes); a checkpoint is"
            " saved at the stop unless --save_strategy no. Set --max_steps high enough not to stop first."
        },
    )
    budget_clock: str = field(
        default="wall",
        metadata={
            "help": "What --max_train_minutes counts: wall (wall-clock) | cpu (this process's CPU time: the work "
            "done, unaffected by other jobs on a shared machine; with one thread, core-minutes)."
        },
    )
    budget_lr_schedule: bool = field(
        default=True,
        metadata={
            "help": "With --max_train_minutes: the learning rate warms up over --budget_warmup_fraction of the "
            "budget and decays linearly to 0 when it ends (replaces --lr_scheduler_type / --warmup_steps)."
        },
    )
    budget_warmup_fraction: float | None = field(
        default=None, metadata={"help": "Warm-up share of the time budget (default: the recipe's, else 0.1)."}
    )

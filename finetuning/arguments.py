"""Argument dataclasses for `scripts/finetune.py`, parsed by `HfArgumentParser` next to the task's TrainingArguments
class (`parse_finetuning_args`: `Seq2SeqTrainingArguments` for translation / summarization)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

from .recipes import TASKS, check_task, tasks_help


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={
            "help": "Checkpoint folder (or Hub id) to finetune. translation / summarization: a seq2seq checkpoint, "
            "an encoder (masked LM) to warm-start with a new decoder, or unset to train a model from scratch "
            "(sized by --config_overrides, with a tokenizer trained on the data unless --tokenizer_name)."
        },
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer, if not the checkpoint's own."})
    vocab_size: int = field(
        default=8000,
        metadata={
            "help": "translation / summarization from scratch without --tokenizer_name: size of the joint "
            "source+target WordPiece vocabulary trained on the training split."
        },
    )
    ignore_mismatched_sizes: bool = field(
        default=False,
        metadata={"help": "Re-initialise a head whose size does not match the label count (otherwise an error)."},
    )
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Config fields to change before the head is built, e.g. `classifier_pooling=mean` or "
            "`classifier_dropout=0.2` (as pretrain.py's --config_overrides); from scratch, the model's sizes "
            "(`hidden_size=128,num_hidden_layers=2,decoder_layers=2`)."
        },
    )
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters (peft) instead of all weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA input."})
    lora_target_modules: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated module names; default for Seedformer: qkv, q_proj, kv_proj, out_proj, "
            "up_proj, down_proj (finetuning/lora.py); other models: peft's table entry for the model type."
        },
    )
    merge_lora: bool = field(
        default=False, metadata={"help": "Also write a merged full checkpoint to <output_dir>/merged."}
    )


@dataclass
class DataArguments:
    # the registered tasks (recipes.TASKS), filled in when `seedformer.finetuning` imported the task modules
    task: str = field(metadata={"help": f"One of: {tasks_help()}."})
    dataset_name: str | None = field(default=None, metadata={"help": "`datasets.load_dataset` name or folder."})
    dataset_config_name: str | None = field(default=None)
    data_dir: str | None = field(
        default=None,
        metadata={
            "help": "translation / summarization: a folder of aligned one-sentence-per-line files "
            "<split>.<source_lang> + <split>.<target_lang> (train, val/valid/dev/validation, test)."
        },
    )
    train_file: str | None = field(
        default=None,
        metadata={
            "help": "jsonl/json, csv, tsv or parquet (each optionally .gz); token-classification also reads "
            "CoNLL (.txt/.conll: `word [POS] [chunk] tag` per line). See data/readers.py."
        },
    )
    validation_file: str | None = field(default=None)
    test_file: str | None = field(default=None, metadata={"help": "Predictions are written for this split."})
    file_format: str | None = field(
        default=None,
        metadata={
            "help": "Override the format the extension names: json, csv, tsv, parquet, conll (or text, which "
            "token-classification reads as CoNLL)."
        },
    )
    column_names: str | None = field(
        default=None,
        metadata={
            "help": "csv/tsv without a header row: comma-separated names for the columns, in file order "
            "(e.g. `label,title,text` for AG News as distributed). The first line is then read as data."
        },
    )
    validation_split_percentage: float = field(
        default=0.0,
        metadata={"help": "Without a validation split, hold out this percentage of train (shuffled with --seed)."},
    )
    # --- columns (None = the task's usual names) ---------------------------------------------------------------
    text_column: str | None = field(
        default=None, metadata={"help": "Text (first sentence) column; seq2seq: the source text."}
    )
    text_pair_column: str | None = field(default=None, metadata={"help": "Second sentence column (pairs)."})
    label_column: str | None = field(default=None, metadata={"help": "Label column (token-classification: tags)."})
    tokens_column: str | None = field(default=None, metadata={"help": "Token-classification: list-of-words column."})
    question_column: str | None = field(default=None, metadata={"help": "QA question / SWAG `sent2` column."})
    context_column: str | None = field(default=None, metadata={"help": "QA context / SWAG `sent1` column."})
    answer_column: str | None = field(default=None, metadata={"help": "QA answers column ({text, answer_start})."})
    choice_columns: str | None = field(default=None, metadata={"help": "Multiple choice: comma-separated endings."})
    class_names: str | None = field(
        default=None,
        metadata={
            "help": "Text classification: names for the label values, saved as the model's id2label so "
            "predictions and pipelines show names. Either names for ids 0..n-1 in order (IMDB: "
            "`negative,positive`) or value=name pairs (AG News' 1-based ids: `1=World,2=Sports,3=Business,"
            "4=Sci/Tech`). (`--label_names` is the Trainer's option for the batch's label keys.)"
        },
    )
    problem_type: str | None = field(
        default=None,
        metadata={
            "help": "Text classification: single_label_classification, multi_label_classification or "
            "regression (default: from the label column's type)."
        },
    )
    # --- seq2seq (translation / summarization) ------------------------------------------------------------------
    source_lang: str = field(default="en", metadata={"help": "Seq2seq: --data_dir's source file extension."})
    target_lang: str = field(default="de", metadata={"help": "Seq2seq: --data_dir's target file extension."})
    target_column: str | None = field(
        default=None,
        metadata={
            "help": "Seq2seq: the target text column (translation: `target`; summarization: `summary`, "
            "`highlights` or `target`); the source is --text_column (`source`; `document`, `article`, `text`)."
        },
    )
    source_prefix: str = field(default="", metadata={"help": "Seq2seq: text put before every source (T5 style)."})
    max_target_length: int = field(
        default=128, metadata={"help": "Seq2seq: target tokens after truncation (--max_seq_length: source tokens)."}
    )
    # --- lengths and sizes -------------------------------------------------------------------------------------
    max_seq_length: int = field(
        default=128,
        metadata={"help": "Tokens per (pair of) sequence(s) after truncation (seq2seq: per source)."},
    )
    doc_stride: int = field(default=64, metadata={"help": "QA: overlap (tokens) between chunks of a long context."})
    max_answer_length: int = field(default=30, metadata={"help": "QA: longest answer span in tokens."})
    n_best_size: int = field(default=20, metadata={"help": "QA: start/end candidates kept per chunk."})
    label_all_tokens: bool = field(
        default=False, metadata={"help": "Token-classification: label every sub-token, not only the first one."}
    )
    pad_to_max_length: bool = field(default=False, metadata={"help": "Pad to max_seq_length, not per batch."})
    max_train_samples: int | None = field(
        default=None, metadata={"help": "Keep this many training examples (a seeded random subset)."}
    )
    max_eval_samples: int | None = field(default=None)
    max_predict_samples: int | None = field(default=None)
    preprocessing_num_workers: int | None = field(default=None)
    max_train_minutes: float | None = field(
        default=None,
        metadata={
            "help": "Stop training after this many minutes of wall time (a CPU budget; checkpointed there "
            "unless --save_strategy no)."
        },
    )

    def __post_init__(self):
        check_task(self.task)
        if (
            self.dataset_name is None
            and self.data_dir is None
            and self.train_file is None
            and self.validation_file is None
            and self.test_file is None
        ):
            raise ValueError("Give --dataset_name or at least one of --train_file/--validation_file/--test_file")
        if self.data_dir is not None and not TASKS[self.task].reads_parallel_text:
            readers = [name for name, recipe in TASKS.items() if recipe.reads_parallel_text]
            raise ValueError(f"--data_dir (parallel text files) applies to --task {' / '.join(readers)}")
        if self.max_train_minutes is not None and self.max_train_minutes <= 0:
            raise ValueError(f"--max_train_minutes must be > 0, got {self.max_train_minutes}")
        if self.column_names is not None:
            names = [n.strip() for n in self.column_names.split(",")]
            if not all(names) or len(set(names)) != len(names):
                raise ValueError(
                    f"--column_names must be distinct non-empty names separated by commas, got {self.column_names!r}"
                )
        if self.class_names is not None:
            if self.task != "text-classification":
                raise ValueError("--class_names applies to --task text-classification")
            from .text_classification import parse_class_names

            parse_class_names(self.class_names)  # malformed lists fail before any data is read
        if not 0 <= self.validation_split_percentage < 100:
            raise ValueError("--validation_split_percentage must be in [0, 100)")


def parse_finetuning_args(argv: list[str]) -> tuple:
    """`(model_args, data_args, training_args)` from command-line flags (or one .json file of them), with the
    training arguments class of the task's recipe, so `--task translation` accepts `--predict_with_generate` /
    `--generation_num_beams` and the encoder tasks do not. Without a (known) --task, `--help` lists the flags of
    every task (the most derived class) and `DataArguments` names the valid tasks."""
    from transformers import HfArgumentParser, TrainingArguments

    if len(argv) == 1 and argv[0].endswith(".json"):
        with open(argv[0]) as handle:
            task = json.load(handle).get("task")
    else:
        peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
        peek.add_argument("--task")
        task = peek.parse_known_args(argv)[0].task
    if task in TASKS:
        training_class = TASKS[task].training_args_class
    else:  # `--help` (or a bad --task, which DataArguments names): the class whose flags cover every task's
        classes = {recipe.training_args_class for recipe in TASKS.values()}
        training_class = next((c for c in classes if all(issubclass(c, o) for o in classes)), TrainingArguments)
    parser = HfArgumentParser((ModelArguments, DataArguments, training_class))
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(argv[0])
    return parser.parse_args_into_dataclasses(argv)

"""Sequence-to-sequence finetuning (translation, summarisation) with the stock `Seq2SeqTrainer`.

Data comes either as parallel text files (`train.en` + `train.de`, one sentence per line, aligned) or as a
jsonl/json, csv, tsv or parquet file (optionally .gz) with a source and a target column, both read by the project's
one reader (`data/readers.py`). Evaluation generates (`predict_with_generate=True`) and
scores with BLEU (sacrebleu) and ROUGE (rouge_score) through the offline `evaluate` modules in `metrics/`.

The model is either a Seedformer seq2seq checkpoint, an encoder checkpoint to warm-start (a masked LM: the decoder
is added and initialised randomly), or a fresh model from `Seq2SeqModelArguments` sizes with a joint source+target
tokenizer trained on the training split.

    run_seq2seq(model_args, data_args, training_args) -> metrics dict
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict
from transformers import (
    AutoConfig,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
    TrainerCallback,
)

from ..configuration import SeedformerConfig
from ..data.readers import DataSource, check_text_column, read_data_file, read_data_files
from ..metrics import load_metric
from ..modeling import SeedformerForConditionalGeneration

logger = logging.getLogger(__name__)


@dataclass
class Seq2SeqModelArguments:
    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Seedformer seq2seq or encoder (MLM) checkpoint. Leave empty to train from scratch."},
    )
    tokenizer_name: str | None = field(
        default=None, metadata={"help": "Tokenizer folder (default: the model's; from scratch: trained on the data)."}
    )
    vocab_size: int = field(
        default=8000, metadata={"help": "From scratch: size of the joint source+target vocabulary."}
    )
    hidden_size: int = 256
    num_hidden_layers: int = field(default=3, metadata={"help": "Encoder layers."})
    decoder_layers: int = 3
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    norm_position: str = "pre"
    position_embedding_type: str = "absolute"
    dropout: float = 0.1


@dataclass
class Seq2SeqDataArguments:
    data_dir: str | None = field(
        default=None,
        metadata={"help": "Folder of parallel text files <split>.<lang> (e.g. train.en, train.de, val.en, val.de)."},
    )
    source_lang: str = "en"
    target_lang: str = "de"
    train_split: str = "train"
    validation_split: str = field(
        default="val", metadata={"help": "Split name of the validation files (val / valid / dev)."}
    )
    train_file: str | None = field(
        default=None, metadata={"help": "jsonl/json, csv, tsv or parquet (optionally .gz) with source/target columns."}
    )
    validation_file: str | None = None
    source_column: str = "source"
    target_column: str = "target"
    source_prefix: str = field(default="", metadata={"help": "Text prepended to every source (T5-style task prefix)."})
    max_source_length: int = 128
    max_target_length: int = 128
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    num_samples_to_show: int = field(default=5, metadata={"help": "Validation outputs shown in seq2seq_results.json."})
    max_train_minutes: float | None = field(
        default=None, metadata={"help": "Stop training after this many minutes of wall time (a CPU budget)."}
    )


# ------------------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------------------
def load_parallel_text(source_path: str | Path, target_path: str | Path) -> Dataset:
    """Two aligned files, one sentence per line (any extension, e.g. `train.en` / `train.de`; optionally .gz) ->
    Dataset with `source` / `target` columns (blank pairs dropped). Read as plain text by the project's reader."""
    source_lines, target_lines = (
        read_data_file(path, txt_as="line", file_format="text", needs="seq2seq finetuning")["text"]
        for path in (source_path, target_path)
    )
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"Parallel files are not aligned: {source_path} has {len(source_lines)} lines, {target_path} has "
            f"{len(target_lines)}."
        )
    pairs = [(s.strip(), t.strip()) for s, t in zip(source_lines, target_lines)]
    half_blank = [i + 1 for i, (s, t) in enumerate(pairs) if bool(s) != bool(t)]
    if half_blank:
        raise ValueError(f"Lines {half_blank[:5]} are blank on one side only: the files are misaligned.")
    pairs = [(s, t) for s, t in pairs if s]
    return Dataset.from_dict({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})


def load_seq2seq_splits(data_args: Seq2SeqDataArguments) -> DatasetDict:
    """`train` / `validation` splits with `source` / `target` columns, from parallel files or a column file
    (jsonl/json, csv, tsv or parquet, optionally .gz, read by `data/readers.py`)."""
    if data_args.data_dir:
        folder = Path(data_args.data_dir)
        splits = {}
        for name, split in (("train", data_args.train_split), ("validation", data_args.validation_split)):
            src, tgt = folder / f"{split}.{data_args.source_lang}", folder / f"{split}.{data_args.target_lang}"
            if src.exists() and tgt.exists():
                splits[name] = load_parallel_text(src, tgt)
            elif name == "train":
                raise FileNotFoundError(f"Parallel training files {src} and {tgt} not found.")
        data = DatasetDict(splits)
    elif data_args.train_file:
        files = {"train": data_args.train_file}
        if data_args.validation_file:
            files["validation"] = data_args.validation_file
        needs = "seq2seq finetuning (source and target columns; parallel text files go in --data_dir)"
        data = read_data_files(files, txt_as=None, needs=needs)
        columns = {
            "source": (data_args.source_column, "--source_column"),
            "target": (data_args.target_column, "--target_column"),
        }
        for name, dataset in data.items():
            source = DataSource.of(name, files[name])
            for column, option in columns.values():
                if column not in dataset.column_names:
                    raise ValueError(
                        f"Column {column!r} not in the {name} file; it has {dataset.column_names}. "
                        f"Name the right one with {option}."
                    )
                check_text_column(dataset, column, source, option=option)
        data = DatasetDict(
            {
                name: dataset.select_columns([data_args.source_column, data_args.target_column]).rename_columns(
                    {data_args.source_column: "source", data_args.target_column: "target"}
                )
                if data_args.source_column != "source" or data_args.target_column != "target"
                else dataset.select_columns(["source", "target"])
                for name, dataset in data.items()
            }
        )
    else:
        raise ValueError("Give either --data_dir (parallel text files) or --train_file (source/target columns).")
    if data_args.max_train_samples is not None:
        data["train"] = data["train"].select(range(min(data_args.max_train_samples, len(data["train"]))))
    if "validation" in data and data_args.max_eval_samples is not None:
        data["validation"] = data["validation"].select(range(min(data_args.max_eval_samples, len(data["validation"]))))
    return data


def target_special_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, int]:
    """(decoder_start, eos, pad) ids: BERT-style vocabularies start from [CLS] and end with [SEP]."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if start is None or eos is None or tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer needs a pad token, a start token (bos or cls) and an end token (eos or sep).")
    return start, eos, tokenizer.pad_token_id


def make_preprocess_function(tokenizer: PreTrainedTokenizerBase, data_args: Seq2SeqDataArguments):
    """Batched `map` function: source -> input_ids / attention_mask; target -> labels = target tokens + eos.

    Labels carry no start token: the model shifts them right behind `decoder_start_token_id` itself.
    """
    _, eos, _ = target_special_ids(tokenizer)

    def preprocess(batch):
        sources = [data_args.source_prefix + s for s in batch["source"]]
        features = tokenizer(sources, max_length=data_args.max_source_length, truncation=True)
        features.pop("token_type_ids", None)
        targets = tokenizer(batch["target"], add_special_tokens=False)["input_ids"]
        features["labels"] = [ids[: data_args.max_target_length - 1] + [eos] for ids in targets]
        return features

    return preprocess


# ------------------------------------------------------------------------------------------------------------
# Tokenizer and model
# ------------------------------------------------------------------------------------------------------------
def train_joint_tokenizer(texts, vocab_size: int, model_max_length: int = 512):
    """A cased, accent-keeping WordPiece vocabulary shared by source and target (tied embeddings need one)."""
    from ..tokenization import train_tokenizer

    return train_tokenizer(
        texts,
        algorithm="wordpiece",
        vocab_size=vocab_size,
        lowercase=False,
        strip_accents=False,
        model_max_length=model_max_length,
    )


def build_seq2seq_model(model_args: Seq2SeqModelArguments, tokenizer: PreTrainedTokenizerBase, max_positions: int):
    """Load (or warm-start, or create) a `SeedformerForConditionalGeneration` whose special ids match `tokenizer`."""
    start, eos, pad = target_special_ids(tokenizer)
    special = dict(decoder_start_token_id=start, bos_token_id=start, eos_token_id=eos, pad_token_id=pad)
    if model_args.model_name_or_path:
        config = AutoConfig.from_pretrained(model_args.model_name_or_path)
        # An encoder checkpoint (masked LM) becomes the encoder of a fresh encoder-decoder.
        overrides = {} if config.is_encoder_decoder else dict(is_encoder_decoder=True, **special)
        model = AutoModelForSeq2SeqLM.from_pretrained(model_args.model_name_or_path, **overrides)
    else:
        config = SeedformerConfig(
            vocab_size=len(tokenizer),
            hidden_size=model_args.hidden_size,
            num_hidden_layers=model_args.num_hidden_layers,
            decoder_layers=model_args.decoder_layers,
            num_attention_heads=model_args.num_attention_heads,
            intermediate_size=model_args.intermediate_size,
            max_position_embeddings=max_positions,
            norm_position=model_args.norm_position,
            position_embedding_type=model_args.position_embedding_type,
            hidden_dropout_prob=model_args.dropout,
            attention_probs_dropout_prob=model_args.dropout,
            type_vocab_size=0,
            layer_norm_eps=1e-6,
            is_encoder_decoder=True,
            **special,
        )
        model = SeedformerForConditionalGeneration(config)
    if len(tokenizer) > model.config.vocab_size:
        raise ValueError(f"The tokenizer has {len(tokenizer)} tokens but the model only {model.config.vocab_size}.")
    return model


def make_compute_metrics(tokenizer: PreTrainedTokenizerBase):
    """`compute_metrics` for `predict_with_generate`: BLEU (x100, as usually reported), ROUGE-1/2/L (x100), gen_len."""
    bleu, rouge = load_metric("bleu"), load_metric("rouge")

    def compute_metrics(eval_prediction):
        predictions, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        predictions = np.where(predictions < 0, tokenizer.pad_token_id, predictions)
        labels = np.where(labels < 0, tokenizer.pad_token_id, labels)
        decoded = [t.strip() for t in tokenizer.batch_decode(predictions, skip_special_tokens=True)]
        references = [t.strip() for t in tokenizer.batch_decode(labels, skip_special_tokens=True)]
        scores = rouge.compute(predictions=decoded, references=references, rouge_types=["rouge1", "rouge2", "rougeL"])
        return {
            "bleu": 100 * bleu.compute(predictions=decoded, references=references)["bleu"],
            **{name: 100 * value for name, value in scores.items()},
            "gen_len": float(np.mean([(row != tokenizer.pad_token_id).sum() for row in predictions])),
        }

    return compute_metrics


# ------------------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------------------
class TimeBudgetCallback(TrainerCallback):
    """Stops training once `minutes` of wall time have passed since training began (checkpointing if saving is on)."""

    def __init__(self, minutes: float):
        self.seconds = 60 * minutes
        self.start = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self.start > self.seconds:
            logger.warning(
                "Time budget of %.1f min reached at step %d: stopping.", self.seconds / 60, state.global_step
            )
            control.should_training_stop = True
            # A resumable checkpoint at the stop, unless the run asked for none (the final model is saved anyway).
            control.should_save = args.save_strategy != "no"
        return control


def build_seq2seq_trainer(model, tokenizer, data: DatasetDict, data_args, training_args: Seq2SeqTrainingArguments):
    preprocess = make_preprocess_function(tokenizer, data_args)
    features = data.map(preprocess, batched=True, remove_columns=["source", "target"], desc="tokenize")
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100, pad_to_multiple_of=None)
    callbacks = [TimeBudgetCallback(data_args.max_train_minutes)] if data_args.max_train_minutes else None
    return Seq2SeqTrainer(
        callbacks=callbacks,
        model=model,
        args=training_args,
        train_dataset=features["train"],
        eval_dataset=features.get("validation"),
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(tokenizer) if training_args.predict_with_generate else None,
    )


def translate(
    model,
    tokenizer,
    sources: list[str],
    batch_size: int = 64,
    source_prefix: str = "",
    max_source_length: int = 128,
    **generate_kwargs,
) -> list[str]:
    """Generate for a list of source strings (in batches) and decode without special tokens."""
    import torch

    model.eval()
    outputs = []
    for start in range(0, len(sources), batch_size):
        batch = tokenizer(
            [source_prefix + s for s in sources[start : start + batch_size]],
            max_length=max_source_length,
            truncation=True,
            padding=True,
            return_tensors="pt",
        ).to(model.device)
        batch.pop("token_type_ids", None)
        with torch.no_grad():
            generated = model.generate(**batch, **generate_kwargs)
        outputs.extend(t.strip() for t in tokenizer.batch_decode(generated, skip_special_tokens=True))
    return outputs


def run_seq2seq(
    model_args: Seq2SeqModelArguments, data_args: Seq2SeqDataArguments, training_args: Seq2SeqTrainingArguments
) -> dict:
    """Train, evaluate on the validation split with generation, save model + tokenizer + metrics + sample outputs."""
    data = load_seq2seq_splits(data_args)
    max_positions = max(data_args.max_source_length, data_args.max_target_length)
    tokenizer_source = model_args.tokenizer_name or model_args.model_name_or_path
    if tokenizer_source:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    else:
        texts = (text for row in data["train"] for text in (row["source"], row["target"]))
        tokenizer = train_joint_tokenizer(texts, model_args.vocab_size, model_max_length=max_positions)
    model = build_seq2seq_model(model_args, tokenizer, max_positions)
    if training_args.generation_max_length is None:
        training_args.generation_max_length = data_args.max_target_length
    # Saved with the model, so that generate() / the pipeline produce full-length outputs by default (not 20 tokens).
    model.generation_config.max_length = training_args.generation_max_length
    trainer = build_seq2seq_trainer(model, tokenizer, data, data_args, training_args)

    metrics: dict = {}
    if training_args.do_train:
        metrics.update(trainer.train().metrics)
        trainer.save_model()
    if "validation" in data and (training_args.do_eval or training_args.do_train):
        metrics.update(
            trainer.evaluate(
                max_length=training_args.generation_max_length, num_beams=training_args.generation_num_beams
            )
        )
        shown = data["validation"].select(range(min(data_args.num_samples_to_show, len(data["validation"]))))
        outputs = translate(
            model,
            tokenizer,
            shown["source"],
            source_prefix=data_args.source_prefix,
            max_source_length=data_args.max_source_length,
            max_length=training_args.generation_max_length,
            num_beams=training_args.generation_num_beams or 1,
        )
        samples = [
            {"source": s, "reference": r, "output": o} for s, r, o in zip(shown["source"], shown["target"], outputs)
        ]
        metrics["samples"] = samples
    if trainer.is_world_process_zero():
        out = Path(training_args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(out)
        (out / "seq2seq_results.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    return metrics


__all__ = [
    "Seq2SeqDataArguments",
    "Seq2SeqModelArguments",
    "build_seq2seq_model",
    "build_seq2seq_trainer",
    "load_parallel_text",
    "load_seq2seq_splits",
    "make_compute_metrics",
    "make_preprocess_function",
    "run_seq2seq",
    "target_special_ids",
    "train_joint_tokenizer",
    "translate",
]

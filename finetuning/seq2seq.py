"""Sequence to sequence: `--task translation` and `--task summarization` of `scripts/finetune.py` (the peers of
transformers' run_translation.py / run_summarization.py), through the stock `Seq2SeqTrainer` with
`predict_with_generate`.

Data: a column file (jsonl/json, csv, tsv, parquet, each optionally .gz) or a `datasets` name with a source column
(`--text_column`) and a target column (`--target_column`); translation also takes transformers' `translation` column
of `{lang: text}` pairs (picked by `--source_lang` / `--target_lang`) and a folder of aligned one-sentence-per-line
files (`--data_dir` with `train.en` + `train.de`, ...). All of it is read by the project's one reader
(`data/readers.py`). Evaluation generates and scores with BLEU (sacrebleu) and ROUGE (rouge_score) through the
offline `evaluate` modules in `metrics/`; `eval_predictions.jsonl` holds every source, reference and output.

The model is a seq2seq checkpoint, an encoder (masked-LM) checkpoint warm-started with a fresh decoder, or, without
`--model_name_or_path`, a new `SeedformerForConditionalGeneration` (`SCRATCH_CONFIG` + `--config_overrides`) with a
joint source+target WordPiece vocabulary trained on the training split (unless `--tokenizer_name`).
"""

from __future__ import annotations

import logging

import numpy as np
from datasets import Dataset, DatasetDict
from transformers import (
    AutoModelForSeq2SeqLM,
    DataCollatorForSeq2Seq,
    PreTrainedTokenizerBase,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
)

from ..data.readers import check_text_column
from ..metrics import load_metric
from .recipes import TaskRecipe, first_output, first_present, register_task, require_columns, source_for

logger = logging.getLogger(__name__)

# A model from scratch: a small pre-norm encoder-decoder (`--config_overrides` changes any field). The vocabulary, the
# position table and the special ids come from the tokenizer and the lengths.
SCRATCH_CONFIG = dict(
    hidden_size=256,
    num_hidden_layers=3,
    decoder_layers=3,
    num_attention_heads=4,
    intermediate_size=1024,
    norm_position="pre",
    position_embedding_type="absolute",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    type_vocab_size=0,
    layer_norm_eps=1e-6,
)


def target_special_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int, int]:
    """(decoder_start, eos, pad) ids: BERT-style vocabularies start from [CLS] and end with [SEP]."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if start is None or eos is None or tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer needs a pad token, a start token (bos or cls) and an end token (eos or sep).")
    return start, eos, tokenizer.pad_token_id


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


def decode_generated(token_ids: np.ndarray, tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Generated (or label) ids (N, L) -> texts without special tokens. -100 (label / cross-batch padding) -> pad."""
    token_ids = np.where(token_ids < 0, tokenizer.pad_token_id, token_ids)
    return [text.strip() for text in tokenizer.batch_decode(token_ids, skip_special_tokens=True)]


def make_compute_metrics(tokenizer: PreTrainedTokenizerBase):
    """`compute_metrics` for `predict_with_generate`: BLEU (x100, as usually reported), ROUGE-1/2/L (x100), gen_len."""
    bleu, rouge = load_metric("bleu"), load_metric("rouge")

    def compute_metrics(eval_prediction):
        predictions = first_output(eval_prediction.predictions)
        decoded = decode_generated(predictions, tokenizer)
        references = decode_generated(eval_prediction.label_ids, tokenizer)
        scores = rouge.compute(predictions=decoded, references=references, rouge_types=["rouge1", "rouge2", "rougeL"])
        lengths = (np.where(predictions < 0, tokenizer.pad_token_id, predictions) != tokenizer.pad_token_id).sum(-1)
        return {
            "bleu": 100 * bleu.compute(predictions=decoded, references=references)["bleu"],
            **{name: 100 * value for name, value in scores.items()},
            "gen_len": float(np.mean(lengths)),
        }

    return compute_metrics


class Seq2SeqCollator(DataCollatorForSeq2Seq):
    """`DataCollatorForSeq2Seq` that leaves `labels` out of a batch without targets (a test file of sources only).

    The stock collator sets `labels=None` there, and `Seq2SeqTrainer.prediction_step` takes the key's presence for
    labels and reads a loss the model could not compute (KeyError 'loss')."""

    def __call__(self, features, return_tensors=None):
        batch = super().__call__(features, return_tensors)
        if "labels" in batch and batch["labels"] is None:
            del batch["labels"]
        return batch


class Seq2SeqRecipe(TaskRecipe):
    """Source text -> target text with an encoder-decoder; the subclasses name the task, its usual columns and its
    main metric."""

    auto_model_class = AutoModelForSeq2SeqLM
    peft_task_type = "SEQ_2_SEQ_LM"
    trainer_class = Seq2SeqTrainer
    training_args_class = Seq2SeqTrainingArguments
    reads_parallel_text = True
    trains_from_scratch = True
    source_columns: tuple[str, ...] = ("source",)  # the first one present is the source, unless --text_column
    target_columns: tuple[str, ...] = ("target",)  # the first one present is the target, unless --target_column

    # -- data -------------------------------------------------------------------------------------------------
    def setup_labels(self, raw: DatasetDict, sources=None) -> None:
        """Find the source / target columns; every row must hold text in both (the test split may lack targets)."""
        args = self.data_args
        reference = raw["train"] if "train" in raw else next(iter(raw.values()))
        self.source_column = args.text_column or first_present(reference, self.source_columns)
        self.target_column = args.target_column or first_present(reference, self.target_columns)
        for role, column, flag, usual in (
            ("source", self.source_column, "--text_column", self.source_columns),
            ("target", self.target_column, "--target_column", self.target_columns),
        ):
            if column is None:
                raise ValueError(
                    f"No {role} column: the data has {reference.column_names}, none of the usual {list(usual)}. "
                    f"Name it with {flag}."
                )
        for split, dataset in raw.items():
            target = self.target_column if split != "test" or self.target_column in dataset.column_names else None
            require_columns(
                dataset,
                split,
                {"source": self.source_column, "target": target},
                flags="--text_column (source) / --target_column",
            )
            source = source_for(sources, split)
            check_text_column(dataset, self.source_column, source, option="--text_column")
            if target:
                check_text_column(dataset, target, source, option="--target_column")

    def preprocess(self, dataset: Dataset, tokenizer, split: str) -> Dataset:
        """source -> input_ids / attention_mask (`--max_seq_length`); target -> labels = target tokens + eos
        (`--max_target_length` in all). Labels carry no start token: the model shifts them right behind
        `decoder_start_token_id` itself."""
        args = self.data_args
        _, eos, _ = target_special_ids(tokenizer)
        has_target = self.target_column in dataset.column_names
        padding = "max_length" if args.pad_to_max_length else False

        def encode(batch):
            sources = [args.source_prefix + text for text in batch[self.source_column]]
            features = tokenizer(sources, max_length=args.max_seq_length, truncation=True, padding=padding)
            features.pop("token_type_ids", None)  # one segment: the encoder-decoder takes no segment ids
            if has_target:
                targets = tokenizer(batch[self.target_column], add_special_tokens=False)["input_ids"]
                features["labels"] = [ids[: args.max_target_length - 1] + [eos] for ids in targets]
            return features

        return self.tokenize(dataset, encode, split)

    def data_collator(self, tokenizer, model=None, pad_to_multiple_of=None):
        # With the model, the collator builds decoder_input_ids from the labels (the model's own shift): the Trainer's
        # label smoother (--label_smoothing_factor) pops the labels before the forward, which then needs them.
        return Seq2SeqCollator(tokenizer, model=model, label_pad_token_id=-100, pad_to_multiple_of=pad_to_multiple_of)

    # -- model ------------------------------------------------------------------------------------------------
    def _max_positions(self) -> int:
        return max(self.data_args.max_seq_length, self.data_args.max_target_length)

    def new_tokenizer(self, raw: DatasetDict, model_args):
        if "train" not in raw:
            raise ValueError(
                "Without --model_name_or_path or --tokenizer_name a tokenizer is trained on the train split: give "
                "--train_file / --data_dir with training pairs, or name a tokenizer."
            )
        texts = (text for row in raw["train"] for text in (row[self.source_column], row[self.target_column]))
        return train_joint_tokenizer(texts, model_args.vocab_size, model_max_length=self._max_positions())

    def new_config(self, tokenizer, config_overrides: dict):
        from ..configuration import SeedformerConfig

        fields = {
            **SCRATCH_CONFIG,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": self._max_positions(),
            **self._special_ids(tokenizer),
            **config_overrides,
        }
        return SeedformerConfig(**fields)

    @staticmethod
    def _special_ids(tokenizer) -> dict:
        start, eos, pad = target_special_ids(tokenizer)
        return dict(
            is_encoder_decoder=True,
            decoder_start_token_id=start,
            bos_token_id=start,
            eos_token_id=eos,
            pad_token_id=pad,
        )

    def config_kwargs(self, config, tokenizer) -> dict:
        """Nothing for a seq2seq checkpoint; an encoder checkpoint becomes the encoder of an encoder-decoder whose
        decoder (new, random) starts and ends with the tokenizer's ids."""
        if len(tokenizer) > config.vocab_size:
            raise ValueError(
                f"The tokenizer has {len(tokenizer)} tokens but the model only {config.vocab_size}: ids past the "
                "embedding table would fail. Use the checkpoint's own tokenizer."
            )
        return {} if config.is_encoder_decoder else self._special_ids(tokenizer)

    def prepare_training(self, model, training_args) -> None:
        if not training_args.predict_with_generate:
            # BLEU / ROUGE, the best-model choice by them and the prediction files all need generated text.
            logger.info("--task %s evaluates generated text: predict_with_generate turned on.", self.task)
            training_args.predict_with_generate = True
        if training_args.generation_max_length is None:
            training_args.generation_max_length = self.data_args.max_target_length
        # Saved with the model, so that generate() / the pipeline produce full-length outputs by default (not 20 tokens).
        model.generation_config.max_length = training_args.generation_max_length

    # -- evaluation -------------------------------------------------------------------------------------------
    def compute_metrics_fn(self, examples, features, tokenizer):
        return make_compute_metrics(tokenizer)

    def prediction_records(self, examples, features, predictions, tokenizer) -> list[dict]:
        """{index, source, prediction[, target]} per example: the generated text next to the reference."""
        token_ids = first_output(predictions)
        outputs = decode_generated(token_ids, tokenizer)
        records = []
        for i, (example, output) in enumerate(zip(examples, outputs)):
            record = {"index": i, "source": example[self.source_column], "prediction": output}
            if self.target_column in example:
                record["target"] = example[self.target_column]
            records.append(record)
        return records


@register_task
class TranslationRecipe(Seq2SeqRecipe):
    task = "translation"
    description = (
        "source -> target text: parallel files (--data_dir), source/target or `translation` {lang: text} columns; BLEU"
    )
    main_metric = "bleu"

    def setup_labels(self, raw: DatasetDict, sources=None) -> None:
        args = self.data_args
        if args.text_column is None and args.target_column is None:
            for split, dataset in list(raw.items()):
                if "translation" in dataset.column_names and "source" not in dataset.column_names:
                    raw[split] = self._split_translation_pairs(dataset, split, source_for(sources, split))
        super().setup_labels(raw, sources)

    def _split_translation_pairs(self, dataset: Dataset, split: str, source) -> Dataset:
        """transformers' translation layout (`{"translation": {"en": ..., "de": ...}}`, WMT on the Hub) -> `source` /
        `target` columns by --source_lang / --target_lang (the test split may lack the target language)."""
        src, tgt = self.data_args.source_lang, self.data_args.target_lang
        pairs = dataset["translation"]
        for row, pair in enumerate(pairs):
            if not isinstance(pair, dict) or not isinstance(pair.get(src), str):
                found = list(pair) if isinstance(pair, dict) else pair
                raise ValueError(
                    f"{source.where(row, start=True)}: column 'translation' holds {found!r}, without a {src!r} text. "
                    "Each row must be {lang: text, ...}; choose the languages with --source_lang / --target_lang."
                )
        dataset = dataset.add_column("source", [pair[src] for pair in pairs])
        if split != "test" or any(isinstance(pair.get(tgt), str) for pair in pairs):
            # a missing target text stays None and fails the row check, which names its line
            dataset = dataset.add_column("target", [pair.get(tgt) for pair in pairs])
        return dataset.remove_columns("translation")


@register_task
class SummarizationRecipe(Seq2SeqRecipe):
    task = "summarization"
    description = "document -> summary (document/article/text and summary/highlights columns); ROUGE"
    main_metric = "rougeL"
    source_columns = ("document", "article", "text", "source")  # XSum, CNN/DailyMail, ...
    target_columns = ("summary", "highlights", "target")


__all__ = [
    "SCRATCH_CONFIG",
    "Seq2SeqRecipe",
    "SummarizationRecipe",
    "TranslationRecipe",
    "decode_generated",
    "make_compute_metrics",
    "target_special_ids",
    "train_joint_tokenizer",
]

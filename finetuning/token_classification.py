"""Token classification (NER, POS): words in, one tag per word out; the label sits on each word's first sub-token."""

from __future__ import annotations

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, List
from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

from ..metrics import load_metric
from .recipes import (
    TaskRecipe,
    align_label_list,
    check_known_labels,
    first_output,
    first_present,
    label_config,
    register_task,
    require_columns,
    source_for,
)

IGNORE = -100


def sort_tags(tags) -> list[str]:
    """`O` first, then by entity type with B- before I- (a stable, readable id order)."""

    def key(tag):
        prefix, _, kind = tag.partition("-")
        return (tag != "O", kind or prefix, prefix)

    return sorted(set(tags), key=key)


@register_task
class TokenClassificationRecipe(TaskRecipe):
    task = "token-classification"
    description = "words -> one tag per word, e.g. NER; jsonl or CoNLL"
    auto_model_class = AutoModelForTokenClassification
    peft_task_type = "TOKEN_CLS"
    head_modules = ("classifier",)
    main_metric = "f1"

    def setup_labels(self, raw: DatasetDict, sources=None) -> None:
        args = self.data_args
        reference = raw["train"] if "train" in raw else next(iter(raw.values()))
        self.tokens_column = args.tokens_column or first_present(reference, ("tokens", "words"))
        self.label_column = args.label_column or first_present(reference, ("ner_tags", "tags", "labels", "pos_tags"))
        if self.tokens_column is None or self.label_column is None:
            raise ValueError(
                f"Token classification needs a words column and a tags column (--tokens_column, --label_column); "
                f"columns are {reference.column_names}"
            )
        for split, dataset in raw.items():
            labels = self.label_column if split != "test" or self.label_column in dataset.column_names else None
            require_columns(dataset, split, {"tokens": self.tokens_column, "label": labels})
            self._check_rows(dataset, labels, source_for(sources, split))
        inner = self._inner(reference)
        if isinstance(inner, ClassLabel):
            self.label_list = list(inner.names)
        else:
            self.label_list = sort_tags(t for row in reference[self.label_column] for t in row)
        for split, dataset in raw.items():
            if self.label_column in dataset.column_names:
                tags = self._tag_names(dataset, dataset[self.label_column])
                check_known_labels({t for row in tags for t in row}, self.label_list, split, self.label_column)

    def _check_rows(self, dataset: Dataset, labels: str | None, source) -> None:
        """Every row: a list of words (strings) and, when labelled, a list of tags of the same length."""
        words_column, tags_column = self.tokens_column, labels
        all_tags = dataset[tags_column] if tags_column else [None] * len(dataset)
        for row, (words, tags) in enumerate(zip(dataset[words_column], all_tags)):
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                bad = words if not isinstance(words, list) else next(w for w in words if not isinstance(w, str))
                raise ValueError(
                    f"{source.where(row, start=True)}: column {words_column!r} must hold a list of words (strings), but holds "
                    f"{bad!r}. Fill it in or remove the row; name the words column with --tokens_column."
                )
            if tags_column is None:
                continue
            if not isinstance(tags, list) or any(t is None for t in tags):
                raise ValueError(
                    f"{source.where(row, start=True)}: column {tags_column!r} must hold a list of tags, one per word, but holds "
                    f"{tags!r}. Fill in every tag or remove the row; name the tags column with --label_column."
                )
            if len(tags) != len(words):
                raise ValueError(
                    f"{source.where(row, start=True)}: {len(words)} words in {words_column!r} but {len(tags)} tags in "
                    f"{tags_column!r}: give exactly one tag per word."
                )

    def _inner(self, dataset):
        feature = dataset.features[self.label_column]
        return feature.feature if isinstance(feature, List) else feature

    def _tag_names(self, dataset, rows) -> list[list[str]]:
        inner = self._inner(dataset)
        if isinstance(inner, ClassLabel):
            return [[inner.int2str(t) for t in row] for row in rows]
        return [[str(t) for t in row] for row in rows]

    def config_kwargs(self, config, tokenizer) -> dict:
        return label_config(self.label_list)

    def align_labels_with_checkpoint(self, config, ignore_mismatched_sizes: bool) -> None:
        self.label_list = align_label_list(self.label_list, config, ignore_mismatched_sizes, what="tags")

    def preprocess(self, dataset: Dataset, tokenizer, split: str) -> Dataset:
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("Token classification needs a fast (tokenizers-backed) tokenizer for word_ids()")
        label2id = {name: i for i, name in enumerate(self.label_list)}
        # B-X on a word's later sub-tokens becomes I-X when every sub-token is labelled.
        inside = [
            label2id.get("I-" + name[2:], i) if name.startswith("B-") else i for i, name in enumerate(self.label_list)
        ]
        has_labels = self.label_column in dataset.column_names
        args = self.data_args
        padding = "max_length" if args.pad_to_max_length else False

        def encode(batch):
            out = tokenizer(
                batch[self.tokens_column],
                is_split_into_words=True,
                truncation=True,
                max_length=args.max_seq_length,
                padding=padding,
            )
            # Kept for writing per-word predictions; the Trainer drops it (not a forward argument).
            out["word_ids"] = [
                [-1 if w is None else w for w in out.word_ids(row)] for row in range(len(out["input_ids"]))
            ]
            if has_labels:
                all_tags = self._tag_names(dataset, batch[self.label_column])
                labels = []
                for row, tags in enumerate(all_tags):
                    ids, previous = [], None
                    for word in out.word_ids(row):
                        if word is None:
                            ids.append(IGNORE)
                        elif word != previous:
                            ids.append(label2id[tags[word]])
                        else:
                            ids.append(inside[label2id[tags[word]]] if args.label_all_tokens else IGNORE)
                        previous = word
                    labels.append(ids)
                out["labels"] = labels
            return out

        return self.tokenize(dataset, encode, split)

    def data_collator(self, tokenizer, model=None, pad_to_multiple_of=None):
        return DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def _aligned(self, logits: np.ndarray, label_ids: np.ndarray):
        """Predicted and gold tag names at labelled positions (first sub-tokens), one list per sentence."""
        preds = logits.argmax(-1)
        pred_tags, gold_tags = [], []
        for p_row, l_row in zip(preds, label_ids):
            keep = l_row != IGNORE
            pred_tags.append([self.label_list[i] for i in p_row[keep]])
            gold_tags.append([self.label_list[i] for i in l_row[keep]])
        return pred_tags, gold_tags

    def compute_metrics_fn(self, examples, features, tokenizer):
        seqeval = load_metric("seqeval")

        def compute(eval_pred):
            logits = first_output(eval_pred.predictions)
            pred_tags, gold_tags = self._aligned(logits, eval_pred.label_ids)
            result = seqeval.compute(predictions=pred_tags, references=gold_tags)
            out = {name: result[f"overall_{name}"] for name in ("precision", "recall", "f1", "accuracy")}
            for entity_type, scores in result.items():
                if isinstance(scores, dict):
                    out[f"{entity_type}_f1"] = scores["f1"]
            return out

        return compute

    def prediction_records(self, examples, features, predictions, tokenizer) -> list[dict]:
        """Tags per word. Words cut off by truncation get no prediction and are tagged "O"."""
        logits = first_output(predictions)
        preds = logits.argmax(-1)
        records = []
        for i, example in enumerate(examples):
            words = example[self.tokens_column]
            tags = ["O"] * len(words)
            previous = None
            for position, word in enumerate(features[i]["word_ids"]):
                if word >= 0 and word != previous:
                    tags[word] = self.label_list[preds[i][position]]
                previous = word
            record = {"index": i, "tokens": words, "prediction": tags}
            if self.label_column in example:
                record["label"] = self._tag_names(examples, [example[self.label_column]])[0]
            records.append(record)
        return records

"""Text classification: single sentences or pairs; binary, multi-class, multi-label or regression."""

from __future__ import annotations

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, List, Value
from scipy.special import expit, softmax
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding

from ..data.readers import check_label_column, check_text_column
from ..metrics import load_metric
from .data import no_header_hint
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

SINGLE, MULTI, REGRESSION = "single_label_classification", "multi_label_classification", "regression"


@register_task
class TextClassificationRecipe(TaskRecipe):
    task = "text-classification"
    description = "single sentences or pairs -> a label, several labels or a score"
    auto_model_class = AutoModelForSequenceClassification
    peft_task_type = "SEQ_CLS"
    head_modules = ("classifier", "pooler")

    def setup_labels(self, raw: DatasetDict, sources=None) -> None:
        args = self.data_args
        reference = raw["train"] if "train" in raw else next(iter(raw.values()))
        self.text_column = args.text_column or first_present(reference, ("text", "sentence", "sentence1", "question"))
        if self.text_column is None:
            raise ValueError(
                f"Name the text column with --text_column; columns are {reference.column_names}."
                + no_header_hint(reference.column_names)
            )
        self.pair_column = args.text_pair_column
        if self.pair_column is None and args.text_column is None and "sentence2" in reference.column_names:
            self.pair_column = "sentence2"
        self.label_column = args.label_column or "label"
        for split, dataset in raw.items():
            # The test split may come without labels: predictions are written for it.
            labels = self.label_column if split != "test" or self.label_column in dataset.column_names else None
            require_columns(dataset, split, {"text": self.text_column, "text pair": self.pair_column, "label": labels})
            source = source_for(sources, split)
            check_text_column(dataset, self.text_column, source, option="--text_column")
            if self.pair_column:
                check_text_column(dataset, self.pair_column, source, option="--text_pair_column")
            if labels:
                check_label_column(dataset, labels, source)
        if getattr(args, "class_names", None):
            name_class_ids(raw, self.label_column, args.class_names)
            reference = raw["train"] if "train" in raw else next(iter(raw.values()))

        feature = reference.features[self.label_column]
        self.problem_type = args.problem_type or self._infer_problem_type(feature)
        if self.problem_type == REGRESSION:
            self.label_list = None
        else:
            self.label_list = self._label_names(reference, feature)
            for split, dataset in raw.items():
                if self.label_column in dataset.column_names:
                    values = dataset[self.label_column]
                    feature_here = dataset.features[self.label_column]
                    if self.problem_type == MULTI:
                        values = self._names(_inner(feature_here), [v for row in values for v in row])
                    else:
                        values = self._names(feature_here, values)
                    check_known_labels(values, self.label_list, split, self.label_column)

    @staticmethod
    def _infer_problem_type(feature) -> str:
        if isinstance(feature, (List, list)):
            return MULTI
        if isinstance(feature, Value) and feature.dtype.startswith("float"):
            return REGRESSION
        return SINGLE

    def _label_names(self, dataset: Dataset, feature) -> list[str]:
        inner = _inner(feature)
        if isinstance(inner, ClassLabel):
            return list(inner.names)
        values = dataset[self.label_column]
        if self.problem_type == MULTI:
            values = [v for row in values for v in row]
        return [str(v) for v in sorted(set(values))]

    @staticmethod
    def _names(feature, values) -> list[str]:
        if isinstance(feature, ClassLabel):
            return [feature.int2str(v) for v in values]
        return [str(v) for v in values]

    def config_kwargs(self, config, tokenizer) -> dict:
        if self.problem_type == REGRESSION:
            return {"num_labels": 1, "problem_type": REGRESSION}
        return {**label_config(self.label_list), "problem_type": self.problem_type}

    def align_labels_with_checkpoint(self, config, ignore_mismatched_sizes: bool) -> None:
        if self.problem_type != REGRESSION:
            self.label_list = align_label_list(self.label_list, config, ignore_mismatched_sizes)

    def preprocess(self, dataset: Dataset, tokenizer, split: str) -> Dataset:
        label2id = {name: i for i, name in enumerate(self.label_list or [])}
        feature = dataset.features.get(self.label_column)
        max_length = self.data_args.max_seq_length
        padding = "max_length" if self.data_args.pad_to_max_length else False

        def encode(batch):
            pairs = batch[self.pair_column] if self.pair_column else None
            out = tokenizer(batch[self.text_column], pairs, truncation=True, max_length=max_length, padding=padding)
            if self.label_column in batch:
                values = batch[self.label_column]
                if self.problem_type == REGRESSION:
                    out["labels"] = [float(v) for v in values]
                elif self.problem_type == MULTI:
                    hot = np.zeros((len(values), len(self.label_list)), dtype=np.float32)
                    for row, names in enumerate(values):
                        for name in self._names(_inner(feature), names):
                            hot[row, label2id[str(name)]] = 1.0
                    out["labels"] = hot.tolist()
                else:
                    out["labels"] = [label2id[name] for name in self._names(feature, values)]
            return out

        return self.tokenize(dataset, encode, split)

    def data_collator(self, tokenizer, model=None, pad_to_multiple_of=None):
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    @property
    def main_metric(self) -> str:
        return {REGRESSION: "pearsonr", MULTI: "f1"}.get(self.problem_type, "accuracy")

    def _decode(self, logits: np.ndarray):
        if self.problem_type == REGRESSION:
            return logits.reshape(-1)
        if self.problem_type == MULTI:
            return (logits > 0).astype(np.int64)  # sigmoid(x) > 0.5
        return logits.argmax(-1)

    def compute_metrics_fn(self, examples, features, tokenizer):
        problem_type, num_labels = self.problem_type, len(self.label_list or [])
        metrics = {}
        if problem_type == REGRESSION:
            metrics = {"pearsonr": load_metric("pearsonr"), "spearmanr": load_metric("spearmanr")}
        elif problem_type == MULTI:
            metrics = {"f1": load_metric("f1", config_name="multilabel")}
        else:
            metrics = {name: load_metric(name) for name in ("accuracy", "f1", "matthews_correlation")}

        def compute(eval_pred):
            logits = first_output(eval_pred.predictions)
            preds, refs = self._decode(logits), eval_pred.label_ids
            if problem_type == REGRESSION:
                refs = refs.reshape(-1)
                out = {name: m.compute(predictions=preds, references=refs)[name] for name, m in metrics.items()}
                out["mse"] = float(np.mean((preds - refs) ** 2))
                return out
            if problem_type == MULTI:
                refs = refs.astype(np.int64)
                f1 = metrics["f1"]
                return {
                    "f1": f1.compute(predictions=preds, references=refs, average="micro")["f1"],
                    "f1_macro": f1.compute(predictions=preds, references=refs, average="macro")["f1"],
                    "exact_match": float((preds == refs).all(axis=1).mean()),
                }
            average = "binary" if num_labels == 2 else "macro"
            return {
                "accuracy": metrics["accuracy"].compute(predictions=preds, references=refs)["accuracy"],
                "f1": metrics["f1"].compute(predictions=preds, references=refs, average=average)["f1"],
                "matthews_correlation": metrics["matthews_correlation"].compute(predictions=preds, references=refs)[
                    "matthews_correlation"
                ],
            }

        return compute

    def prediction_records(self, examples, features, predictions, tokenizer) -> list[dict]:
        logits = first_output(predictions)
        decoded = self._decode(logits)
        records = []
        for i, example in enumerate(examples):
            record = {"index": i, "text": example[self.text_column]}
            if self.pair_column:
                record["text_pair"] = example[self.pair_column]
            if self.problem_type == REGRESSION:
                record["prediction"] = float(decoded[i])
            elif self.problem_type == MULTI:
                record["prediction"] = [self.label_list[j] for j in np.flatnonzero(decoded[i])]
                record["scores"] = expit(logits[i]).round(6).tolist()
            else:
                record["prediction"] = self.label_list[int(decoded[i])]
                record["probabilities"] = softmax(logits[i]).round(6).tolist()
            if self.label_column in example:
                gold = example[self.label_column]
                feature = examples.features[self.label_column]
                if self.problem_type == MULTI:
                    record["label"] = self._names(_inner(feature), gold)
                elif self.problem_type == SINGLE:
                    record["label"] = self._names(feature, [gold])[0]
                else:
                    record["label"] = gold
            records.append(record)
        return records


def parse_class_names(spec: str) -> list[tuple[str, str]]:
    """`--class_names`: `"negative,positive"` -> `[("0", "negative"), ("1", "positive")]` (ids 0..n-1 in order), or
    explicit `"1=World,2=Sports"` -> `[("1", "World"), ("2", "Sports")]` (any label values, e.g. 1-based ids)."""
    entries = [entry.strip() for entry in spec.split(",")]
    if all("=" in entry for entry in entries):
        pairs = [tuple(part.strip() for part in entry.split("=", 1)) for entry in entries]
    elif any("=" in entry for entry in entries):
        raise ValueError(f"--class_names: give names in id order or value=name for every class, not a mix: {spec!r}")
    else:
        pairs = [(str(i), name) for i, name in enumerate(entries)]
    values, names = [v for v, _ in pairs], [n for _, n in pairs]
    distinct = len(set(values)) == len(values) and len(set(names)) == len(names)
    if len(pairs) < 2 or not all(values) or not all(names) or not distinct:
        raise ValueError(f"--class_names needs two or more distinct names (and distinct values), got {spec!r}")
    return pairs


def name_class_ids(raw: DatasetDict, column: str, spec: str) -> None:
    """Give the label values in `column` the names `--class_names` assigns (see `parse_class_names`): the column
    becomes a `ClassLabel` whose id i is the i-th name, in place in every split that has it. Without `value=` the
    values must be the integer ids 0..n-1. ValueError for a value the names do not cover."""
    pairs = parse_class_names(spec)
    explicit = "=" in spec
    index = {value: i for i, (value, _) in enumerate(pairs)}
    names = [name for _, name in pairs]
    for split, dataset in list(raw.items()):
        if column not in dataset.column_names:
            continue
        feature = dataset.features[column]
        if isinstance(feature, ClassLabel):
            dataset = dataset.cast_column(column, Value("int64"))  # name its ids anew
        elif not explicit and not (isinstance(feature, Value) and feature.dtype.startswith(("int", "uint"))):
            raise ValueError(
                f"--class_names names integer class ids 0..n-1, but the {split} split's {column!r} column holds "
                f"{feature.dtype if isinstance(feature, Value) else type(feature).__name__} values; "
                "drop --class_names when the labels are already names, or map them with value=name pairs"
            )
        outside = sorted({str(v) for v in dataset.unique(column)} - set(index))
        if outside:
            covered = ", ".join(index) if explicit else f"0..{len(names) - 1}"
            raise ValueError(
                f"The {split} split's {column!r} column has label values {outside[:10]} that "
                f"--class_names does not name (it covers {covered}); 1-based ids: 1=a,2=b,..."
            )
        features = dataset.features.copy()
        features[column] = ClassLabel(names=names)
        raw[split] = dataset.map(
            lambda batch: {column: [index[str(v)] for v in batch[column]]},
            batched=True,
            features=features,
            desc=f"Naming {split} labels",
        )


def _inner(feature):
    """The element feature of a list column (multi-label), else the feature itself."""
    if isinstance(feature, List):
        return feature.feature
    return feature[0] if isinstance(feature, list) else feature

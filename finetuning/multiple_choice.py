"""Multiple choice (SWAG style): a context, the start of a continuation and N candidate endings; pick one.

Each choice is encoded as the pair (context, start + " " + ending); the model scores the N pairs jointly.
Defaults follow SWAG's columns: `sent1` (context), `sent2` (start), `ending0..ending3`, `label`.
"""

from __future__ import annotations

import re

from datasets import Dataset, DatasetDict
from scipy.special import softmax
from transformers import AutoModelForMultipleChoice, DataCollatorForMultipleChoice

from ..data.readers import check_label_column, check_text_column, first_bad_row
from ..metrics import load_metric
from .recipes import TaskRecipe, first_output, register_task, require_columns, source_for


@register_task
class MultipleChoiceRecipe(TaskRecipe):
    task = "multiple-choice"
    description = "SWAG style: context + N endings -> the right ending"
    auto_model_class = AutoModelForMultipleChoice
    peft_task_type = None  # no peft task type: the head is listed in modules_to_save explicitly
    head_modules = ("classifier", "pooler")
    main_metric = "accuracy"

    def setup_labels(self, raw: DatasetDict, sources=None) -> None:
        args = self.data_args
        reference_split = "train" if "train" in raw else next(iter(raw))
        reference = raw[reference_split]
        self.context_column = args.context_column or "sent1"
        self.question_column = args.question_column or ("sent2" if "sent2" in reference.column_names else None)
        if args.choice_columns:
            self.choice_columns = [c.strip() for c in args.choice_columns.split(",") if c.strip()]
        else:
            self.choice_columns = _ending_columns(reference)
            numbers = [int(c[6:]) for c in self.choice_columns]
            missing = [f"ending{i}" for i in range(max(numbers, default=-1) + 1) if i not in numbers]
            if missing:
                raise ValueError(
                    f"The {reference_split} split has choice columns {self.choice_columns} but no {missing}: the "
                    "endings are numbered from ending0 without gaps. Add the missing column(s), or name the choice "
                    "columns with --choice_columns."
                )
        if len(self.choice_columns) < 2:
            raise ValueError(
                f"Multiple choice needs at least two choice columns (--choice_columns); "
                f"columns are {reference.column_names}"
            )
        self.label_column = args.label_column or "label"
        for split, dataset in raw.items():
            if not args.choice_columns and _ending_columns(dataset) != self.choice_columns:
                raise ValueError(
                    f"The {split} split has choice columns {_ending_columns(dataset)} but the {reference_split} split "
                    f"has {self.choice_columns}: every split needs the same choices. Add the missing column(s), or "
                    "name the choice columns with --choice_columns."
                )
            label = self.label_column if split != "test" or self.label_column in dataset.column_names else None
            require_columns(
                dataset,
                split,
                {
                    "context": self.context_column,
                    "question": self.question_column,
                    "label": label,
                    **{f"choice {c}": c for c in self.choice_columns},
                },
            )
            source = source_for(sources, split)
            check_text_column(dataset, self.context_column, source, option="--context_column")
            if self.question_column:
                check_text_column(dataset, self.question_column, source, option="--question_column")
            for column in self.choice_columns:
                check_text_column(dataset, column, source, option="--choice_columns")
            if label:
                self._check_labels(dataset, label, source, explicit=bool(args.choice_columns))

    def _check_labels(self, dataset: Dataset, column: str, source, explicit: bool) -> None:
        """Every label is the 0-based index of one of the choice columns."""
        check_label_column(dataset, column, source)
        n = len(self.choice_columns)
        row = first_bad_row(dataset, column, lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n)
        if row is None:
            return
        value = dataset[row][column]
        message = (
            f"{source.where(row, start=True)}: label {value!r} in column {column!r} must be the 0-based index of one of "
            f"the {n} choice columns {self.choice_columns} (0..{n - 1})."
        )
        if isinstance(value, int) and value >= n and not explicit:
            message += (
                f" Choice {value} would be column 'ending{value}', which the file lacks: add it (every row "
                "needs all its endings), or name the choice columns with --choice_columns."
            )
        raise ValueError(message)

    def preprocess(self, dataset: Dataset, tokenizer, split: str) -> Dataset:
        n = len(self.choice_columns)
        args = self.data_args
        has_labels = self.label_column in dataset.column_names

        def encode(batch):
            size = len(batch[self.context_column])
            firsts = [c for c in batch[self.context_column] for _ in range(n)]
            starts = batch[self.question_column] if self.question_column else [""] * size
            seconds = [f"{starts[i]} {batch[col][i]}".strip() for i in range(size) for col in self.choice_columns]
            flat = tokenizer(
                firsts,
                seconds,
                truncation=True,
                max_length=args.max_seq_length,
                padding="max_length" if args.pad_to_max_length else False,
            )
            out = {k: [v[i : i + n] for i in range(0, len(v), n)] for k, v in flat.items()}
            if has_labels:
                out["labels"] = batch[self.label_column]
            return out

        return self.tokenize(dataset, encode, split)

    def data_collator(self, tokenizer, model=None, pad_to_multiple_of=None):
        return DataCollatorForMultipleChoice(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def compute_metrics_fn(self, examples, features, tokenizer):
        accuracy = load_metric("accuracy")

        def compute(eval_pred):
            logits = first_output(eval_pred.predictions)
            return accuracy.compute(predictions=logits.argmax(-1), references=eval_pred.label_ids)

        return compute

    def prediction_records(self, examples, features, predictions, tokenizer) -> list[dict]:
        logits = first_output(predictions)
        records = []
        for i, example in enumerate(examples):
            record = {
                "index": i,
                "context": example[self.context_column],
                "prediction": int(logits[i].argmax()),
                "probabilities": softmax(logits[i]).round(6).tolist(),
            }
            if self.label_column in example:
                record["label"] = example[self.label_column]
            records.append(record)
        return records


def _ending_columns(dataset: Dataset) -> list[str]:
    """SWAG's choice columns `ending0`, `ending1`, ... present in `dataset`, in numeric order."""
    return sorted((c for c in dataset.column_names if re.fullmatch(r"ending\d+", c)), key=lambda c: int(c[6:]))

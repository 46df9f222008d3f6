"""Extractive question answering (SQuAD v1 style): long contexts split into overlapping chunks, spans decoded back
to text through the tokenizer's character offsets."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from datasets import Dataset, DatasetDict
from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding

from ..data.readers import check_text_column
from ..metrics import load_metric
from .recipes import TaskRecipe, first_present, register_task, require_columns, source_for
from .span_decoding import best_spans


@register_task
class QuestionAnsweringRecipe(TaskRecipe):
    task = "question-answering"
    description = "extractive, SQuAD style: question + context -> answer span"
    auto_model_class = AutoModelForQuestionAnswering
    peft_task_type = "QUESTION_ANS"
    head_modules = ("qa_outputs",)
    main_metric = "f1"

    def setup_labels(self, raw: DatasetDict, sources=None) -> None:
        args = self.data_args
        self.question_column = args.question_column or "question"
        self.context_column = args.context_column or "context"
        self.answer_column = args.answer_column or "answers"
        reference = raw["train"] if "train" in raw else next(iter(raw.values()))
        self.id_column = first_present(reference, ("id",))
        for split, dataset in raw.items():
            answers = self.answer_column if split != "test" or self.answer_column in dataset.column_names else None
            require_columns(
                dataset, split, {"question": self.question_column, "context": self.context_column, "answers": answers}
            )
            source = source_for(sources, split)
            check_text_column(dataset, self.question_column, source, option="--question_column")
            check_text_column(dataset, self.context_column, source, option="--context_column")
            if answers:
                self._check_answers(dataset, source)

    def _check_answers(self, dataset: Dataset, source) -> None:
        """Every answer must be {text: [...], answer_start: [...]} and lie where answer_start says it does."""
        column = self.answer_column
        for i, (context, answer) in enumerate(zip(dataset[self.context_column], dataset[column])):
            if (
                not isinstance(answer, dict)
                or not isinstance(answer.get("text"), list)
                or not isinstance(answer.get("answer_start"), list)
            ):
                raise ValueError(
                    f"{source.where(i, start=True)}: column {column!r} holds {answer!r}, but it must be "
                    "{'text': [answer, ...], 'answer_start': [character offset, ...]} (empty lists: no answer). "
                    "Fix the row, or name the answers column with --answer_column."
                )
            for text, start in zip(answer["text"], answer["answer_start"]):
                if (
                    not isinstance(text, str)
                    or not isinstance(start, int)
                    or context[start : start + len(text)] != text
                ):
                    found = (
                        context[start : start + len(text)]
                        if isinstance(text, str) and isinstance(start, int)
                        else None
                    )
                    raise ValueError(
                        f"{source.where(i, start=True)}: answer {text!r} is not at character {start!r} of its context "
                        f"(found {found!r}); answer_start is the 0-based character offset of the answer text."
                    )

    def _pad_on_right(self, tokenizer) -> bool:
        return tokenizer.padding_side == "right"

    def preprocess(self, dataset: Dataset, tokenizer, split: str) -> Dataset:
        """One feature per context chunk. Every feature keeps `example_id` and `offset_mapping` (None outside the
        context) for decoding; when answers are known it also gets start/end token positions (the [CLS] index 0
        when the answer is not inside the chunk), so evaluation reports a loss and reaches `compute_metrics`."""
        args = self.data_args
        pad_on_right = self._pad_on_right(tokenizer)
        if args.doc_stride >= args.max_seq_length:
            raise ValueError("--doc_stride must be smaller than --max_seq_length")
        has_answers = self.answer_column in dataset.column_names
        ids = dataset[self.id_column] if self.id_column else [str(i) for i in range(len(dataset))]
        dataset = dataset.add_column("_example_id", [str(i) for i in ids])
        context_index = 1 if pad_on_right else 0

        def encode(batch):
            questions = [q.lstrip() for q in batch[self.question_column]]
            contexts = batch[self.context_column]
            out = tokenizer(
                questions if pad_on_right else contexts,
                contexts if pad_on_right else questions,
                truncation="only_second" if pad_on_right else "only_first",
                max_length=args.max_seq_length,
                stride=args.doc_stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                padding="max_length" if args.pad_to_max_length else False,
            )
            sample_map = out.pop("overflow_to_sample_mapping")
            out["example_id"], starts, ends = [], [], []
            for i, offsets in enumerate(out["offset_mapping"]):
                sample = sample_map[i]
                sequence_ids = out.sequence_ids(i)
                out["example_id"].append(batch["_example_id"][sample])
                if has_answers:
                    start, end = self._answer_tokens(
                        batch[self.answer_column][sample], offsets, sequence_ids, context_index
                    )
                    starts.append(start)
                    ends.append(end)
                out["offset_mapping"][i] = [
                    o if sequence_ids[k] == context_index else None for k, o in enumerate(offsets)
                ]
            if has_answers:
                out["start_positions"], out["end_positions"] = starts, ends
            return out

        return self.tokenize(dataset, encode, split)

    @staticmethod
    def _answer_tokens(answer, offsets, sequence_ids, context_index) -> tuple[int, int]:
        """Token indices of the first answer in this chunk, or (0, 0) when it is not fully inside it."""
        if not answer["answer_start"]:
            return 0, 0
        start_char = answer["answer_start"][0]
        end_char = start_char + len(answer["text"][0])
        first = sequence_ids.index(context_index)
        last = len(sequence_ids) - 1 - sequence_ids[::-1].index(context_index)
        if offsets[first][0] > start_char or offsets[last][1] < end_char:
            return 0, 0
        start = first
        while start <= last and offsets[start][0] <= start_char:
            start += 1
        end = last
        while end >= first and offsets[end][1] >= end_char:
            end -= 1
        return start - 1, end + 1

    def data_collator(self, tokenizer, model=None, pad_to_multiple_of=None):
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=pad_to_multiple_of)

    def decode_answers(self, examples: Dataset, features: Dataset, predictions) -> list[dict]:
        """Best span per example across all its chunks: [{id, prediction_text, score, start, end}]."""
        start_logits, end_logits = predictions[:2]
        if len(start_logits) != len(features):
            raise ValueError(f"{len(start_logits)} predictions for {len(features)} features")
        by_example = defaultdict(list)
        for i, example_id in enumerate(features["example_id"]):
            by_example[example_id].append(i)
        offsets_all = features["offset_mapping"]
        ids = examples[self.id_column] if self.id_column else [str(i) for i in range(len(examples))]
        answers = []
        for example_id, context in zip((str(i) for i in ids), examples[self.context_column]):
            candidates = []
            for i in by_example[example_id]:
                offsets = offsets_all[i]
                length = min(len(offsets), len(start_logits[i]))
                mask = np.array([o is not None for o in offsets[:length]])
                candidates += best_spans(
                    start_logits[i][:length],
                    end_logits[i][:length],
                    offsets[:length],
                    mask,
                    self.data_args.n_best_size,
                    self.data_args.max_answer_length,
                )
            if candidates:
                score, start, end = max(candidates, key=lambda c: c[0])
                answers.append(
                    {
                        "id": example_id,
                        "prediction_text": context[start:end],
                        "score": score,
                        "start": start,
                        "end": end,
                    }
                )
            else:
                answers.append({"id": example_id, "prediction_text": "", "score": float("-inf"), "start": 0, "end": 0})
        return answers

    def _references(self, examples: Dataset) -> list[dict]:
        ids = examples[self.id_column] if self.id_column else [str(i) for i in range(len(examples))]
        return [
            {"id": str(i), "answers": {"text": a["text"], "answer_start": a["answer_start"]}}
            for i, a in zip(ids, examples[self.answer_column])
        ]

    def compute_metrics_fn(self, examples, features, tokenizer):
        squad = load_metric("squad")
        references = self._references(examples)

        def compute(eval_pred):
            answers = self.decode_answers(examples, features, eval_pred.predictions)
            return squad.compute(
                predictions=[{"id": a["id"], "prediction_text": a["prediction_text"]} for a in answers],
                references=references,
            )

        return compute

    def prediction_records(self, examples, features, predictions, tokenizer) -> list[dict]:
        answers = self.decode_answers(examples, features, predictions)
        records = []
        for answer, example in zip(answers, examples):
            record = {**answer, "question": example[self.question_column]}
            if self.answer_column in example:
                record["answers"] = example[self.answer_column]["text"]
            records.append(record)
        return records

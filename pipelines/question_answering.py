"""Extractive question answering pipeline, registered as `"extractive-question-answering"`.

transformers 5 removed its `question-answering` pipeline and refuses that task name, even for a custom pipeline,
so this one lives under its own name (registered on `import seedformer`) and serves any
`AutoModelForQuestionAnswering` checkpoint:

    qa = pipeline("extractive-question-answering", model="path/to/qa-checkpoint")
    qa(question="Who wrote it?", context="... long text ...", top_k=2, doc_stride=128)
    -> [{"score": 0.91, "start": 120, "end": 131, "answer": "Ada Lovelace", "text": "Ada Lovelace"}, ...]

Long contexts are split into overlapping chunks (`max_seq_len`, `doc_stride`); every chunk is scored and the best
spans over all chunks win. `score` is p(start) * p(end) under each chunk's softmax over context tokens, as in the
transformers 4 pipeline; the search within a chunk is exhaustive over every span of at most `max_answer_len`
tokens (no n-best shortlist), so the answer is the best span any chunk offers. Lists of inputs run in batches
(`batch_size=`).
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.pipelines.base import ChunkPipeline

TASK = "extractive-question-answering"


def _log_softmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = np.where(mask, x.astype(np.float64), -np.inf)
    top = x[mask].max() if mask.any() else 0.0
    return x - top - np.log(np.exp(x - top).sum())


def _top_spans(start: np.ndarray, end: np.ndarray, max_answer_len: int, k: int) -> list[tuple[float, int, int]]:
    """The k best (start + end score, start token, end token) with start <= end < start + max_answer_len, by an
    exhaustive search. start, end: (L,) log-probabilities, -inf outside the context."""
    length = len(start)
    i, j = np.indices((length, length))
    scores = np.where((j >= i) & (j - i < max_answer_len), start[:, None] + end[None, :], -np.inf).ravel()
    k = min(k, int(np.isfinite(scores).sum()))
    best = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=int)
    return [(float(scores[b]), int(b // length), int(b % length)) for b in best[np.argsort(-scores[best])]]


class ExtractiveQuestionAnsweringPipeline(ChunkPipeline):
    """Answers questions with spans of a context. Inputs: `question=`/`context=` (str or lists of equal length),
    or a dict / list of dicts with those keys. Outputs: per question a dict (top_k=1) or a list of top_k dicts with
    `score`, `start`, `end` (character offsets into the context), `answer` (= `text`, the span)."""

    def _sanitize_parameters(
        self,
        top_k=None,
        doc_stride=None,
        max_seq_len=None,
        max_answer_len=None,
        handle_impossible_answer=None,
        **kwargs,
    ):
        preprocess, postprocess = {}, {}
        if doc_stride is not None:
            preprocess["doc_stride"] = doc_stride
        if max_seq_len is not None:
            preprocess["max_seq_len"] = max_seq_len
        if top_k is not None:
            if top_k < 1:
                raise ValueError(f"top_k must be >= 1, got {top_k}")
            postprocess["top_k"] = top_k
        if max_answer_len is not None:
            if max_answer_len < 1:
                raise ValueError(f"max_answer_len must be >= 1, got {max_answer_len}")
            postprocess["max_answer_len"] = max_answer_len
        if handle_impossible_answer is not None:
            postprocess["handle_impossible_answer"] = handle_impossible_answer
        return preprocess, {}, postprocess

    def __call__(self, *args, question=None, context=None, **kwargs):
        if args and (question is not None or context is not None):
            raise ValueError("Give either positional inputs or question=/context=, not both")
        if args:
            inputs = args[0] if len(args) == 1 else list(args)
        elif question is None or context is None:
            raise ValueError("Extractive QA needs a question and a context")
        elif isinstance(question, str) and isinstance(context, str):
            inputs = {"question": question, "context": context}
        else:
            for key, value in (("question", question), ("context", context)):
                if not isinstance(value, (str, list, tuple)):
                    raise ValueError(
                        f"The {key} must be a string (or a list of strings), got {type(value).__name__}: {value!r}"
                    )
            questions = [question] * len(context) if isinstance(question, str) else list(question)
            contexts = [context] * len(questions) if isinstance(context, str) else list(context)
            if len(questions) != len(contexts):
                raise ValueError(f"{len(questions)} questions for {len(contexts)} contexts")
            inputs = [{"question": q, "context": c} for q, c in zip(questions, contexts)]
        for item in inputs if isinstance(inputs, list) else [inputs]:
            if not isinstance(item, dict) or "question" not in item or "context" not in item:
                raise ValueError(f"Each input must be a dict with 'question' and 'context', got {item!r}")
            for key in ("question", "context"):
                if not isinstance(item[key], str):
                    raise ValueError(f"The {key} must be a string, got {type(item[key]).__name__}: {item[key]!r}")
            if not item["question"].strip() or not item["context"].strip():
                raise ValueError("question and context must be non-empty")
        return super().__call__(inputs, **kwargs)

    def preprocess(self, example, max_seq_len=384, doc_stride=128):
        tokenizer = self.tokenizer
        question_first = tokenizer.padding_side == "right"
        question, context = example["question"].lstrip(), example["context"]
        max_seq_len = min(max_seq_len, tokenizer.model_max_length)
        question_len = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        room = max_seq_len - question_len - tokenizer.num_special_tokens_to_add(pair=True)
        if room <= 0:
            raise ValueError(
                f"The question ({question_len} tokens) leaves no room for context in max_seq_len={max_seq_len}"
            )
        doc_stride = min(doc_stride, room // 2)  # the tokenizer needs stride < room for the context
        # Lists, not one tensor: the last chunk is usually shorter than the others, and every chunk becomes its own
        # (1, length) tensor below (batching pads them in the pipeline's collate function).
        encoded = tokenizer(
            question if question_first else context,
            context if question_first else question,
            truncation="only_second" if question_first else "only_first",
            max_length=max_seq_len,
            stride=doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=False,
        )  # lists, not tensors: the last chunk of a long context is shorter than the others
        context_index = 1 if question_first else 0
        n_chunks = len(encoded["input_ids"])
        for i in range(n_chunks):
            sequence_ids = encoded.sequence_ids(i)
            offsets = [
                tuple(o) if sequence_ids[k] == context_index else None
                for k, o in enumerate(encoded["offset_mapping"][i])
            ]
            model_inputs = {k: torch.tensor([encoded[k][i]]) for k in tokenizer.model_input_names if k in encoded}
            yield {**model_inputs, "offsets": offsets, "context": context, "is_last": i == n_chunks - 1}

    def _forward(self, inputs):
        model_inputs = {k: inputs[k] for k in self.tokenizer.model_input_names if k in inputs}
        output = self.model(**model_inputs)
        return {
            "start_logits": output.start_logits,
            "end_logits": output.end_logits,
            "offsets": inputs["offsets"],
            "context": inputs["context"],
            "is_last": inputs["is_last"],
        }

    def postprocess(self, all_outputs, top_k=1, max_answer_len=30, handle_impossible_answer=False):
        context = all_outputs[0]["context"]
        candidates, null_score = {}, 0.0
        for output in all_outputs:
            offsets = output["offsets"]
            # Batched chunks are padded to the longest one, on the tokenizer's padding side: keep this chunk's tokens.
            length = len(offsets)
            keep = slice(-length, None) if self.tokenizer.padding_side == "left" else slice(0, length)
            start = output["start_logits"][0, keep].float().numpy()
            end = output["end_logits"][0, keep].float().numpy()
            mask = np.array([o is not None for o in offsets])
            if handle_impossible_answer:  # p([CLS] as start and end) over the whole chunk
                everything = np.ones_like(mask)
                null_score = max(
                    null_score, float(np.exp(_log_softmax(start, everything)[0] + _log_softmax(end, everything)[0]))
                )
            # A chunk's top_k suffice: a span outside them is beaten by top_k distinct spans at least as good overall.
            spans = _top_spans(_log_softmax(start, mask), _log_softmax(end, mask), max_answer_len, k=top_k)
            for log_score, first, last in spans:
                key = (offsets[first][0], offsets[last][1])  # a span seen from overlapping chunks: keep its best score
                candidates[key] = max(candidates.get(key, 0.0), float(np.exp(log_score)))
        answers = [
            {"score": score, "start": s, "end": e, "answer": context[s:e], "text": context[s:e]}
            for (s, e), score in candidates.items()
        ]
        if handle_impossible_answer:
            answers.append({"score": null_score, "start": 0, "end": 0, "answer": "", "text": ""})
        answers = sorted(answers, key=lambda a: -a["score"])[:top_k]
        return answers[0] if top_k == 1 and answers else answers


def register_pipeline() -> None:
    """Register under "extractive-question-answering" with transformers' custom-pipeline registry."""
    PIPELINE_REGISTRY.register_pipeline(
        TASK, pipeline_class=ExtractiveQuestionAnsweringPipeline, pt_model=AutoModelForQuestionAnswering, type="text"
    )

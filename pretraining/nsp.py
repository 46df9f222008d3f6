"""Next-sentence-prediction pairs, built from documents as BERT's `create_pretraining_data.py` does.

transformers 5 removed `TextDatasetForNextSentencePrediction`; this is its replacement as a `datasets.map` function.
For each document (a row of the corpus, split into sentences):

- a target length is `max_seq_length - 3` tokens, or with probability `short_seq_prob` a random length in
  [2, max], so the model also sees short inputs;
- consecutive sentences are gathered until the target length is reached; a random cut splits them into A and B;
- with probability `nsp_probability` (0.5) B is replaced by a span of sentences from a *different* document
  (`next_sentence_label = 1`), and the unused sentences go back to the pool; otherwise B is the true continuation
  (`next_sentence_label = 0`, the label convention of `BertForPreTraining`);
- the pair is trimmed to fit, one token at a time from the longer side, at a random end (front or back).

One deviation from BERT: when the gathered chunk is a single sentence (long sentences, or a one-sentence document),
BERT always makes a *random* pair, which skews the labels towards 1 on corpora of short documents. Here a single
sentence of at least 2 tokens is split at a random token instead, so a true-next pair stays possible and the labels
stay at ~50%.

Random documents are drawn from the same `map` batch (`batch_size` documents, 1000 by default; shuffle the corpus first
if it is sorted by source). A batch with a single document yields only true-next pairs.
"""

from __future__ import annotations

import random
import re

import datasets
from tokenizers import Encoding

from .blocks import raw_backend

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def split_sentences(text: str) -> list[str]:
    """Lines, then sentence ends (`.`, `!`, `?` followed by space) within each line. Blank pieces are dropped."""
    sentences = []
    for line in text.splitlines():
        sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return sentences


class NextSentencePairBuilder:
    """A batched `datasets.map` function: documents in, NSP pairs out.

    Output columns: `input_ids`, `token_type_ids`, `attention_mask`, `special_tokens_mask` (each at most
    `max_seq_length` long, not padded) and `next_sentence_label` (0 = B follows A, 1 = B is from another document).
    Deterministic given `seed` and the row indices of the batch, so `datasets` caching and resumption reproduce it.
    """

    def __init__(
        self,
        tokenizer,
        max_seq_length: int,
        text_column: str = "text",
        short_seq_prob: float = 0.1,
        nsp_probability: float = 0.5,
        seed: int = 42,
    ):
        self.tokenizer = tokenizer
        self.text_column = text_column
        self.short_seq_prob = short_seq_prob
        self.nsp_probability = nsp_probability
        self.seed = seed
        self.num_special = raw_backend(tokenizer).num_special_tokens_to_add(is_pair=True)
        self.max_num_tokens = max_seq_length - self.num_special
        if self.max_num_tokens < 2:
            raise ValueError(
                f"max_seq_length={max_seq_length} leaves no room for a sentence pair ({self.num_special} special tokens)."
            )

    def __call__(self, examples: dict[str, list], indices: list[int]) -> dict[str, list]:
        rng = random.Random(f"{self.seed}-{indices[0] if indices else 0}")
        backend = raw_backend(self.tokenizer)
        documents = []
        for text in examples[self.text_column]:
            sentences = split_sentences(text or "")
            encodings = backend.encode_batch(sentences, add_special_tokens=False) if sentences else []
            encodings = [e for e in encodings if len(e.ids) > 0]
            if encodings:
                documents.append(encodings)
        out = {
            k: []
            for k in ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "next_sentence_label")
        }
        for doc_index in range(len(documents)):
            for a, b, label in self._pairs_from_document(documents, doc_index, rng):
                enc = backend.post_process(a, b, add_special_tokens=True)
                out["input_ids"].append(enc.ids)
                out["token_type_ids"].append(enc.type_ids)
                out["attention_mask"].append(enc.attention_mask)
                out["special_tokens_mask"].append(enc.special_tokens_mask)
                out["next_sentence_label"].append(label)
        return out

    def _pairs_from_document(self, documents: list[list[Encoding]], doc_index: int, rng: random.Random):
        document = documents[doc_index]
        target = self.max_num_tokens
        if rng.random() < self.short_seq_prob:
            target = rng.randint(2, self.max_num_tokens)
        chunk: list[Encoding] = []
        length = 0
        i = 0
        while i < len(document):
            chunk.append(document[i])
            length += len(document[i].ids)
            if i == len(document) - 1 or length >= target:
                pair = self._make_pair(chunk, documents, doc_index, target, rng)
                if pair is not None:
                    a, b, label, unused = pair
                    i -= unused  # sentences not used for A go back to the pool
                    yield a, b, label
                chunk, length = [], 0
                if rng.random() < self.short_seq_prob:
                    target = rng.randint(2, self.max_num_tokens)
                else:
                    target = self.max_num_tokens
            i += 1

    def _make_pair(self, chunk, documents, doc_index, target, rng):
        split_lone_sentence = len(chunk) == 1
        if split_lone_sentence:
            only = chunk[0]
            if len(only.ids) < 2:
                return None
            # Split a lone sentence at a random token so that both labels stay possible (see module docstring).
            cut = rng.randint(1, len(only.ids) - 1)
            chunk = [_slice(only, 0, cut), _slice(only, cut, len(only.ids))]
        a_end = rng.randint(1, len(chunk) - 1)
        tokens_a = chunk[:a_end]
        unused = 0
        others = len(documents) > 1
        if others and rng.random() < self.nsp_probability:
            label = 1
            target_b = max(1, target - sum(len(e.ids) for e in tokens_a))
            other = doc_index
            while other == doc_index:
                other = rng.randrange(len(documents))
            random_doc = documents[other]
            start = rng.randrange(len(random_doc))
            tokens_b, b_len = [], 0
            for enc in random_doc[start:]:
                tokens_b.append(enc)
                b_len += len(enc.ids)
                if b_len >= target_b:
                    break
            # The sentences meant for B go back to the pool (half of a split lone sentence cannot).
            unused = 0 if split_lone_sentence else len(chunk) - a_end
        else:
            label = 0
            tokens_b = chunk[a_end:]
        a = Encoding.merge(tokens_a, growing_offsets=True)
        b = Encoding.merge(tokens_b, growing_offsets=True)
        a, b = _truncate_pair(a, b, self.max_num_tokens, rng)
        return a, b, label, unused


def _slice(enc: Encoding, start: int, end: int) -> Encoding:
    """Tokens [start, end) of a single-sequence encoding."""
    n = len(enc.ids)
    piece = Encoding.merge([enc], growing_offsets=False)  # a copy: truncate works in place
    piece.truncate(end, direction="right")
    piece.truncate(end - start, direction="left")
    assert len(piece.ids) == end - start <= n
    return piece


def _truncate_pair(a: Encoding, b: Encoding, max_num_tokens: int, rng: random.Random):
    """BERT's `truncate_seq_pair`: drop one token at a time from the longer side, at the front or back at random."""
    len_a, len_b = len(a.ids), len(b.ids)
    cut = {"a": [0, 0], "b": [0, 0]}  # [front, back] tokens to drop
    while len_a + len_b > max_num_tokens:
        side = "a" if len_a > len_b else "b"
        cut[side][0 if rng.random() < 0.5 else 1] += 1
        if side == "a":
            len_a -= 1
        else:
            len_b -= 1
    out = []
    for enc, (front, back) in ((a, cut["a"]), (b, cut["b"])):
        n = len(enc.ids)
        if front or back:
            enc = _slice(enc, front, n - back)
        out.append(enc)
    return out[0], out[1]


def build_nsp_pairs(
    dataset,
    tokenizer,
    max_seq_length: int,
    text_column: str = "text",
    short_seq_prob: float = 0.1,
    nsp_probability: float = 0.5,
    seed: int = 42,
    num_proc: int | None = None,
    batch_size: int = 1000,
    load_from_cache_file: bool = True,
):
    """Documents -> NSP sentence pairs with `datasets.map` (batched, `num_proc`, cached; lazily when streaming)."""
    builder = NextSentencePairBuilder(
        tokenizer,
        max_seq_length,
        text_column=text_column,
        short_seq_prob=short_seq_prob,
        nsp_probability=nsp_probability,
        seed=seed,
    )
    kwargs = dict(batched=True, batch_size=batch_size, with_indices=True, remove_columns=dataset.column_names)
    if not isinstance(dataset, datasets.IterableDataset):
        kwargs.update(num_proc=num_proc, load_from_cache_file=load_from_cache_file, desc="build NSP sentence pairs")
    return dataset.map(builder, **kwargs)

"""Masked-LM data: tokenize documents, concatenate them and cut the stream into fixed-length blocks.

As in transformers' `run_mlm.py` (`--line_by_line` off): every document is encoded with its special tokens
(`[CLS] doc [SEP]`), documents are concatenated in order within each `datasets.map` batch, and the stream is cut into
blocks of exactly `max_seq_length` tokens (the incomplete tail of each map batch is dropped). A very long document
simply spans many blocks; nothing is truncated.

Whole-word masking. The stock `DataCollatorForLanguageModeling(whole_word_mask=True)` finds words from
`offset_mapping`: a token starts a new word when its start differs from the previous token's end. Measured on our
three tokenizers (tests/test_pretraining.py):

- WordPiece: right except punctuation, which is glued to the word before it (`hello,` is one "word").
- byte-level BPE: right when the post-processor trims offsets (ours does), same punctuation caveat.
- Unigram / Metaspace: wrong. The `▁` of `▁world` covers the space, so every token touches the previous one and a
  whole sentence becomes one "word".

Offsets of concatenated documents also restart at 0 in each document. So instead of character offsets we store
*word-boundary offsets* built from the tokenizer's own `word_ids()` (the pre-tokenizer's words, the same units for
all three algorithms): token i gets `(c_i, c_i + 1)` with `c` advancing by 1 per token and by 2 at a word boundary.
The stock collator's rule then recovers exactly the tokenizer's words, and the stock collator does the masking.
"""

from __future__ import annotations

from collections.abc import Sequence

import datasets

BLOCK_COLUMNS = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask")


def word_boundary_offsets(word_ids: Sequence[int | None], start: int = 0) -> tuple[list[list[int]], int]:
    """Offsets whose gaps mark word starts: tokens of one word are contiguous, words are separated by a gap.

    word_ids: per-token word index in one encoded document (None for special tokens), as `Encoding.word_ids`.
    Returns the offsets and the next free position (to continue in the next document, keeping positions increasing).
    """
    offsets = []
    pos = start
    previous = object()
    for word in word_ids:
        if word is None or word != previous:
            pos += 1  # gap: new word (special tokens are each their own "word"; the collator never masks them)
        offsets.append([pos, pos + 1])
        pos += 1
        previous = word
    return offsets, pos + 1


def raw_backend(tokenizer):
    """The `tokenizers.Tokenizer` behind `tokenizer`, with no truncation or padding.

    The transformers wrapper leaves the truncation/padding of its last call switched on in the backend; whole
    documents must not be cut to that length. (The wrapper re-applies its own settings on each call.)
    """
    backend = tokenizer.backend_tokenizer
    if backend.truncation is not None:
        backend.no_truncation()
    if backend.padding is not None:
        backend.no_padding()
    return backend


def tokenize_documents(texts: Sequence[str], tokenizer, with_word_offsets: bool = False) -> dict[str, list]:
    """Encode whole documents with special tokens and no truncation (the blocks cut them later).

    Uses the backend `tokenizers.Tokenizer` directly: same ids as `tokenizer(texts)`, without the
    "longer than model_max_length" warning that whole documents would trigger.
    """
    encodings = raw_backend(tokenizer).encode_batch(list(texts), add_special_tokens=True)
    out = {
        "input_ids": [e.ids for e in encodings],
        "token_type_ids": [e.type_ids for e in encodings],
        "attention_mask": [e.attention_mask for e in encodings],
        "special_tokens_mask": [e.special_tokens_mask for e in encodings],
    }
    if with_word_offsets:
        offsets, pos = [], 0
        for e in encodings:
            doc_offsets, pos = word_boundary_offsets(e.word_ids, pos)
            offsets.append(doc_offsets)
        out["offset_mapping"] = offsets
    return out


def group_into_blocks(examples: dict[str, list[list]], block_size: int) -> dict[str, list[list]]:
    """Concatenate every column and cut into `block_size` rows; the remainder shorter than a block is dropped."""
    concatenated = {k: [x for row in v for x in row] for k, v in examples.items()}
    total = (len(concatenated["input_ids"]) // block_size) * block_size
    return {k: [v[i : i + block_size] for i in range(0, total, block_size)] for k, v in concatenated.items()}


def build_mlm_blocks(
    dataset,
    tokenizer,
    max_seq_length: int,
    text_column: str = "text",
    whole_word: bool = False,
    num_proc: int | None = None,
    batch_size: int = 1000,
    load_from_cache_file: bool = True,
):
    """Raw documents -> fixed-length MLM blocks with `datasets.map` (batched; `num_proc` workers; cached on disk).

    Returns rows with `input_ids`, `token_type_ids`, `attention_mask`, `special_tokens_mask` (and `offset_mapping`,
    the word-boundary offsets, when `whole_word`), each a list of `max_seq_length` ints.
    """
    streaming = isinstance(dataset, datasets.IterableDataset)
    columns = dataset.column_names

    def tokenize(batch):
        return tokenize_documents(batch[text_column], tokenizer, with_word_offsets=whole_word)

    def group(batch):
        return group_into_blocks(batch, max_seq_length)

    map_kwargs = dict(batched=True, batch_size=batch_size)
    if not streaming:
        map_kwargs.update(num_proc=num_proc, load_from_cache_file=load_from_cache_file)
    tokenized = dataset.map(
        tokenize, remove_columns=columns, **map_kwargs, **({} if streaming else {"desc": "tokenize documents"})
    )
    return tokenized.map(
        group, **map_kwargs, **({} if streaming else {"desc": f"group into blocks of {max_seq_length}"})
    )

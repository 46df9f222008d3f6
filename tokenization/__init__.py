"""Tokenizer training (WordPiece, byte-level BPE, Unigram) with the `tokenizers` library.

`train_tokenizer(texts, algorithm=...)` returns a stock `PreTrainedTokenizerFast`; `save_pretrained(dir)` makes a
folder that `AutoTokenizer.from_pretrained(dir)` loads without Seedformer.
"""

from .training import (
    ALGORITHMS,
    BERT_SPECIAL_TOKENS,
    BPE_SPECIAL_TOKENS,
    MODEL_INPUT_NAMES,
    SpecialTokens,
    default_special_tokens,
    iter_texts,
    train_tokenizer,
    wrap_tokenizer,
)

__all__ = [
    "ALGORITHMS",
    "BERT_SPECIAL_TOKENS",
    "BPE_SPECIAL_TOKENS",
    "MODEL_INPUT_NAMES",
    "SpecialTokens",
    "default_special_tokens",
    "iter_texts",
    "train_tokenizer",
    "wrap_tokenizer",
]

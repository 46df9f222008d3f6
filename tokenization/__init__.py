"""Tokenizer training (WordPiece, byte-level BPE, Unigram) with the `tokenizers` library."""

"""Train WordPiece, byte-level BPE or Unigram tokenizers with the `tokenizers` library.

The result is a stock `PreTrainedTokenizerFast` (transformers 5: `TokenizersBackend`): `save_pretrained(dir)` writes
`tokenizer.json` + `tokenizer_config.json`, and `AutoTokenizer.from_pretrained(dir)` loads it back in any process
without Seedformer installed. Every algorithm gets the same shape of pipeline:

    normalizer (NFD + lower-case + strip accents, each optional) -> pre-tokenizer (words) -> subword model
    -> post-processor `CLS A SEP` / `CLS A SEP B SEP` with token_type_ids 0 / 1 -> decoder

so a model pretrained with next-sentence prediction sees segment ids for pairs whichever algorithm made the vocab.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

ALGORITHMS = ("wordpiece", "bpe", "unigram")
MODEL_INPUT_NAMES = ["input_ids", "token_type_ids", "attention_mask"]


@dataclass(frozen=True)
class SpecialTokens:
    """The five special tokens of an MLM tokenizer. Trained first, so their ids are 0..4 in this order."""

    pad: str
    unk: str
    cls: str
    sep: str
    mask: str

    def as_list(self) -> list[str]:
        return [self.pad, self.unk, self.cls, self.sep, self.mask]

    def as_kwargs(self) -> dict[str, str]:
        return dict(
            pad_token=self.pad, unk_token=self.unk, cls_token=self.cls, sep_token=self.sep, mask_token=self.mask
        )


BERT_SPECIAL_TOKENS = SpecialTokens(pad="[PAD]", unk="[UNK]", cls="[CLS]", sep="[SEP]", mask="[MASK]")
# RoBERTa's names for the byte-level BPE vocabulary (bos/cls = <s>, eos/sep = </s>); pad stays id 0 for all three
# algorithms so `config.pad_token_id = 0` is right by default.
BPE_SPECIAL_TOKENS = SpecialTokens(pad="<pad>", unk="<unk>", cls="<s>", sep="</s>", mask="<mask>")


def default_special_tokens(algorithm: str) -> SpecialTokens:
    return BPE_SPECIAL_TOKENS if _check_algorithm(algorithm) == "bpe" else BERT_SPECIAL_TOKENS


def _check_algorithm(algorithm: str) -> str:
    algorithm = algorithm.lower()
    if algorithm not in ALGORITHMS:
        raise ValueError(f"Unknown tokenizer algorithm {algorithm!r}; choose one of {list(ALGORITHMS)}.")
    return algorithm


def _normalizer(algorithm: str, lowercase: bool, strip_accents: bool):
    steps = []
    if algorithm == "wordpiece":
        # BERT's normaliser also removes control characters and pads CJK characters with spaces.
        return normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=strip_accents, lowercase=lowercase
        )
    steps.append(normalizers.NFKC() if not strip_accents else normalizers.NFD())
    if strip_accents:
        steps.append(normalizers.StripAccents())
    if lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps)


def _model_and_trainer(
    algorithm: str, vocab_size: int, min_frequency: int, specials: SpecialTokens, show_progress: bool
):
    special_list = specials.as_list()
    if algorithm == "wordpiece":
        model = models.WordPiece(unk_token=specials.unk, max_input_chars_per_word=100)
        trainer = trainers.WordPieceTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=special_list,
            show_progress=show_progress,
        )
        return model, trainer, pre_tokenizers.BertPreTokenizer(), decoders.WordPiece(prefix="##")
    if algorithm == "bpe":
        model = models.BPE(unk_token=specials.unk)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=special_list,
            # Seed the vocabulary with all 256 bytes: no input can ever produce <unk>.
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=show_progress,
        )
        return model, trainer, pre_tokenizers.ByteLevel(add_prefix_space=True), decoders.ByteLevel()
    model = models.Unigram()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=special_list, unk_token=specials.unk, show_progress=show_progress
    )
    return model, trainer, pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always"), decoders.Metaspace()


def _post_processor(algorithm: str, tokenizer: Tokenizer, specials: SpecialTokens):
    cls_id, sep_id = tokenizer.token_to_id(specials.cls), tokenizer.token_to_id(specials.sep)
    template = processors.TemplateProcessing(
        single=f"{specials.cls} $A {specials.sep}",
        pair=f"{specials.cls} $A {specials.sep} $B:1 {specials.sep}:1",
        special_tokens=[(specials.cls, cls_id), (specials.sep, sep_id)],
    )
    if algorithm == "bpe":
        # ByteLevel(trim_offsets) makes a token's offsets exclude the leading space it carries, so the character
        # spans of " world" start after the space, as for the other algorithms.
        return processors.Sequence([processors.ByteLevel(trim_offsets=True, add_prefix_space=True), template])
    return template


def train_tokenizer(
    texts: Iterable[str],
    algorithm: str = "wordpiece",
    vocab_size: int = 30522,
    min_frequency: int = 2,
    lowercase: bool = True,
    strip_accents: bool | None = None,
    special_tokens: SpecialTokens | None = None,
    model_max_length: int = 512,
    length: int | None = None,
    show_progress: bool = False,
) -> PreTrainedTokenizerFast:
    """Train a subword tokenizer on an iterator of strings and wrap it for transformers.

    Args:
        texts: any iterable of strings (see `iter_texts` for files and `datasets` datasets). Blank strings are skipped.
        algorithm: `"wordpiece"` (BERT), `"bpe"` (byte-level, RoBERTa/GPT-2 style) or `"unigram"` (SentencePiece style).
        vocab_size: target size including the special tokens.
        min_frequency: pairs / words seen fewer times are not merged (WordPiece, BPE).
        lowercase: lower-case the input. strip_accents: remove accents (default: same as `lowercase`, as in BERT).
        special_tokens: defaults to `[PAD] [UNK] [CLS] [SEP] [MASK]` (BPE: `<pad> <unk> <s> </s> <mask>`), ids 0..4.
        model_max_length: the longest input the model will accept (saved in tokenizer_config.json).
        length: number of texts, only for the progress bar.
    """
    if isinstance(texts, (str, bytes)):
        # A bare string is an iterable of characters: the trainer would silently learn a character vocabulary.
        raise TypeError(
            "train_tokenizer expects an iterable of texts (e.g. a list of strings, a generator, `iter_texts(dataset)`), "
            f"not a single {type(texts).__name__}; wrap it in a list: train_tokenizer([text])."
        )
    algorithm = _check_algorithm(algorithm)
    specials = special_tokens or default_special_tokens(algorithm)
    if strip_accents is None:
        strip_accents = lowercase
    if vocab_size <= len(specials.as_list()):
        raise ValueError(
            f"vocab_size={vocab_size} leaves no room beside the {len(specials.as_list())} special tokens."
        )
    if algorithm == "bpe" and vocab_size < 256 + len(specials.as_list()):
        # The byte alphabet is always in the vocabulary; the trainer would silently return a larger one.
        raise ValueError(
            f"byte-level BPE needs vocab_size >= {256 + len(specials.as_list())} (256 bytes + specials), got {vocab_size}."
        )

    model, trainer, pre_tokenizer, decoder = _model_and_trainer(
        algorithm, vocab_size, min_frequency, specials, show_progress
    )
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = _normalizer(algorithm, lowercase, strip_accents)
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoder

    counted = _CountingIterator(t for t in texts if t and not t.isspace())
    tokenizer.train_from_iterator(counted, trainer=trainer, length=length)
    if counted.count == 0:
        raise ValueError("Cannot train a tokenizer on an empty corpus (no non-blank text was given).")
    for token in specials.as_list():
        if tokenizer.token_to_id(token) is None:  # pragma: no cover - trainers always add specials
            raise RuntimeError(f"special token {token!r} missing from the trained vocabulary")
    tokenizer.post_processor = _post_processor(algorithm, tokenizer, specials)

    return wrap_tokenizer(tokenizer, specials, model_max_length)


def wrap_tokenizer(tokenizer: Tokenizer, specials: SpecialTokens, model_max_length: int) -> PreTrainedTokenizerFast:
    """A stock transformers tokenizer around a `tokenizers.Tokenizer`.

    `model_input_names` includes `token_type_ids` (the default list does not, and NSP needs segment ids).
    """
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        model_max_length=model_max_length,
        model_input_names=list(MODEL_INPUT_NAMES),
        **specials.as_kwargs(),
    )


class _CountingIterator(Iterator[str]):
    """Counts what the trainer consumed, to tell an empty corpus from a small one."""

    def __init__(self, iterable: Iterable[str]):
        self._it = iter(iterable)
        self.count = 0

    def __next__(self) -> str:
        value = next(self._it)
        self.count += 1
        return value


def iter_texts(source, text_column: str = "text", batch_size: int = 1000) -> Iterator[str]:
    """Strings from a `datasets.Dataset` / `IterableDataset` (column `text_column`) or any iterable of strings."""
    import datasets

    if isinstance(source, (datasets.Dataset, datasets.IterableDataset)):
        if source.column_names is not None and text_column not in source.column_names:
            raise ValueError(f"Text column {text_column!r} not found; the dataset has columns {source.column_names}.")
        if isinstance(source, datasets.Dataset):
            for start in range(0, len(source), batch_size):
                yield from source[start : start + batch_size][text_column]
        else:
            for row in source:
                yield row[text_column]
        return
    if isinstance(source, str):
        raise TypeError("Pass an iterable of strings, not a single string (for files use `load_corpus`).")
    yield from source

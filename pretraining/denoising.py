"""Denoising objectives for encoder-decoder pretraining, as collators over token blocks.

- `DataCollatorForSpanCorruption` (T5, Raffel et al. 2020): 15% of the tokens, in spans of mean length 3, are cut out
  of the input; each span is replaced by one sentinel token (`<extra_id_0>`, `<extra_id_1>`, ...), and the target is
  the sentinels each followed by the span they replaced, then eos.
- `DataCollatorForTextInfilling` (BART, Lewis et al. 2020): spans with Poisson(3) lengths covering 30% of the tokens
  are each replaced by ONE mask token (a length-0 span inserts a mask); the target is the whole original text + eos.

Both take rows with `input_ids` (special tokens are dropped first, using `special_tokens_mask` when the rows have it,
as the MLM blocks of `pretraining/blocks.py` do) and return padded `input_ids`, `attention_mask`, `labels` (-100 at
padding) and `decoder_input_ids` (the labels shifted right behind the decoder start token), ready for
`SeedformerForConditionalGeneration`.
"""

from __future__ import annotations

import numpy as np
import torch

SENTINEL_TEMPLATE = "<extra_id_{}>"


def add_sentinel_tokens(tokenizer, num_sentinels: int = 100, template: str = SENTINEL_TEMPLATE) -> list[int]:
    """Add T5's sentinel tokens to a tokenizer (idempotent); returns their ids in order. Save the tokenizer after, and
    size the model's vocabulary to `len(tokenizer)`."""
    tokens = [template.format(i) for i in range(num_sentinels)]
    tokenizer.add_tokens([t for t in tokens if t not in tokenizer.get_vocab()], special_tokens=True)
    return tokenizer.convert_tokens_to_ids(tokens)


def sentinel_ids(tokenizer, template: str = SENTINEL_TEMPLATE) -> list[int]:
    """The ids of `<extra_id_0>`, `<extra_id_1>`, ... present in the tokenizer, in order."""
    vocab = tokenizer.get_vocab()
    ids = []
    while template.format(len(ids)) in vocab:
        ids.append(vocab[template.format(len(ids))])
    return ids


def random_spans_noise_mask(
    length: int, noise_density: float, mean_noise_span_length: float, rng: np.random.Generator
) -> np.ndarray:
    """T5's noise mask: a boolean (length,) array with round(length * density) noise tokens in alternating
    non-noise / noise spans (the sequence starts with non-noise), span lengths uniformly partitioned."""
    num_noise = int(round(length * noise_density))
    num_noise = min(max(num_noise, 1), length - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    num_spans = min(num_spans, num_noise, length - num_noise)

    def partition(total: int, parts: int) -> np.ndarray:
        # `parts` positive integers summing to `total`, uniformly at random.
        cuts = (
            np.sort(rng.choice(np.arange(1, total), size=parts - 1, replace=False)) if parts > 1 else np.array([], int)
        )
        return np.diff(np.concatenate([[0], cuts, [total]]))

    noise_lengths = partition(num_noise, num_spans)
    keep_lengths = partition(length - num_noise, num_spans)
    mask = np.zeros(length, dtype=bool)
    position = 0
    for keep, noise in zip(keep_lengths, noise_lengths):
        position += keep
        mask[position : position + noise] = True
        position += noise
    return mask


class _DenoisingCollator:
    """Shared plumbing: special-token stripping, eos, padding, decoder inputs."""

    def __init__(
        self,
        tokenizer,
        decoder_start_token_id: int | None = None,
        max_length: int | None = None,
        seed: int | None = None,
    ):
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id
        self.eos_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
        if decoder_start_token_id is None:
            decoder_start_token_id = (
                tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
            )
        self.start_id = decoder_start_token_id
        if self.pad_id is None or self.eos_id is None or self.start_id is None:
            raise ValueError("Denoising needs a tokenizer with pad, eos (or sep) and bos (or cls) tokens.")
        self.special_ids = set(tokenizer.all_special_ids)
        self.max_length = max_length
        # seed=None: draw from torch's global RNG (seeded and checkpointed by the Trainer) for each batch.
        self.rng = np.random.default_rng(seed) if seed is not None else None

    def _generator(self) -> np.random.Generator:
        return self.rng if self.rng is not None else np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))

    def _tokens(self, row) -> list[int]:
        ids = list(row["input_ids"])
        special = row.get("special_tokens_mask")
        if special is not None:
            ids = [t for t, s in zip(ids, special) if not s]
        else:
            ids = [t for t in ids if t not in self.special_ids]
        mask = row.get("attention_mask")
        return ids if mask is None or special is not None else ids[: sum(mask)]

    def corrupt(self, tokens: list[int], rng: np.random.Generator) -> tuple[list[int], list[int]]:
        raise NotImplementedError

    def __call__(self, rows) -> dict[str, torch.Tensor]:
        rng = self._generator()
        inputs, targets = zip(*(self.corrupt(self._tokens(row), rng) for row in rows))
        if self.max_length is not None:
            inputs = [x[: self.max_length - 1] + [self.eos_id] if len(x) > self.max_length else x for x in inputs]
            targets = [y[: self.max_length - 1] + [self.eos_id] if len(y) > self.max_length else y for y in targets]
        batch_size, src_len, tgt_len = len(inputs), max(map(len, inputs)), max(map(len, targets))
        input_ids = torch.full((batch_size, src_len), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((batch_size, src_len), dtype=torch.long)
        labels = torch.full((batch_size, tgt_len), -100, dtype=torch.long)
        for i, (x, y) in enumerate(zip(inputs, targets)):
            input_ids[i, : len(x)] = torch.tensor(x)
            attention_mask[i, : len(x)] = 1
            labels[i, : len(y)] = torch.tensor(y)
        decoder_input_ids = torch.full_like(labels, self.pad_id)
        decoder_input_ids[:, 0] = self.start_id
        decoder_input_ids[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, self.pad_id)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "decoder_input_ids": decoder_input_ids,
        }


class DataCollatorForSpanCorruption(_DenoisingCollator):
    """T5 span corruption. `sentinel_token_ids` default to the tokenizer's `<extra_id_i>` tokens (see
    `add_sentinel_tokens`); a sequence gets at most that many spans."""

    def __init__(
        self,
        tokenizer,
        noise_density: float = 0.15,
        mean_noise_span_length: float = 3.0,
        sentinel_token_ids: list[int] | None = None,
        **kwargs,
    ):
        super().__init__(tokenizer, **kwargs)
        if not 0 < noise_density < 1:
            raise ValueError(f"noise_density must be in (0, 1), got {noise_density}.")
        if mean_noise_span_length < 1:
            raise ValueError(f"mean_noise_span_length must be >= 1, got {mean_noise_span_length}.")
        self.noise_density, self.mean_noise_span_length = noise_density, mean_noise_span_length
        self.sentinels = list(sentinel_token_ids) if sentinel_token_ids is not None else sentinel_ids(tokenizer)
        if not self.sentinels:
            raise ValueError(
                "Span corruption needs sentinel tokens (<extra_id_0>, <extra_id_1>, ...) in the tokenizer. Add them "
                "with seedformer.pretraining.denoising.add_sentinel_tokens(tokenizer) and save the tokenizer before "
                "building the model (its vocab_size must cover them)."
            )

    def corrupt(self, tokens, rng):
        if len(tokens) < 2:
            return tokens + [self.eos_id], [self.eos_id]
        mask = random_spans_noise_mask(len(tokens), self.noise_density, self.mean_noise_span_length, rng)
        source, target, span = [], [], -1
        for i, (token, noisy) in enumerate(zip(tokens, mask)):
            starts_span = noisy and (i == 0 or not mask[i - 1])
            if starts_span:
                span += 1
            if noisy and span >= len(self.sentinels):
                # More spans than sentinels: keep the rest of the text uncorrupted.
                source.append(token)
                continue
            if starts_span:
                source.append(self.sentinels[span])
                target.append(self.sentinels[span])
            (target if noisy else source).append(token)
        return source + [self.eos_id], target + [self.eos_id]


class DataCollatorForTextInfilling(_DenoisingCollator):
    """BART text infilling: Poisson(`poisson_lambda`) span lengths until `mask_ratio` of the tokens are covered;
    every span (overlapping ones merge) becomes one mask token; zero-length spans insert one."""

    def __init__(self, tokenizer, mask_ratio: float = 0.3, poisson_lambda: float = 3.0, **kwargs):
        super().__init__(tokenizer, **kwargs)
        if tokenizer.mask_token_id is None:
            raise ValueError("Text infilling needs a tokenizer with a mask token.")
        if not 0 < mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}.")
        self.mask_id, self.mask_ratio, self.poisson_lambda = tokenizer.mask_token_id, mask_ratio, poisson_lambda

    def corrupt(self, tokens, rng):
        n = len(tokens)
        target = tokens + [self.eos_id]
        if n == 0:
            return [self.eos_id], target
        masked = np.zeros(n, dtype=bool)
        inserts = np.zeros(n + 1, dtype=bool)
        budget = int(round(n * self.mask_ratio))
        while budget > 0:
            length = int(rng.poisson(self.poisson_lambda))
            start = int(rng.integers(0, n))
            if length == 0:
                inserts[start] = True
                budget -= 1  # an insertion costs one unit, as in BART, so the loop always ends
                continue
            length = min(length, budget, n - start)
            masked[start : start + length] = True
            budget -= length
        source = []
        for i in range(n + 1):
            if inserts[i] and not (source and source[-1] == self.mask_id):
                source.append(self.mask_id)
            if i < n:
                if masked[i]:
                    if not (source and source[-1] == self.mask_id):
                        source.append(self.mask_id)
                else:
                    source.append(tokens[i])
        return source + [self.eos_id], target


# ---------------------------------------------------------------------------------------------------------------------
# Hooks for the pretraining objective registry (`--objective span | infill`, see pretraining/objectives.py)
# ---------------------------------------------------------------------------------------------------------------------
def seq2seq_model_class():
    from ..modeling import SeedformerForConditionalGeneration

    return SeedformerForConditionalGeneration


def set_seq2seq_special_ids(config, tokenizer) -> None:
    """Give a fresh encoder-decoder config the tokenizer's start / end ids (bos or [CLS], eos or [SEP]), unless set,
    so that training (labels shifted right) and `generate()` work on the pretrained checkpoint."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.cls_token_id
    end = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
    if config.decoder_start_token_id is None:
        config.decoder_start_token_id = start
    if config.bos_token_id is None:
        config.bos_token_id = start
    if config.eos_token_id is None:
        config.eos_token_id = end


def build_span_collator(tokenizer, data_args) -> DataCollatorForSpanCorruption:
    return DataCollatorForSpanCorruption(
        tokenizer,
        noise_density=getattr(data_args, "noise_density", 0.15),
        mean_noise_span_length=getattr(data_args, "mean_noise_span_length", 3.0),
    )


def build_infill_collator(tokenizer, data_args) -> DataCollatorForTextInfilling:
    return DataCollatorForTextInfilling(
        tokenizer,
        mask_ratio=getattr(data_args, "infill_mask_ratio", 0.3),
        poisson_lambda=getattr(data_args, "poisson_lambda", 3.0),
    )


__all__ = [
    "build_infill_collator",
    "build_span_collator",
    "seq2seq_model_class",
    "set_seq2seq_special_ids",
    "DataCollatorForSpanCorruption",
    "DataCollatorForTextInfilling",
    "SENTINEL_TEMPLATE",
    "add_sentinel_tokens",
    "random_spans_noise_mask",
    "sentinel_ids",
]

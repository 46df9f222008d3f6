"""The pretraining objectives, as a registry: name -> (model class, dataset builder, collator).

`scripts/pretrain.py --objective NAME` looks the name up here and nothing else in the run depends on which one it is.
A new objective (e.g. the seq2seq `span` / `infill` denoising of `pretraining/denoising.py`) is one
`register_objective(PretrainingObjective(...))` call:

    register_objective(PretrainingObjective(
        name="span",
        description="T5 span corruption",
        model_class=lambda: SeedformerForConditionalGeneration,   # a callable, so imports stay lazy
        build_dataset=build_span_dataset,    # (raw_split, tokenizer, data_args, seed) -> dataset of features
        build_collator=build_span_collator,  # (tokenizer, data_args) -> callable(list[features]) -> batch dict
        config_updates={"is_encoder_decoder": True},
    ))

`data_args` is the `DataArguments` of the run (`pretraining/arguments.py`); builders read the fields they need with
`getattr(data_args, name, default)`, so an objective may use options that the others ignore.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transformers import DataCollatorForLanguageModeling

from . import denoising, electra
from .blocks import build_mlm_blocks
from .collators import BatchSeededMaskingCollator
from .nsp import build_nsp_pairs


@dataclass(frozen=True)
class PretrainingObjective:
    """What one `--objective` means.

    model_class: zero-argument callable returning the model class (`from_config` / `from_pretrained`).
    build_dataset: `(raw_split, tokenizer, data_args, seed) -> dataset` of collator-ready rows.
    build_collator: `(tokenizer, data_args) -> collator`.
    config_updates: set on a freshly built config (e.g. `is_encoder_decoder=True` for seq2seq objectives).
    needs_token_types: the objective feeds segment ids 0/1 (NSP): requires `config.type_vocab_size >= 2`.
    needs_mask_token: the objective needs `tokenizer.mask_token`.
    prepare_config: `(config, tokenizer) -> None`, called on a freshly built config after `config_updates`
        (e.g. to set decoder start / eos ids from the tokenizer).
    export_model: `(trained model) -> model` saved as the run's output when the trained model is only a training
        container (ELECTRA: the generator + discriminator pair -> the discriminator). None: the trained model itself.
    """

    name: str
    description: str
    model_class: Callable[[], type]
    build_dataset: Callable[..., Any]
    build_collator: Callable[..., Any]
    config_updates: dict = field(default_factory=dict)
    needs_token_types: bool = False
    needs_mask_token: bool = True
    prepare_config: Callable[[Any, Any], None] | None = None
    export_model: Callable[[Any], Any] | None = None


OBJECTIVES: dict[str, PretrainingObjective] = {}


def register_objective(objective: PretrainingObjective, overwrite: bool = False) -> PretrainingObjective:
    if objective.name in OBJECTIVES and not overwrite:
        raise ValueError(f"Objective {objective.name!r} is already registered.")
    OBJECTIVES[objective.name] = objective
    return objective


def get_objective(name: str) -> PretrainingObjective:
    if name not in OBJECTIVES:
        raise ValueError(f"Unknown objective {name!r}; registered: {sorted(OBJECTIVES)}.")
    return OBJECTIVES[name]


# ---------------------------------------------------------------------------------------------------------------------
# Builders of the encoder objectives
# ---------------------------------------------------------------------------------------------------------------------
def _mlm_collator(tokenizer, data_args, whole_word: bool = False, replace_probs: tuple[float, float] | None = None):
    # Masks seeded per batch (pretraining/collators.py): a resumed run and repeated evaluations see the same masks.
    # --mask_seed -1 falls back to the stock collator on torch's global RNG.
    mask_seed = getattr(data_args, "mask_seed", 0)
    if mask_seed is None or mask_seed < 0:
        cls, extra = DataCollatorForLanguageModeling, {}
    else:
        cls, extra = BatchSeededMaskingCollator, {"mask_seed": mask_seed}
    if replace_probs is None:
        replace_probs = (
            (1.0, 0.0)
            if whole_word
            else (getattr(data_args, "mask_replace_prob", 0.8), getattr(data_args, "random_replace_prob", 0.1))
        )
    return cls(
        tokenizer,
        mlm_probability=getattr(data_args, "mlm_probability", 0.15),
        mask_replace_prob=replace_probs[0],
        random_replace_prob=replace_probs[1],
        whole_word_mask=whole_word,
        pad_to_multiple_of=getattr(data_args, "pad_to_multiple_of", None),
        **extra,
    )


def _blocks(whole_word: bool):
    def build(raw, tokenizer, data_args, seed=42):
        return build_mlm_blocks(
            raw,
            tokenizer,
            data_args.max_seq_length,
            text_column=data_args.text_column,
            whole_word=whole_word,
            num_proc=getattr(data_args, "preprocessing_num_workers", None),
            load_from_cache_file=not getattr(data_args, "overwrite_cache", False),
        )

    return build


def _nsp_pairs(raw, tokenizer, data_args, seed=42):
    return build_nsp_pairs(
        raw,
        tokenizer,
        data_args.max_seq_length,
        text_column=data_args.text_column,
        short_seq_prob=getattr(data_args, "short_seq_prob", 0.1),
        nsp_probability=getattr(data_args, "nsp_probability", 0.5),
        seed=seed,
        num_proc=getattr(data_args, "preprocessing_num_workers", None),
        load_from_cache_file=not getattr(data_args, "overwrite_cache", False),
    )


def _masked_lm_class():
    from ..modeling import SeedformerForMaskedLM

    return SeedformerForMaskedLM


def _pretraining_class():
    from ..modeling import SeedformerForPreTraining

    return SeedformerForPreTraining


register_objective(
    PretrainingObjective(
        name="mlm",
        description="masked LM on fixed-length blocks of concatenated documents (15% / 80-10-10)",
        model_class=_masked_lm_class,
        build_dataset=_blocks(whole_word=False),
        build_collator=lambda tok, args: _mlm_collator(tok, args, whole_word=False),
    )
)
register_objective(
    PretrainingObjective(
        name="wwm",
        description="masked LM with whole-word masking (all sub-tokens of a word masked together, always [MASK])",
        model_class=_masked_lm_class,
        build_dataset=_blocks(whole_word=True),
        build_collator=lambda tok, args: _mlm_collator(tok, args, whole_word=True),
    )
)
register_objective(
    PretrainingObjective(
        name="mlm_nsp",
        description="BERT: masked LM on document-aware sentence pairs + next-sentence prediction",
        model_class=_pretraining_class,
        build_dataset=_nsp_pairs,
        build_collator=lambda tok, args: _mlm_collator(tok, args, whole_word=False),
        needs_token_types=True,
    )
)

# Encoder-decoder denoising (pretraining/denoising.py): the same blocks, corrupted by the collator; the model is
# `SeedformerForConditionalGeneration`. `span` needs the tokenizer's <extra_id_i> sentinels (add_sentinel_tokens).
register_objective(
    PretrainingObjective(
        name="span",
        description="T5 span corruption (15% noise, mean span 3, sentinel tokens) for an encoder-decoder",
        model_class=denoising.seq2seq_model_class,
        build_dataset=_blocks(whole_word=False),
        build_collator=denoising.build_span_collator,
        config_updates={"is_encoder_decoder": True},
        prepare_config=denoising.set_seq2seq_special_ids,
        needs_mask_token=False,
    )
)
register_objective(
    PretrainingObjective(
        name="infill",
        description="BART text infilling (30% of tokens in Poisson(3) spans, one mask each) for an encoder-decoder",
        model_class=denoising.seq2seq_model_class,
        build_dataset=_blocks(whole_word=False),
        build_collator=denoising.build_infill_collator,
        config_updates={"is_encoder_decoder": True},
        prepare_config=denoising.set_seq2seq_special_ids,
    )
)

# ELECTRA (pretraining/electra.py): MLM blocks masked as ELECTRA does (85% [MASK], 15% kept, no random tokens: the
# generator supplies the replacements); the run saves only the discriminator.
register_objective(
    PretrainingObjective(
        name="electra",
        description="ELECTRA replaced-token detection: a 1/4-wide MLM generator + the discriminator, trained jointly",
        model_class=electra.electra_model_class,
        build_dataset=_blocks(whole_word=False),
        build_collator=lambda tok, args: _mlm_collator(tok, args, replace_probs=(0.85, 0.0)),
        prepare_config=electra.prepare_electra_config,
        export_model=electra.export_discriminator,
    )
)

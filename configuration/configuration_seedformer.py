"""Seedformer configuration: one dataclass for the encoder and the optional decoder.

Field names follow BERT (`hidden_size`, `num_hidden_layers`, ...) wherever the concept exists, and BART for the
decoder sizes (`decoder_layers`, ...), because transformers 5 sizes its generation caches from those names.

Invalid values and wrong types (a string or float for a size, anything but a bool for a switch, NaN for a float)
raise at construction (and again on `save_pretrained`). Like every transformers 5 config, the
error type is `huggingface_hub.errors.StrictDataclassError` (re-exported as `seedformer.ConfigValidationError`);
its `__cause__` is a `ValueError` whose message names the field and the allowed values.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import ClassVar

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

POSITION_EMBEDDING_TYPES = ("absolute", "sinusoidal", "rope")
NORM_POSITIONS = ("post", "pre")
NORM_TYPES = ("layer_norm", "rms_norm")
# Gated activations double the width of the first feed-forward projection (GLU variants).
GATED_ACTIVATIONS = {"geglu": "gelu", "swiglu": "silu"}
# When the encoder drops padding and runs on packed real tokens (see `modeling/padding.py`).
UNPADDED_EXECUTION = ("auto", "always", "never")
CLASSIFIER_POOLING = ("cls", "mean")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu", "silu", *GATED_ACTIVATIONS)


def resolve_field_types(cls):
    """Turn the string annotations of `cls`'s own fields back into types, so that `@strict` checks them.

    `from __future__ import annotations` stores every annotation as a string, and `@strict` silently skips string
    types: without this, `sparse_prediction="false"` (a truthy string) or `hidden_size=64.0` would pass unchecked.
    Apply it under `@strict`. Only fields declared on `cls` itself are resolved: the base class's fields keep the
    (unchecked) behaviour every transformers config has.
    """
    own = cls.__dict__.get("__annotations__", {})
    # A stand-in class holding only these annotations, so that typing resolves them in this module's namespace
    # without touching the base class's (some of those name `torch`, which its module imports lazily).
    hints = typing.get_type_hints(type("OwnFields", (), {"__annotations__": dict(own), "__module__": cls.__module__}))
    for field in dataclasses.fields(cls):
        if field.name in hints and isinstance(field.type, str):
            field.type = hints[field.name]
    return cls


@strict
@resolve_field_types
class SeedformerConfig(PreTrainedConfig):
    r"""Configuration of a Seedformer encoder (and optional decoder).

    The defaults are BERT-base, and a BERT checkpoint converted with `seedformer.convert_bert_checkpoint` reproduces
    BERT's numbers. Two named starting points:

    - `SeedformerConfig.bert_like(**overrides)`: post-norm, learned absolute positions, GELU, biases (the default).
    - `SeedformerConfig.modern(**overrides)`: pre-norm, rotary positions, gated (GeGLU) feed-forward, no biases,
      RMSNorm, as in ModernBERT / LLaMA-style encoders.

    Switches beyond BERT's fields:
        position_embedding_type: `"absolute"` (learned), `"sinusoidal"` (fixed) or `"rope"` (rotary).
        rope_parameters: for `"rope"`, transformers' RoPE dict: `{"rope_type": "default", "rope_theta": 10000.0}`, or a
            scaling type (`linear`, `dynamic`, `yarn`, `longrope`, `llama3`) with its fields, e.g.
            `{"rope_type": "linear", "factor": 2.0}`. `rope_theta` alone (configs saved before this field) fills it;
            the two always hold the same theta.
        norm_position: `"post"` (BERT: norm after each residual add) or `"pre"` (norm before each sub-block and a
            final norm after the last layer).
        norm_type: `"layer_norm"` or `"rms_norm"`.
        hidden_act: `gelu`, `gelu_new`, `gelu_pytorch_tanh`, `relu`, `silu`, or the gated `geglu` / `swiglu`.
        attention_bias / mlp_bias / norm_bias: biases of the attention projections, feed-forward projections, norms.
        sparse_prediction: the masked-LM heads run their transform and vocabulary projection only on positions
            whose label is not -100 (pretraining speed; logits are then returned for those positions only). On the
            unpadded path the last encoder layer then also computes queries, attention output and feed-forward only
            for those tokens (keys and values still for all), as MosaicBERT does; loss and gradients are unchanged.
        unpadded_execution: `"auto"` (default) removes padding after the embeddings and runs the encoder on the
            packed real tokens when >= 10% of the batch is padding, or whenever sparse MLM prediction has labels;
            `"always"` packs even unpadded batches; `"never"` keeps
            the padded (B, L) path. Requests for `output_attentions` / `output_hidden_states`, 4-D masks,
            `flex_attention` and `torch.compile` tracing always take the padded path. Padded positions of `last_hidden_state` are 0 in
            the unpadded path (they are meaningless in either path); real positions match within float tolerance.
        classifier_pooling: what the sequence-classification and multiple-choice heads pool before BERT's pooler
            (dense + tanh): `"cls"` (BERT) the first real token, `"mean"` (ModernBERT's option) the mean of the real
            tokens' final states. An encoder pretrained with MLM alone never trains [CLS]; on IMDB after a short
            CPU pretraining, mean pooling finetunes better (docs/pretrain_study/).
        is_encoder_decoder: add a decoder (`decoder_layers`, `decoder_attention_heads`, `decoder_ffn_dim`; each
            defaults to the encoder's value) for sequence-to-sequence generation.
        position_offset / scale_embedding: BART compatibility (learned positions start at index 2; embeddings are
            multiplied by sqrt(hidden_size)).
    """

    model_type: ClassVar[str] = "seedformer"
    keys_to_ignore_at_inference: ClassVar[list[str]] = ["past_key_values", "cache"]
    # No tensor-parallel plan (`base_model_tp_plan`): the fused q|k|v projection and the gated gate|up projection
    # would need packed splits per head and per half, the decoder and the tied LM head entries of their own, and none
    # of it can be run here. A plan that splits across q|k|v silently computes wrong attention; `tp_plan="auto"`
    # therefore refuses this model rather than guess. Data parallelism (DDP, FSDP) needs no plan.

    # --- BERT fields -------------------------------------------------------------------------------------------
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.1
    attention_probs_dropout_prob: float | int = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    classifier_dropout: float | int | None = None
    classifier_pooling: str = "cls"
    pad_token_id: int | None = 0
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    tie_word_embeddings: bool = True

    # --- architecture switches ---------------------------------------------------------------------------------
    position_embedding_type: str = "absolute"
    rope_theta: float | int = 10000.0
    rope_parameters: dict | None = None
    norm_position: str = "post"
    norm_type: str = "layer_norm"
    attention_bias: bool = True
    mlp_bias: bool = True
    norm_bias: bool = True
    sparse_prediction: bool = False
    unpadded_execution: str = "auto"

    # --- optional decoder (BART names) -------------------------------------------------------------------------
    is_encoder_decoder: bool = False
    decoder_layers: int | None = None
    decoder_attention_heads: int | None = None
    decoder_ffn_dim: int | None = None
    decoder_start_token_id: int | None = None
    use_cache: bool = True
    position_offset: int = 0
    scale_embedding: bool = False

    def __post_init__(self, **kwargs):
        if self.decoder_layers is None:
            self.decoder_layers = self.num_hidden_layers
        if self.decoder_attention_heads is None:
            self.decoder_attention_heads = self.num_attention_heads
        if self.decoder_ffn_dim is None:
            self.decoder_ffn_dim = self.intermediate_size
        # transformers standardises `rope_parameters` here (from `rope_theta` when absent, or a legacy `rope_scaling`).
        super().__post_init__(**kwargs)
        if self.position_embedding_type == "rope":
            self.rope_theta = self.rope_parameters[
                "rope_theta"
            ]  # one theta: `rope_parameters` wins when both are given
        else:
            self.rope_parameters = None  # nothing rotates: keep config.json free of an unused RoPE dict

    # ------------------------------------------------------------------------------------------------------------
    # Presets
    # ------------------------------------------------------------------------------------------------------------
    @classmethod
    def bert_like(cls, **overrides) -> SeedformerConfig:
        """BERT-compatible: post-norm LayerNorm, learned absolute positions, GELU, biases everywhere."""
        defaults = dict(
            position_embedding_type="absolute",
            norm_position="post",
            norm_type="layer_norm",
            hidden_act="gelu",
            attention_bias=True,
            mlp_bias=True,
            norm_bias=True,
            layer_norm_eps=1e-12,
        )
        return cls(**{**defaults, **overrides})

    @classmethod
    def modern(cls, **overrides) -> SeedformerConfig:
        """Modern encoder: pre-norm RMSNorm, rotary positions, GeGLU feed-forward, no biases, sparse MLM head."""
        defaults = dict(
            position_embedding_type="rope",
            norm_position="pre",
            norm_type="rms_norm",
            hidden_act="geglu",
            attention_bias=False,
            mlp_bias=False,
            norm_bias=False,
            layer_norm_eps=1e-6,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            max_position_embeddings=8192,
            sparse_prediction=True,
        )
        return cls(**{**defaults, **overrides})

    @classmethod
    def cpu_small(cls, **overrides) -> SeedformerConfig:
        """The `modern` encoder at the shape of the `cpu_small` pretraining recipe (`seedformer.pretraining.recipes`):
        128 wide, 4 layers, 4 heads of 32, GeGLU width 256 (0.68 M parameters besides the embeddings). Sized for
        minutes-to-hours of pretraining on a few CPU cores (throughput: the README's pretraining study)."""
        defaults = dict(
            hidden_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            intermediate_size=256,
            max_position_embeddings=512,
        )
        return cls.modern(**{**defaults, **overrides})

    # ------------------------------------------------------------------------------------------------------------
    # Derived values
    # ------------------------------------------------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        # transformers' own `validate_architecture` reads `head_dim` before our validators run: name the field
        # here rather than fail with a ZeroDivisionError.
        if self.num_attention_heads <= 0:
            raise ValueError(f"`num_attention_heads` must be a positive integer, got {self.num_attention_heads}.")
        return self.hidden_size // self.num_attention_heads

    @property
    def is_gated_act(self) -> bool:
        return self.hidden_act in GATED_ACTIVATIONS

    @property
    def base_act(self) -> str:
        """The element-wise activation (the gate's, for GLU variants); also used by the MLM head transform."""
        return GATED_ACTIVATIONS.get(self.hidden_act, self.hidden_act)

    # ------------------------------------------------------------------------------------------------------------
    # Validation (run by @strict at construction and by save_pretrained)
    # ------------------------------------------------------------------------------------------------------------
    def validate_sizes(self):
        for name in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "decoder_layers",
            "decoder_attention_heads",
            "decoder_ffn_dim",
        ):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"`{name}` must be a positive integer, got {value}.")
        if self.type_vocab_size < 0:
            raise ValueError(
                f"`type_vocab_size` must be >= 0 (0 disables segment embeddings), got {self.type_vocab_size}."
            )
        for name, heads in (
            ("num_attention_heads", self.num_attention_heads),
            ("decoder_attention_heads", self.decoder_attention_heads),
        ):
            if self.hidden_size % heads != 0:
                raise ValueError(f"`hidden_size` ({self.hidden_size}) must be divisible by `{name}` ({heads}).")
        if self.position_embedding_type == "rope" and self.head_dim % 2:
            raise ValueError(
                f"rotary positions need an even `head_dim` (hidden_size / num_attention_heads), got {self.head_dim}."
            )
        # Written as `not (x > 0)` / isfinite so that NaN (which fails every comparison) is rejected too.
        for name in ("layer_norm_eps", "rope_theta"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"`{name}` must be a finite number > 0, got {value}.")
        if not (self.initializer_range >= 0 and math.isfinite(self.initializer_range)):
            raise ValueError(f"`initializer_range` must be a finite number >= 0, got {self.initializer_range}.")
        if self.position_offset < 0:
            raise ValueError(f"`position_offset` must be >= 0, got {self.position_offset}.")

    def validate_rope(self):
        # transformers' own check raises a bare KeyError for a missing key (`linear` without `factor`), which escapes
        # the validation error every other field gives; re-raise it as one, naming the field.
        try:
            super().validate_rope()
        except KeyError as error:
            raise ValueError(f"`rope_parameters`: {error.args[0]}") from error

    def validate_rope_parameters(self):
        # `rope_parameters` is what the model reads; a `rope_theta` changed on a built config would be silently
        # ignored, so a disagreement is an error (transformers' own `validate_rope` checks the dict's fields).
        if self.position_embedding_type != "rope" or not self.rope_parameters:
            return  # none (a config switched to rope after construction): the model uses `rope_theta`, default type
        # transformers only logs an unknown `rope_type`; the model would fail later, at the first forward
        rope_type = self.rope_parameters.get("rope_type", "default")
        if rope_type != "default" and rope_type not in ROPE_INIT_FUNCTIONS:
            raise ValueError(
                f"`rope_parameters['rope_type']` must be one of {['default', *ROPE_INIT_FUNCTIONS]}, got {rope_type!r}."
            )
        theta = self.rope_parameters.get("rope_theta")
        if theta != self.rope_theta:
            raise ValueError(
                f"`rope_theta` ({self.rope_theta}) and `rope_parameters['rope_theta']` ({theta}) disagree; set the "
                "theta in `rope_parameters` (the model reads it there), or set both."
            )

    def validate_choices(self):
        for name, allowed in (
            ("position_embedding_type", POSITION_EMBEDDING_TYPES),
            ("norm_position", NORM_POSITIONS),
            ("norm_type", NORM_TYPES),
            ("hidden_act", ACTIVATIONS),
            ("unpadded_execution", UNPADDED_EXECUTION),
            ("classifier_pooling", CLASSIFIER_POOLING),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"`{name}` must be one of {list(allowed)}, got {value!r}.")

    def validate_dropouts(self):
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
            value = getattr(self, name)
            if value is not None and not 0 <= value < 1:
                raise ValueError(f"`{name}` must be in [0, 1), got {value}.")

    def validate_decoder(self):
        # One rotary table (sized by the encoder's head dim) serves both stacks.
        if (
            self.is_encoder_decoder
            and self.position_embedding_type == "rope"
            and self.decoder_attention_heads != self.num_attention_heads
        ):
            raise ValueError(
                f"rotary positions need `decoder_attention_heads` ({self.decoder_attention_heads}) equal to "
                f"`num_attention_heads` ({self.num_attention_heads})."
            )

    def validate_special_tokens(self):
        # BertConfig only warns here (transformers' `validate_token_ids`); an out-of-vocabulary id fails later inside
        # the embedding or `generate()`, so Seedformer refuses it up front. `eos_token_id` may be a list of ids.
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(self, name)
            for token_id in value if isinstance(value, list) else [value]:
                if token_id is not None and not 0 <= token_id < self.vocab_size:
                    raise ValueError(f"`{name}` ({value}) must be in [0, vocab_size={self.vocab_size}).")


__all__ = ["SeedformerConfig"]

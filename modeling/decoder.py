"""The optional decoder: causal self-attention, cross-attention over the encoder output, feed-forward.

The decoder reuses the encoder's building blocks (`SeedformerSelfAttention` with a KV cache,
`SeedformerCrossAttention` whose keys and values of the encoder output are computed once per generation,
`SeedformerFeedForward`, the pre/post-norm `SeedformerResidualLayer`, `SeedformerEmbeddings`), so every norm,
activation and position option of the config applies to it unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.cache_utils import DynamicCache, EncoderDecoderCache
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask
from transformers.modeling_outputs import BaseModelOutputWithPastAndCrossAttentions
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import merge_with_config_defaults
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from ..configuration.configuration_seedformer import SeedformerConfig
from .attention import SeedformerCrossAttention, SeedformerSelfAttention
from .embeddings import SeedformerEmbeddings, SeedformerRotaryEmbedding
from .layers import SeedformerFeedForward, SeedformerResidualLayer
from .modeling_seedformer import SeedformerPreTrainedModel, check_inputs
from .norms import make_norm

# transformers 5.24 renamed the generation cache from `past_key_values` to `cache`: generate() passes `cache=` and
# the output classes name the field `cache`. Seedformer takes the new name and still accepts the old one, on every
# transformers version it supports (older generate() passes `past_key_values=`).
CACHE_FIELD = (
    "cache" if "cache" in BaseModelOutputWithPastAndCrossAttentions.__dataclass_fields__ else "past_key_values"
)


def resolve_cache(cache: EncoderDecoderCache | None, kwargs: dict) -> EncoderDecoderCache | None:
    """The cache passed as `cache` or under its old name `past_key_values` (removed from `kwargs`)."""
    legacy = kwargs.pop("past_key_values", None)
    if legacy is not None and cache is not None and legacy is not cache:
        raise ValueError("Pass the generation cache once, as `cache` (`past_key_values` is its old name).")
    return cache if cache is not None else legacy


class SeedformerDecoderLayer(SeedformerResidualLayer):
    """Causal self-attention, cross-attention over the encoder output, feed-forward; each a residual sub-block."""

    def __init__(self, config: SeedformerConfig, layer_idx: int):
        super().__init__(config)
        heads = config.decoder_attention_heads
        self.self_attn = SeedformerSelfAttention(config, layer_idx=layer_idx, is_causal=True, num_heads=heads)
        self.self_attn_norm = make_norm(config)
        self.cross_attn = SeedformerCrossAttention(config, layer_idx=layer_idx, num_heads=heads)
        self.cross_attn_norm = make_norm(config)
        self.feed_forward = SeedformerFeedForward(config, intermediate_size=config.decoder_ffn_dim)
        self.ffn_norm = make_norm(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> torch.Tensor:
        """hidden_states (B, Lt, hidden), encoder_hidden_states (B, Ls, hidden) -> (B, Lt, hidden)."""
        hidden_states = self.residual(
            hidden_states,
            self.self_attn_norm,
            lambda x: self.self_attn(x, attention_mask, position_embeddings, past_key_values, **kwargs)[0],
        )
        hidden_states = self.residual(
            hidden_states,
            self.cross_attn_norm,
            lambda x: self.cross_attn(x, encoder_hidden_states, encoder_attention_mask, past_key_values, **kwargs)[0],
        )
        return self.residual(hidden_states, self.ffn_norm, self.feed_forward)


class SeedformerDecoder(SeedformerPreTrainedModel):
    """`SeedformerEmbeddings` (word embeddings tied to the encoder's by the seq2seq models), `SeedformerDecoderLayer`s,
    final norm (pre-norm).

    A `PreTrainedModel` of its own, as BART's decoder is, so that `capture_outputs` records the decoder's hidden
    states / self-attentions / cross-attentions separately from the encoder's.
    """

    _no_split_modules = ["SeedformerEmbeddings", "SeedformerDecoderLayer"]
    _can_record_outputs = {
        "hidden_states": SeedformerDecoderLayer,
        "attentions": OutputRecorder(SeedformerSelfAttention, index=1, layer_name="self_attn"),
        "cross_attentions": OutputRecorder(SeedformerCrossAttention, index=1, layer_name="cross_attn"),
    }

    def __init__(self, config: SeedformerConfig):
        super().__init__(config)
        self.embeddings = SeedformerEmbeddings(config)
        # Targets have no segments: no token-type embedding in the decoder.
        self.embeddings.token_type_embeddings = None
        self.rotary_emb = SeedformerRotaryEmbedding(config) if config.position_embedding_type == "rope" else None
        self.layers = nn.ModuleList(
            [SeedformerDecoderLayer(config, layer_idx=i) for i in range(config.decoder_layers)]
        )
        self.final_norm = make_norm(config) if config.norm_position == "pre" else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def _check_position_limit(self, seq_len: int, past_length: int | torch.Tensor) -> None:
        """Learned / sinusoidal tables end at max_position_embeddings; rotary positions have no table to run out of.

        `past_length` is a tensor with a static cache. Under torch.compile a Python `if` on it would break the graph,
        so the check becomes an assert inside the graph (an opaque error, but the compiled graph stays whole); in
        eager it is the clear `ValueError` below."""
        limit = self.config.max_position_embeddings
        if self.config.position_embedding_type == "rope":
            return
        if torch.compiler.is_compiling():
            if isinstance(past_length, torch.Tensor):
                torch._assert_async(past_length + seq_len <= limit, "decoder positions beyond max_position_embeddings")
            return
        if past_length + seq_len > limit:
            raise ValueError(
                f"The decoder reached position {past_length + seq_len}, beyond `max_position_embeddings` ({limit}): "
                f"{past_length} cached + {seq_len} new target positions. Lower `max_new_tokens` / `max_length` for "
                f"generate() (at most {limit} target tokens including the decoder start token), or truncate the labels."
            )

    @merge_with_config_defaults
    @capture_outputs
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        """input_ids (B, Lt) target prefix; encoder_hidden_states (B, Ls, hidden); attention masks (B, Lt[+past]) /
        (B, Ls) with 1 = attend. -> last_hidden_state (B, Lt, hidden), the cache (when `use_cache`)."""
        cache = resolve_cache(cache, kwargs)
        if encoder_hidden_states is None:
            raise ValueError("The decoder attends over the encoder output: pass `encoder_hidden_states`.")
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache(config=self.config))
        if cache is not None and not isinstance(cache, EncoderDecoderCache):
            raise ValueError(
                f"`cache` must be an `EncoderDecoderCache` (self- and cross-attention), got {type(cache).__name__}."
            )
        # A static cache (compiled generation) counts its length in a tensor: `past_length` is then one.
        past_length = cache.get_seq_length() if cache is not None else 0
        traced_length = torch.compiler.is_compiling() and isinstance(past_length, torch.Tensor)
        if isinstance(past_length, torch.Tensor) and not traced_length:
            past_length = int(past_length)  # eager: the checks below need the number
        source = input_ids if input_ids is not None else inputs_embeds
        if source is not None:
            self._check_position_limit(source.shape[1], past_length)
        # Value checks (one host sync) only on the uncached call: during generate() the later steps feed back ids
        # that the model's own vocabulary projection produced, and a sync per generated token would stall the GPU.
        # A traced cache length is unknown to Python: the shape checks that need it are skipped (positions are
        # asserted above).
        check_inputs(
            self.config,
            input_ids,
            inputs_embeds,
            attention_mask if not traced_length else None,
            None,
            None,
            0 if traced_length else past_length,
            check_values=not traced_length and past_length == 0,
        )
        batch_size, seq_len = source.shape[:2]
        position_ids = (torch.arange(seq_len, device=source.device) + past_length).unsqueeze(0)

        hidden_states = self.embeddings(input_ids, position_ids, None, inputs_embeds)
        if attention_mask is None and not traced_length:
            attention_mask = torch.ones(
                batch_size, past_length + seq_len, device=hidden_states.device, dtype=torch.long
            )
        # The cache argument is passed by position: its keyword changed name in transformers 5.24.
        causal_mask = create_causal_mask(
            self.config,
            hidden_states,
            attention_mask,
            cache.self_attention_cache if cache is not None else None,
        )
        cross_mask = create_bidirectional_mask(
            config=self.config,
            inputs_embeds=hidden_states,
            attention_mask=encoder_attention_mask,
            encoder_hidden_states=encoder_hidden_states,
        )
        position_embeddings = self.rotary_emb(hidden_states, position_ids) if self.rotary_emb is not None else None

        for layer in self.layers:
            hidden_states = layer(
                hidden_states,
                causal_mask,
                encoder_hidden_states,
                cross_mask,
                position_embeddings,
                past_key_values=cache,
                **kwargs,
            )
        if self.final_norm is not None:
            hidden_states = self.final_norm(hidden_states)
        return BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states, **{CACHE_FIELD: cache if use_cache else None}
        )


__all__ = ["CACHE_FIELD", "SeedformerDecoderLayer", "SeedformerDecoder", "resolve_cache"]

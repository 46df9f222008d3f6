"""Transformer blocks: the feed-forward network and the encoder layer."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs

from .attention import SeedformerSelfAttention
from .norms import make_norm
from .padding import PackedSequences, QuerySubset


class SeedformerFeedForward(nn.Module):
    """up-projection, activation (optionally gated: GeGLU / SwiGLU), down-projection."""

    def __init__(self, config, intermediate_size: int | None = None):
        super().__init__()
        intermediate_size = intermediate_size or config.intermediate_size
        self.gated = config.is_gated_act
        self.up_proj = nn.Linear(
            config.hidden_size, intermediate_size * (2 if self.gated else 1), bias=config.mlp_bias
        )
        self.act = ACT2FN[config.base_act]
        self.down_proj = nn.Linear(intermediate_size, config.hidden_size, bias=config.mlp_bias)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(..., hidden) -> (..., hidden)."""
        hidden_states = self.up_proj(hidden_states)
        if self.gated:
            gate, up = hidden_states.chunk(2, dim=-1)
            hidden_states = self.act(gate) * up
        else:
            hidden_states = self.act(hidden_states)
        return self.down_proj(hidden_states)


class SeedformerResidualLayer(GradientCheckpointingLayer):
    """Base of encoder and decoder layers: wraps each sub-block in dropout + residual + norm.

    Post-norm (BERT): `norm(x + dropout(f(x)))`. Pre-norm: `x + dropout(f(norm(x)))`.
    """

    def __init__(self, config):
        super().__init__()
        self.pre_norm = config.norm_position == "pre"
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def residual(
        self, hidden_states: torch.Tensor, norm: nn.Module, sublayer: Callable, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`rows` (N,): the sublayer returns only these rows of the (1, T, hidden) input, so the skip keeps them too."""
        skip = hidden_states if rows is None else hidden_states.index_select(1, rows)
        if self.pre_norm:
            return skip + self.dropout(sublayer(norm(hidden_states)))
        return norm(skip + self.dropout(sublayer(hidden_states)))


class SeedformerEncoderLayer(SeedformerResidualLayer):
    """Bidirectional self-attention then feed-forward, each a residual sub-block."""

    def __init__(self, config, layer_idx: int | None = None):
        super().__init__(config)
        self.attention = SeedformerSelfAttention(config, layer_idx=layer_idx, is_causal=False)
        self.attention_norm = make_norm(config)
        self.feed_forward = SeedformerFeedForward(config)
        self.ffn_norm = make_norm(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        packed: PackedSequences | None = None,
        query_subset: QuerySubset | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> torch.Tensor:
        """hidden_states (B, L, hidden) -> (B, L, hidden).

        packed: unpadded execution: hidden_states is (1, T, hidden), the real tokens of B sequences back to back, and
            `attention_mask` is None (each token attends within its own sequence).
        query_subset: with `packed`, the last layer of sparse MLM: only these N tokens get an output, (1, N, hidden),
            so their queries, attention output and feed-forward are all this layer computes beyond keys and values.
        """
        hidden_states = self.residual(
            hidden_states,
            self.attention_norm,
            lambda x: self.attention(
                x, attention_mask, position_embeddings, packed=packed, query_subset=query_subset, **kwargs
            )[0],
            rows=None if query_subset is None else query_subset.index,
        )
        return self.residual(hidden_states, self.ffn_norm, self.feed_forward)

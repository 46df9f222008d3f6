"""Multi-head attention: self-attention (bidirectional or causal, with KV cache) and cross-attention.

Every kernel call goes through transformers' attention interface (`ALL_ATTENTION_FUNCTIONS`), so
`attn_implementation="eager" | "sdpa" | "flex_attention" | "flash_attention_2"` all select the same module.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from transformers.cache_utils import Cache, EncoderDecoderCache
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs

from .padding import PackedSequences, QuerySubset


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Unpack[TransformersKwargs],
) -> tuple[torch.Tensor, torch.Tensor]:
    """q (B, H, Lq, D), k/v (B, H, Lk, D), additive mask broadcastable to (B, H, Lq, Lk) -> (B, Lq, H, D), weights."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            attention_mask = torch.where(attention_mask, 0.0, torch.finfo(weights.dtype).min).to(weights.dtype)
        weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate queries or keys x (B, H, L, D) by the angles cos/sin (B or 1, L, D)."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (x * cos) + (rotate_half(x) * sin)


class SeedformerAttentionBase(nn.Module):
    """Shared plumbing: head geometry, output projection and the attention-interface call."""

    def __init__(self, config, num_heads: int, layer_idx: int | None, is_causal: bool):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = config.hidden_size // num_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_probs_dropout_prob
        self.layer_idx = layer_idx
        # Read by transformers' sdpa/flash wrappers: without it sdpa silently turns causal on unpadded batches.
        self.is_causal = is_causal
        self.out_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, H*D) -> (B, H, L, D)."""
        return x.view(*x.shape[:-1], self.num_heads, self.head_dim).transpose(1, 2)

    def _attend(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        packed: PackedSequences | None = None,
        query_subset: QuerySubset | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """q/k/v (B, H, L, D) -> out_proj(attention) (B, L, hidden), weights or None.

        packed: unpadded execution: B == 1 and the L axis holds several sequences back to back; each token attends
            only within its own sequence (`attention_mask` is then None).
        query_subset: with `packed`, q holds only these rows of each sequence (the sparse last layer).
        """
        interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        dropout = self.dropout if self.training else 0.0
        if packed is None:
            output, weights = interface(
                self, query, key, value, attention_mask, dropout=dropout, scaling=self.scaling, **kwargs
            )
        else:
            output, weights = self._attend_packed(
                interface, query, key, value, packed, query_subset, dropout, **kwargs
            )
        output = output.reshape(*output.shape[:-2], output.shape[-2] * output.shape[-1])  # explicit: may hold 0 rows
        return self.out_proj(output), weights

    def _attend_packed(
        self,
        interface,
        query,
        key,
        value,
        packed: PackedSequences,
        queries: QuerySubset | None,
        dropout: float,
        **kwargs: Unpack[TransformersKwargs],
    ):
        """Attention over packed sequences: k/v (1, H, T, D), q (1, H, T or N, D) -> (1, T or N, H, D), None.

        With `queries`, q holds only the selected rows of each sequence (N of them), which attend to all of it.
        flash-attention (GPU) runs all sequences in one varlen kernel from `cu_seqlens`. Every other kernel is
        called once per run of equal-length sequences on views of the packed tensors: on CPU the fastest exact route
        of those compared in the README's benchmark section (one padded sdpa call, length buckets, nested/jagged
        tensors), and it keeps any registered attention function exact without a mask.
        """
        if self.config._attn_implementation.startswith("flash_attention") and query.is_cuda:
            return interface(
                self,
                query,
                key,
                value,
                None,
                dropout=dropout,
                scaling=self.scaling,
                **packed.attention_kwargs(queries),
                **kwargs,
            )
        # sdpa is called directly: its output (count, H, length, D) is then transposed by the one `cat` copy below
        # instead of by transformers' wrapper as well (one copy of the attention output fewer per layer).
        direct_sdpa = self.config._attn_implementation == "sdpa" and not kwargs.get("output_attentions")

        runs = packed.attention_runs(queries)
        # One `split` per tensor, not a slice per run: a slice's backward writes into a zero-filled copy of the whole
        # tensor, which made the backward quadratic in the number of runs.
        q_runs = query.split([q_length * count for q_length, _, count in runs], dim=2)
        k_runs, v_runs = (t.split([k_length * count for _, k_length, count in runs], dim=2) for t in (key, value))
        outputs = []
        for (q_length, _, count), q, k, v in zip(runs, q_runs, k_runs, v_runs):
            if not q_length:  # an all-padding row, or a sequence with no selected query, has no output row
                continue
            # `count` consecutive sequences of equal length: (1, H, count * length, D) -> (count, H, length, D) views.
            q, k, v = (t.unflatten(2, (count, -1)).transpose(0, 2).squeeze(2) for t in (q, k, v))
            if direct_sdpa:
                out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=self.scaling).transpose(1, 2)
            else:
                out = interface(self, q, k, v, None, dropout=dropout, scaling=self.scaling, **kwargs)[0]
            outputs.append(out.reshape(1, q_length * count, *out.shape[2:]) if count == 1 else out.flatten(0, 1)[None])
        if not outputs:  # no sequence has a selected query (sparse MLM on a batch without a masked token)
            return query.new_zeros(1, 0, *query.shape[1:2], query.shape[-1]), None
        return (outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)), None


class SeedformerSelfAttention(SeedformerAttentionBase):
    """Self-attention with one fused QKV projection; causal (with a KV cache) when used in the decoder."""

    def __init__(self, config, layer_idx: int | None = None, is_causal: bool = False, num_heads: int | None = None):
        super().__init__(config, num_heads or config.num_attention_heads, layer_idx, is_causal)
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size, bias=config.attention_bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        past_key_values: Cache | None = None,
        packed: PackedSequences | None = None,
        query_subset: QuerySubset | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """hidden_states (B, L, hidden) -> output (B, L, hidden), attention weights (B, H, L, L) or None.

        packed / query_subset: see `_attend`. With `query_subset` (B == 1): output (1, N, hidden) for the N selected
        rows only; keys and values still come from every token.
        """
        queries = query_subset
        if queries is None:
            query, key, value = (self._split_heads(t) for t in self.qkv(hidden_states).chunk(3, dim=-1))
        else:
            # Queries only where an output is needed; keys and values still come from every token.
            sizes = [self.config.hidden_size, 2 * self.config.hidden_size]
            q_weight, kv_weight = self.qkv.weight.split(sizes)
            q_bias, kv_bias = (None, None) if self.qkv.bias is None else self.qkv.bias.split(sizes)
            query = self._split_heads(F.linear(hidden_states.index_select(1, queries.index), q_weight, q_bias))
            key, value = (self._split_heads(t) for t in F.linear(hidden_states, kv_weight, kv_bias).chunk(2, dim=-1))
        if position_embeddings is not None:
            cos, sin = position_embeddings
            if queries is None:
                query = apply_rotary(query, cos, sin)
            else:
                query = apply_rotary(query, cos.index_select(1, queries.index), sin.index_select(1, queries.index))
            key = apply_rotary(key, cos, sin)
        if past_key_values is not None:
            cache = (
                past_key_values.self_attention_cache
                if isinstance(past_key_values, EncoderDecoderCache)
                else past_key_values
            )
            key, value = cache.update(key, value, self.layer_idx)
        return self._attend(query, key, value, attention_mask, packed=packed, query_subset=queries, **kwargs)


class SeedformerCrossAttention(SeedformerAttentionBase):
    """Decoder-to-encoder attention. Keys/values of the encoder output are computed once per generation and cached."""

    def __init__(self, config, layer_idx: int | None = None, num_heads: int | None = None):
        super().__init__(config, num_heads or config.num_attention_heads, layer_idx, is_causal=False)
        self.q_proj = nn.Linear(config.hidden_size, config.hidden_size, bias=config.attention_bias)
        self.kv_proj = nn.Linear(config.hidden_size, 2 * config.hidden_size, bias=config.attention_bias)

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        past_key_values: EncoderDecoderCache | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """hidden_states (B, Lq, hidden), encoder_hidden_states (B, Lk, hidden) -> (B, Lq, hidden), weights."""
        query = self._split_heads(self.q_proj(hidden_states))
        if past_key_values is not None and past_key_values.is_updated.get(self.layer_idx):
            layer_cache = past_key_values.cross_attention_cache.layers[self.layer_idx]
            key, value = layer_cache.keys, layer_cache.values
        else:
            key, value = (self._split_heads(t) for t in self.kv_proj(encoder_hidden_states).chunk(2, dim=-1))
            if past_key_values is not None:
                key, value = past_key_values.cross_attention_cache.update(key, value, self.layer_idx)
                past_key_values.is_updated[self.layer_idx] = True
        return self._attend(query, key, value, attention_mask, **kwargs)

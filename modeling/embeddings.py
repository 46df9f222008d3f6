"""Input embeddings: tokens, segments and positions (learned, sinusoidal or rotary)."""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS, dynamic_rope_update

from .norms import make_norm


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """The fixed table of "Attention Is All You Need": sin on even channels, cos on odd ones. Shape (P, dim)."""
    position = torch.arange(num_positions, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term[: dim // 2])
    return table


class SeedformerEmbeddings(nn.Module):
    """word + segment + absolute position embeddings, then norm and dropout.

    With `position_embedding_type="rope"` no position is added here: the attention rotates queries and keys.
    """

    def __init__(self, config):
        super().__init__()
        self.position_embedding_type = config.position_embedding_type
        self.position_offset = config.position_offset
        self.embed_scale = math.sqrt(config.hidden_size) if config.scale_embedding else 1.0
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = (
            nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size > 0 else None
        )
        num_positions = config.max_position_embeddings + config.position_offset
        if self.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(num_positions, config.hidden_size)
        elif self.position_embedding_type == "sinusoidal":
            self.register_buffer(
                "sinusoidal_positions", sinusoidal_table(num_positions, config.hidden_size), persistent=False
            )
        self.norm = make_norm(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: torch.LongTensor | None,
        position_ids: torch.LongTensor,
        token_type_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """ids (B, L) or embeds (B, L, H); position_ids (B or 1, L) -> (B, L, H)."""
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        embeddings = inputs_embeds * self.embed_scale
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros(embeddings.shape[:-1], dtype=torch.long, device=embeddings.device)
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.position_embedding_type == "absolute":
            embeddings = embeddings + self.position_embeddings(position_ids + self.position_offset)
        elif self.position_embedding_type == "sinusoidal":
            embeddings = embeddings + self.sinusoidal_positions[position_ids + self.position_offset].to(
                embeddings.dtype
            )
        return self.dropout(self.norm(embeddings))


class SeedformerRotaryEmbedding(nn.Module):
    """cos/sin tables for rotary positions (RoFormer), computed once per forward and shared by every layer.

    The frequencies come from `config.rope_parameters` through transformers' `ROPE_INIT_FUNCTIONS`, so every RoPE
    type transformers knows (`default`, and the scalings `linear`, `dynamic`, `yarn`, `longrope`, `llama3`) works as in
    its own models; `rope_theta` alone (configs saved before `rope_parameters`) means the default type.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        # Read by transformers' `dynamic_rope_update` (the dynamic and longrope types).
        self.max_seq_len_cached = self.original_max_seq_len = config.max_position_embeddings
        # A config switched to rope after construction has no `rope_parameters`: the default type with `rope_theta`.
        self.rope_type = (config.rope_parameters or {}).get("rope_type", "default")
        rope_init_fn = (
            self.compute_default_rope_parameters
            if self.rope_type == "default"
            else ROPE_INIT_FUNCTIONS[self.rope_type]
        )
        inv_freq, self.attention_scaling = rope_init_fn(config)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        # transformers' `_init_weights` and `dynamic_rope_update` restore / rescale from this copy.
        self.register_buffer("original_inv_freq", inv_freq.clone(), persistent=False)

    @staticmethod
    def compute_default_rope_parameters(config, device=None, **kwargs) -> tuple[torch.Tensor, float]:
        """Plain RoPE: (head_dim / 2,) inverse frequencies from `rope_theta`, and a cos/sin scale of 1.0. (The name is
        the one transformers' `_init_weights` looks up.)"""
        theta, head_dim = (config.rope_parameters or {}).get("rope_theta", config.rope_theta), config.head_dim
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32, device=device) / head_dim))
        return inv_freq, 1.0

    @torch.no_grad()
    @dynamic_rope_update
    def forward(self, x: torch.Tensor, position_ids: torch.LongTensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: any tensor of the compute dtype; position_ids (B or 1, L) -> cos, sin of shape (B or 1, L, head_dim)."""
        freqs = position_ids[..., None].float() * self.inv_freq
        angles = torch.cat((freqs, freqs), dim=-1)
        cos, sin = angles.cos(), angles.sin()
        if self.attention_scaling != 1.0:
            cos, sin = cos * self.attention_scaling, sin * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)

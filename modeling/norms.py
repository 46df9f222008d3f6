"""Normalisation layers chosen by `config.norm_type`."""

from __future__ import annotations

from torch import nn


def make_norm(config) -> nn.Module:
    """LayerNorm (BERT) or RMSNorm over the hidden size, with the config's epsilon and bias switch."""
    if config.norm_type == "rms_norm":
        return nn.RMSNorm(config.hidden_size, eps=config.layer_norm_eps)
    return nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, bias=config.norm_bias)

"""Import a transformers BART checkpoint (BartForConditionalGeneration or BartModel) into Seedformer.

The BART-compatible Seedformer setting computes exactly what BART computes: learned positions with BART's offset of 2
(`position_offset=2`), post-norm LayerNorm (eps 1e-5) after every residual, a LayerNorm on the embeddings
(`layernorm_embedding`), GELU, biases everywhere, `scale_embedding` as in the source, no token types, the LM head tied
to the shared embeddings plus the `final_logits_bias` buffer. Only the parameter layout differs: query/key/value of
self-attention are fused into one `qkv`, key/value of cross-attention into `kv_proj`.

BART's `activation_dropout` (dropout inside the feed-forward) and `encoder/decoder_layerdrop` have no Seedformer
equivalent; they only matter for training and are reported by `convert_bart_checkpoint`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..configuration import SeedformerConfig
from ..modeling import SeedformerForConditionalGeneration
from .bert import ConversionReport, _copy_tokenizer, _load_bert_weights

# BART config field -> Seedformer field.
_CONFIG_RENAMES = {
    "vocab_size": "vocab_size",
    "d_model": "hidden_size",
    "encoder_layers": "num_hidden_layers",
    "encoder_attention_heads": "num_attention_heads",
    "encoder_ffn_dim": "intermediate_size",
    "decoder_layers": "decoder_layers",
    "decoder_attention_heads": "decoder_attention_heads",
    "decoder_ffn_dim": "decoder_ffn_dim",
    "activation_function": "hidden_act",
    "dropout": "hidden_dropout_prob",
    "attention_dropout": "attention_probs_dropout_prob",
    "max_position_embeddings": "max_position_embeddings",
    "init_std": "initializer_range",
    "classifier_dropout": "classifier_dropout",
    "scale_embedding": "scale_embedding",
    "pad_token_id": "pad_token_id",
    "bos_token_id": "bos_token_id",
    "eos_token_id": "eos_token_id",
    "decoder_start_token_id": "decoder_start_token_id",
    "tie_word_embeddings": "tie_word_embeddings",
    "id2label": "id2label",
    "label2id": "label2id",
}
BART_POSITION_OFFSET = 2
# Fields that change training only; a non-zero value is reported, not converted.
_TRAINING_ONLY = ("activation_dropout", "encoder_layerdrop", "decoder_layerdrop")


def seedformer_config_from_bart(bart_config: dict) -> SeedformerConfig:
    """Map a BART `config.json` dict to the BART-compatible Seedformer config."""
    model_type = bart_config.get("model_type", "bart")
    if model_type != "bart":
        # mBART / PLBart / Marian differ (pre-norm with final norms, sinusoidal positions, ...).
        raise ValueError(f"Only BART checkpoints convert exactly, got model_type {model_type!r}.")
    kwargs = {new: bart_config[old] for old, new in _CONFIG_RENAMES.items() if bart_config.get(old) is not None}
    if "id2label" in kwargs:
        kwargs["id2label"] = {int(k): v for k, v in kwargs["id2label"].items()}
    return SeedformerConfig(
        **kwargs,
        is_encoder_decoder=True,
        position_embedding_type="absolute",
        position_offset=BART_POSITION_OFFSET,
        norm_position="post",
        norm_type="layer_norm",
        layer_norm_eps=1e-5,  # nn.LayerNorm's default, which BART uses
        attention_bias=True,
        mlp_bias=True,
        norm_bias=True,
        type_vocab_size=0,
    )


def _fuse(state: dict[str, torch.Tensor], prefix: str, names: tuple[str, ...], suffix: str) -> torch.Tensor:
    return torch.cat([state[f"{prefix}{name}_proj.{suffix}"] for name in names], dim=0)


def convert_bart_state_dict(bart_state: dict[str, torch.Tensor], config: SeedformerConfig) -> dict[str, torch.Tensor]:
    """Rename BART parameters to Seedformer's seq2seq layout, fusing q/k/v (self) and k/v (cross) projections."""
    state = {k.removeprefix("model."): v for k, v in bart_state.items()}
    shared = state.get("shared.weight", state.get("encoder.embed_tokens.weight"))
    if shared is None:
        raise ValueError("The BART checkpoint has no shared token embeddings (`model.shared.weight`).")
    out = {
        "seedformer.embeddings.word_embeddings.weight": state.get("encoder.embed_tokens.weight", shared),
        "decoder.embeddings.word_embeddings.weight": state.get("decoder.embed_tokens.weight", shared),
        "lm_head.weight": state.get("lm_head.weight", shared),
    }
    if "final_logits_bias" in state:
        out["final_logits_bias"] = state["final_logits_bias"]
    for side, dst in (("encoder", "seedformer."), ("decoder", "decoder.")):
        out[f"{dst}embeddings.position_embeddings.weight"] = state[f"{side}.embed_positions.weight"]
        for suffix in ("weight", "bias"):
            out[f"{dst}embeddings.norm.{suffix}"] = state[f"{side}.layernorm_embedding.{suffix}"]
    for i in range(config.num_hidden_layers):
        src, dst = f"encoder.layers.{i}.", f"seedformer.layers.{i}."
        for suffix in ("weight", "bias"):
            out[f"{dst}attention.qkv.{suffix}"] = _fuse(state, f"{src}self_attn.", ("q", "k", "v"), suffix)
            for old, new in (
                ("self_attn.out_proj", "attention.out_proj"),
                ("self_attn_layer_norm", "attention_norm"),
                ("fc1", "feed_forward.up_proj"),
                ("fc2", "feed_forward.down_proj"),
                ("final_layer_norm", "ffn_norm"),
            ):
                out[f"{dst}{new}.{suffix}"] = state[f"{src}{old}.{suffix}"]
    for i in range(config.decoder_layers):
        src, dst = f"decoder.layers.{i}.", f"decoder.layers.{i}."
        for suffix in ("weight", "bias"):
            out[f"{dst}self_attn.qkv.{suffix}"] = _fuse(state, f"{src}self_attn.", ("q", "k", "v"), suffix)
            out[f"{dst}cross_attn.kv_proj.{suffix}"] = _fuse(state, f"{src}encoder_attn.", ("k", "v"), suffix)
            for old, new in (
                ("self_attn.out_proj", "self_attn.out_proj"),
                ("self_attn_layer_norm", "self_attn_norm"),
                ("encoder_attn.q_proj", "cross_attn.q_proj"),
                ("encoder_attn.out_proj", "cross_attn.out_proj"),
                ("encoder_attn_layer_norm", "cross_attn_norm"),
                ("fc1", "feed_forward.up_proj"),
                ("fc2", "feed_forward.down_proj"),
                ("final_layer_norm", "ffn_norm"),
            ):
                out[f"{dst}{new}.{suffix}"] = state[f"{src}{old}.{suffix}"]
    return out


def convert_bart_checkpoint(src: str | Path, dst: str | Path, allow_pickle: bool = False) -> ConversionReport:
    """Convert the BART checkpoint folder `src` (config, weights, generation config, tokenizer) into `dst`.

    The result is a `SeedformerForConditionalGeneration` folder that `AutoModelForSeq2SeqLM` loads; its encoder states,
    logits and generated tokens equal BART's.
    """
    from transformers import GenerationConfig

    src, dst = Path(src), Path(dst)
    bart_config = json.loads((src / "config.json").read_text())
    config = seedformer_config_from_bart(bart_config)
    bart_state = _load_bert_weights(src, allow_pickle)
    state = convert_bart_state_dict(bart_state, config)

    model = SeedformerForConditionalGeneration(config)
    expected = set(model.state_dict())
    unknown = set(state) - expected
    if unknown:
        raise ValueError(f"Unexpected parameters after conversion: {sorted(unknown)}")
    missing = expected - set(state) - {"final_logits_bias"}
    if missing:
        raise ValueError(f"The source lacks parameters the converted model needs: {sorted(missing)}")
    model.load_state_dict(state, strict=False)
    if (src / "generation_config.json").exists():
        # forced_bos/eos, beam defaults, no_repeat_ngram_size... : generation must behave as BART's.
        model.generation_config = GenerationConfig.from_pretrained(src)
    model.save_pretrained(dst)
    _copy_tokenizer(src, dst, config.max_position_embeddings)

    report = ConversionReport(type(model).__name__)
    report.carried_over = ["encoder", "decoder", "lm_head" if "lm_head.weight" in bart_state else "lm_head (tied)"]
    if "final_logits_bias" in state:
        report.carried_over.append("final_logits_bias")
    report.missing = [
        f"{name}={bart_config[name]} (training only, not converted)"
        for name in _TRAINING_ONLY
        if bart_config.get(name)
    ]
    return report


__all__ = ["BART_POSITION_OFFSET", "convert_bart_checkpoint", "convert_bart_state_dict", "seedformer_config_from_bart"]

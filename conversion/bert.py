"""Import a transformers BERT checkpoint (BertModel, BertForMaskedLM or BertForPreTraining) into Seedformer.

The BERT-compatible Seedformer setting (post-norm LayerNorm, learned absolute positions, GELU, biases) computes
exactly what BERT computes; only the parameter layout differs (query/key/value are fused into one `qkv`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from ..configuration import SeedformerConfig
from ..modeling import SeedformerForMaskedLM, SeedformerForPreTraining, SeedformerModel

# BERT config fields that carry over under the same name.
_SHARED_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "max_position_embeddings",
    "type_vocab_size",
    "initializer_range",
    "layer_norm_eps",
    "pad_token_id",
    "classifier_dropout",
    "id2label",
    "label2id",
)

# Per-layer renames (BERT name -> Seedformer name); query/key/value are fused separately.
_LAYER_RENAMES = {
    "attention.output.dense": "attention.out_proj",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "feed_forward.up_proj",
    "output.dense": "feed_forward.down_proj",
    "output.LayerNorm": "ffn_norm",
}
_TOP_RENAMES = {
    "embeddings.word_embeddings": "seedformer.embeddings.word_embeddings",
    "embeddings.position_embeddings": "seedformer.embeddings.position_embeddings",
    "embeddings.token_type_embeddings": "seedformer.embeddings.token_type_embeddings",
    "embeddings.LayerNorm": "seedformer.embeddings.norm",
    "pooler.dense": "seedformer.pooler.dense",
    "cls.predictions.transform.dense": "mlm_head.dense",
    "cls.predictions.transform.LayerNorm": "mlm_head.norm",
    "cls.seq_relationship": "nsp_head",
}


@dataclass
class ConversionReport:
    """What a conversion carried over and what the source did not have (those heads would load randomly)."""

    model_class: str
    carried_over: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"saved as {self.model_class}", f"carried over: {', '.join(self.carried_over) or 'nothing'}"]
        if self.missing:
            lines.append(
                "NOT in the source (randomly initialised if a head that needs them is loaded): "
                + ", ".join(self.missing)
            )
        return "\n".join(lines)


def seedformer_config_from_bert(bert_config: dict) -> SeedformerConfig:
    """Map a BERT `config.json` dict to the BERT-compatible Seedformer config."""
    position_type = bert_config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ValueError(
            f"Only BERT checkpoints with absolute positions can be imported exactly, got {position_type!r}."
        )
    if bert_config.get("is_decoder") or bert_config.get("add_cross_attention"):
        raise ValueError(
            "This is a BERT decoder checkpoint (is_decoder / add_cross_attention); only encoders convert."
        )
    kwargs = {name: bert_config[name] for name in _SHARED_FIELDS if bert_config.get(name) is not None}
    if "id2label" in kwargs:
        kwargs["id2label"] = {int(k): v for k, v in kwargs["id2label"].items()}
    return SeedformerConfig.bert_like(**kwargs)


def _normalise_key(key: str) -> str:
    key = re.sub(r"\.gamma$", ".weight", key)
    key = re.sub(r"\.beta$", ".bias", key)
    return key[len("bert.") :] if key.startswith("bert.") else key


def convert_bert_state_dict(bert_state: dict[str, torch.Tensor], num_layers: int) -> dict[str, torch.Tensor]:
    """Rename BERT parameters to Seedformer's layout and fuse each layer's query/key/value into `qkv`."""
    state = {_normalise_key(k): v for k, v in bert_state.items()}
    out: dict[str, torch.Tensor] = {}
    for old, new in _TOP_RENAMES.items():
        for suffix in ("weight", "bias"):
            if f"{old}.{suffix}" in state:
                out[f"{new}.{suffix}"] = state[f"{old}.{suffix}"]
    mlm_bias = state.get("cls.predictions.bias", state.get("cls.predictions.decoder.bias"))
    if mlm_bias is not None:
        out["mlm_head.decoder.bias"] = mlm_bias
    for i in range(num_layers):
        src, dst = f"encoder.layer.{i}.", f"seedformer.layers.{i}."
        for suffix in ("weight", "bias"):
            out[f"{dst}attention.qkv.{suffix}"] = torch.cat(
                [state[f"{src}attention.self.{name}.{suffix}"] for name in ("query", "key", "value")], dim=0
            )
            for old, new in _LAYER_RENAMES.items():
                out[f"{dst}{new}.{suffix}"] = state[f"{src}{old}.{suffix}"]
    return out


def _load_bert_weights(src: Path, allow_pickle: bool) -> dict[str, torch.Tensor]:
    single, index = src / "model.safetensors", src / "model.safetensors.index.json"
    if single.exists():
        return load_file(single)
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in load_file(src / shard).items()}
    if (src / "pytorch_model.bin").exists():
        if not allow_pickle:
            raise ValueError(
                f"{src} only has pytorch_model.bin, a pickle that can run arbitrary code when loaded. Re-save it as "
                "safetensors, or pass allow_pickle=True (--allow_pickle) if you trust its origin."
            )
        return torch.load(src / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"No model.safetensors (or sharded index) in {src}.")


def convert_bert_checkpoint(src: str | Path, dst: str | Path, allow_pickle: bool = False) -> ConversionReport:
    """Convert the BERT checkpoint folder `src` (config, weights, tokenizer) into a Seedformer folder `dst`.

    The saved class follows what the source holds: MLM + NSP heads -> `SeedformerForPreTraining`, MLM only ->
    `SeedformerForMaskedLM`, neither -> `SeedformerModel`. Any `AutoModel*` can then load `dst`.
    """
    src, dst = Path(src), Path(dst)
    bert_config = json.loads((src / "config.json").read_text())
    if bert_config.get("model_type", "bert") != "bert":
        raise ValueError(f"{src} holds a {bert_config.get('model_type')!r} checkpoint, not BERT.")
    config = seedformer_config_from_bert(bert_config)
    state = convert_bert_state_dict(_load_bert_weights(src, allow_pickle), config.num_hidden_layers)

    has = {
        "pooler": "seedformer.pooler.dense.weight" in state,
        "mlm_head": "mlm_head.dense.weight" in state,
        "nsp_head": "nsp_head.weight" in state,
    }
    if has["mlm_head"] and has["nsp_head"]:
        model = SeedformerForPreTraining(config)
    elif has["mlm_head"]:
        model = SeedformerForMaskedLM(config)
    else:
        model = SeedformerModel(config, add_pooling_layer=has["pooler"])
        state = {k.removeprefix("seedformer."): v for k, v in state.items() if k.startswith("seedformer.")}
    expected = set(model.state_dict())
    tied = {"mlm_head.decoder.weight"}
    unknown = set(state) - expected
    if unknown:
        raise ValueError(f"Unexpected parameters after conversion: {sorted(unknown)}")
    missing = expected - set(state) - tied
    if missing:
        raise ValueError(f"The source lacks parameters the converted model needs: {sorted(missing)}")
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    model.save_pretrained(dst)
    _copy_tokenizer(src, dst, config.max_position_embeddings)

    report = ConversionReport(type(model).__name__)
    for name, present in has.items():
        (report.carried_over if present else report.missing).append(name)
    return report


def _copy_tokenizer(src: Path, dst: Path, max_length: int) -> None:
    from transformers import AutoTokenizer

    if not any((src / f).exists() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        return
    tokenizer = AutoTokenizer.from_pretrained(src)
    if tokenizer.model_max_length > max_length:
        tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(dst)

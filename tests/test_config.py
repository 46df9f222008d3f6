import json

import pytest
from conftest import tiny_config
from huggingface_hub.errors import StrictDataclassError
from transformers import AutoConfig

import seedformer
from seedformer import SeedformerConfig


def test_defaults_are_bert_base():
    config = SeedformerConfig()
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (768, 12, 12)
    assert (config.position_embedding_type, config.norm_position, config.hidden_act) == ("absolute", "post", "gelu")
    assert config.tie_word_embeddings is True
    assert config.model_type == "seedformer"


def test_presets():
    bert = SeedformerConfig.bert_like(hidden_size=64, num_attention_heads=4)
    assert (bert.norm_position, bert.position_embedding_type, bert.attention_bias) == ("post", "absolute", True)
    modern = SeedformerConfig.modern(hidden_size=64, num_attention_heads=4)
    assert (modern.norm_position, modern.position_embedding_type, modern.hidden_act) == ("pre", "rope", "geglu")
    assert (modern.attention_bias, modern.mlp_bias, modern.norm_type) == (False, False, "rms_norm")
    assert modern.is_gated_act and modern.base_act == "gelu"
    # overrides win over the preset
    assert SeedformerConfig.modern(hidden_act="swiglu").base_act == "silu"


def test_save_load_round_trip(tmp_path):
    config = SeedformerConfig.modern(hidden_size=64, num_attention_heads=4, id2label={0: "neg", 1: "pos"})
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is SeedformerConfig
    ignore = {"_name_or_path"}
    assert {k: v for k, v in loaded.to_dict().items() if k not in ignore} == {
        k: v for k, v in config.to_dict().items() if k not in ignore
    }
    assert SeedformerConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "seedformer" and saved["position_embedding_type"] == "rope"


def test_decoder_sizes_default_to_encoder():
    config = tiny_config()
    assert (config.decoder_layers, config.decoder_attention_heads, config.decoder_ffn_dim) == (2, 4, 37)


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(hidden_size=30, num_attention_heads=4), "hidden_size"),
        (dict(hidden_act="tanhh"), "hidden_act"),
        (dict(position_embedding_type="alibi"), "position_embedding_type"),
        (dict(norm_position="middle"), "norm_position"),
        (dict(norm_type="batch_norm"), "norm_type"),
        (dict(num_hidden_layers=0), "num_hidden_layers"),
        (dict(vocab_size=-5), "vocab_size"),
        (dict(intermediate_size=0), "intermediate_size"),
        (dict(hidden_dropout_prob=1.0), "hidden_dropout_prob"),
        (dict(attention_probs_dropout_prob=-0.1), "attention_probs_dropout_prob"),
        (dict(classifier_dropout=1.5), "classifier_dropout"),
        (dict(layer_norm_eps=0.0), "layer_norm_eps"),
        (dict(pad_token_id=500), "pad_token_id"),
        (dict(type_vocab_size=-1), "type_vocab_size"),
        (dict(position_embedding_type="rope", hidden_size=36, num_attention_heads=4), "head_dim"),  # odd: 9
    ],
)
def test_invalid_values_name_the_field(overrides, field):
    with pytest.raises(StrictDataclassError) as excinfo:
        tiny_config(**overrides)
    message = str(excinfo.value) + str(excinfo.value.__cause__)
    assert field in message
    assert isinstance(excinfo.value.__cause__, ValueError)
    assert seedformer.ConfigValidationError is StrictDataclassError


def test_allowed_values_are_listed():
    with pytest.raises(StrictDataclassError) as excinfo:
        tiny_config(hidden_act="tanhh")
    assert "swiglu" in str(excinfo.value.__cause__)


def test_wrong_type_rejected():
    with pytest.raises(StrictDataclassError):
        tiny_config(hidden_size="64")


def test_invalid_value_caught_on_save(tmp_path):
    config = tiny_config()
    config.norm_position = "sideways"  # type is fine, value is not: validated again on save
    with pytest.raises(StrictDataclassError):
        config.save_pretrained(tmp_path)


NAN = float("nan")
# (overrides, field named in the error, does transformers' BertConfig reject the same value?)
BAD_VALUES = [
    (dict(sparse_prediction="false"), "sparse_prediction", None),  # a truthy string: used to turn sparse MLM on
    (dict(is_encoder_decoder="false"), "is_encoder_decoder", False),  # BertConfig inherits it unchecked
    (dict(tie_word_embeddings="false"), "tie_word_embeddings", True),
    (dict(use_cache=1), "use_cache", True),
    (dict(attention_bias=0), "attention_bias", None),
    (dict(scale_embedding="yes"), "scale_embedding", None),
    (dict(hidden_size=64.0, num_attention_heads=4), "hidden_size", True),
    (dict(num_hidden_layers="2"), "num_hidden_layers", True),
    (dict(intermediate_size=37.5), "intermediate_size", True),
    (dict(vocab_size=True), "vocab_size", True),
    (dict(max_position_embeddings=None), "max_position_embeddings", True),
    (dict(decoder_layers=1.0), "decoder_layers", None),
    (dict(pad_token_id="0"), "pad_token_id", True),
    (dict(hidden_act=None), "hidden_act", True),
    (dict(layer_norm_eps=NAN), "layer_norm_eps", False),
    (dict(layer_norm_eps="1e-12"), "layer_norm_eps", True),
    (dict(rope_theta=NAN), "rope_theta", None),
    (dict(rope_theta=float("inf")), "rope_theta", None),
    # transformers only logs an unknown type; the model used to fail at its first forward
    (
        dict(position_embedding_type="rope", rope_parameters={"rope_type": "bogus", "rope_theta": 1e4}),
        "rope_type",
        None,
    ),
    # a known type without its required key: transformers' own check raises a bare KeyError
    (dict(position_embedding_type="rope", rope_parameters={"rope_type": "linear"}), "factor", None),
    (dict(initializer_range=NAN), "initializer_range", False),
    (dict(hidden_dropout_prob=NAN), "hidden_dropout_prob", False),
    (dict(eos_token_id=99), "eos_token_id", False),  # BertConfig only warns
    (dict(eos_token_id=[3, -1]), "eos_token_id", False),
    (dict(bos_token_id=-1), "bos_token_id", False),
    (dict(num_attention_heads=0), "num_attention_heads", False),  # BertConfig accepts it; we used to ZeroDivisionError
    (dict(num_attention_heads=-4), "num_attention_heads", False),
]


@pytest.mark.parametrize("overrides, field, bert_rejects", BAD_VALUES, ids=[str(o) for o, _, _ in BAD_VALUES])
def test_bad_types_and_values_name_the_field(overrides, field, bert_rejects):
    with pytest.raises(StrictDataclassError) as excinfo:
        tiny_config(**overrides)
    assert f"{field}" in str(excinfo.value) + str(excinfo.value.__cause__)
    assert isinstance(excinfo.value.__cause__, (TypeError, ValueError))
    if bert_rejects is not None:  # the comparison stated in the table, checked against the installed BertConfig
        from transformers import BertConfig

        bert_kwargs = {"vocab_size": 99, "hidden_size": 32, "num_attention_heads": 4, **overrides}
        try:
            BertConfig(**bert_kwargs)
            rejected = False
        except StrictDataclassError:
            rejected = True
        assert rejected is bert_rejects


def test_json_config_with_a_string_boolean_is_refused(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["sparse_prediction"] = "false"
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(StrictDataclassError, match="sparse_prediction"):
        AutoConfig.from_pretrained(tmp_path)


def test_good_values_of_every_allowed_type_still_load():
    config = tiny_config(hidden_dropout_prob=0, rope_theta=10000, eos_token_id=[1, 2], layer_norm_eps=1e-6)
    assert config.eos_token_id == [1, 2] and config.rope_theta == 10000


def test_rope_parameters_from_rope_theta_and_old_configs_still_load(tmp_path):
    """transformers 5's `rope_parameters`; `rope_theta` alone (configs saved before the field) still fills it."""
    config = SeedformerConfig.modern(hidden_size=64, num_attention_heads=4, rope_theta=500000.0)
    assert config.rope_parameters == {"rope_type": "default", "rope_theta": 500000.0}
    config.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["rope_parameters"]["rope_theta"] == data["rope_theta"] == 500000.0
    del data["rope_parameters"]  # a config.json written before the field existed
    (tmp_path / "config.json").write_text(json.dumps(data))
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert loaded.rope_parameters == {"rope_type": "default", "rope_theta": 500000.0} and loaded.rope_theta == 500000.0
    scaled = SeedformerConfig.modern(rope_parameters={"rope_type": "linear", "factor": 2.0})
    assert scaled.rope_parameters == {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}
    assert SeedformerConfig().rope_parameters is None  # no rotary positions, no RoPE dict


def test_a_stale_rope_theta_is_refused():
    """The model reads `rope_parameters`: a `rope_theta` changed on a built config would be ignored silently."""
    config = SeedformerConfig.modern(hidden_size=64, num_attention_heads=4)
    config.rope_theta = 5.0
    with pytest.raises(StrictDataclassError) as excinfo:
        config.validate()
    assert "rope_parameters" in str(excinfo.value.__cause__)


def test_a_config_switched_to_rope_after_construction_uses_rope_theta():
    import torch

    from seedformer import SeedformerModel

    config = tiny_config(rope_theta=100.0)
    config.position_embedding_type = "rope"  # as `--config_overrides` does on a loaded config
    config.validate()
    model = SeedformerModel(config)
    expected = 1.0 / (100.0 ** (torch.arange(0, config.head_dim, 2).float() / config.head_dim))
    torch.testing.assert_close(model.rotary_emb.inv_freq, expected)

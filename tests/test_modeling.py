"""Behaviour of the encoder backbone and every encoder head, on tiny configs."""

import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import tiny_config
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForMultipleChoice,
    AutoModelForNextSentencePrediction,
    AutoModelForPreTraining,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

import seedformer
from seedformer import (
    SeedformerForMaskedLM,
    SeedformerForMultipleChoice,
    SeedformerForNextSentencePrediction,
    SeedformerForPreTraining,
    SeedformerForQuestionAnswering,
    SeedformerForSequenceClassification,
    SeedformerForTokenClassification,
    SeedformerModel,
)
from seedformer.modeling import SeedformerForReplacedTokenDetection

VARIANTS = {
    "bert_like": {},
    "modern": dict(
        position_embedding_type="rope",
        norm_position="pre",
        norm_type="rms_norm",
        hidden_act="geglu",
        attention_bias=False,
        mlp_bias=False,
        norm_bias=False,
    ),
    "sinusoidal_swiglu": dict(position_embedding_type="sinusoidal", hidden_act="swiglu", norm_position="pre"),
}

B, L, C = 3, 10, 2


def make_batch(config, batch=B, length=L, seed=0):
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, config.vocab_size, (batch, length), generator=g)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    attention_mask[1, length - 3 :] = 0
    attention_mask[2, length - 6 :] = 0
    input_ids[attention_mask == 0] = config.pad_token_id
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, length // 2 :] = 1
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def head_labels(cls, config, batch):
    ids = batch["input_ids"]
    if cls is SeedformerForMaskedLM:
        return dict(labels=torch.where(torch.rand(ids.shape) < 0.3, ids, -100))
    if cls is SeedformerForPreTraining:
        return dict(
            labels=torch.where(torch.rand(ids.shape) < 0.3, ids, -100), next_sentence_label=torch.tensor([0, 1, 0])
        )
    if cls in (SeedformerForNextSentencePrediction, SeedformerForSequenceClassification):
        return dict(labels=torch.tensor([0, 1, 1]))
    if cls is SeedformerForTokenClassification:
        labels = torch.randint(0, config.num_labels, ids.shape)
        return dict(labels=labels.masked_fill(batch["attention_mask"] == 0, -100))
    if cls is SeedformerForQuestionAnswering:
        return dict(start_positions=torch.tensor([1, 2, 0]), end_positions=torch.tensor([3, 4, 0]))
    raise AssertionError(cls)


HEADS = [
    SeedformerForMaskedLM,
    SeedformerForPreTraining,
    SeedformerForNextSentencePrediction,
    SeedformerForSequenceClassification,
    SeedformerForTokenClassification,
    SeedformerForQuestionAnswering,
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_head_forward_loss_and_gradients(cls, variant):
    config = tiny_config(**VARIANTS[variant])
    model = cls(config)
    batch = make_batch(config)
    out = model(**batch, **head_labels(cls, config, batch))
    assert out.loss is not None and torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if p.requires_grad and "pooler" not in n]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_multiple_choice(variant):
    config = tiny_config(**VARIANTS[variant])
    model = SeedformerForMultipleChoice(config)
    batch = {k: v.unsqueeze(0).expand(2, *v.shape).contiguous() for k, v in make_batch(config).items()}  # (2, 3, L)
    out = model(**batch, labels=torch.tensor([0, 2]))
    assert out.logits.shape == (2, 3)
    out.loss.backward()
    with pytest.raises(ValueError, match="num_choices"):
        model(input_ids=batch["input_ids"][0])


def test_output_shapes_and_options():
    config = tiny_config()
    model = AutoModel.from_config(config, attn_implementation="eager").eval()
    batch = make_batch(config)
    out = model(**batch, output_hidden_states=True, output_attentions=True)
    assert out.last_hidden_state.shape == (B, L, config.hidden_size)
    assert out.pooler_output.shape == (B, config.hidden_size)
    assert len(out.hidden_states) == config.num_hidden_layers + 1
    assert len(out.attentions) == config.num_hidden_layers and out.attentions[0].shape == (B, 4, L, L)
    # padded keys get no attention
    assert out.attentions[0][2, :, :, L - 6 :].abs().max() == 0
    # Padding positions carry no meaning (the unpadded path returns zeros there): compare real tokens only.
    real = batch["attention_mask"].bool()
    as_tuple = model(**batch, return_dict=False)
    assert isinstance(as_tuple, tuple)
    torch.testing.assert_close(as_tuple[0][real], out.last_hidden_state[real])
    # inputs_embeds gives the same result as the ids
    embeds = model.get_input_embeddings()(batch["input_ids"])
    by_embeds = model(
        inputs_embeds=embeds, attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"]
    )
    torch.testing.assert_close(by_embeds.last_hidden_state[real], out.last_hidden_state[real])
    # explicit position_ids equal to the default
    by_pos = model(**batch, position_ids=torch.arange(L).expand(B, L))
    torch.testing.assert_close(by_pos.last_hidden_state[real], out.last_hidden_state[real])
    # token types matter
    other = model(**{**batch, "token_type_ids": torch.zeros_like(batch["token_type_ids"])})
    assert not torch.allclose(other.last_hidden_state, out.last_hidden_state)


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_invariance(variant):
    """A sequence's hidden states are the same alone and padded inside a batch."""
    config = tiny_config(**VARIANTS[variant])
    model = SeedformerModel(config).eval()
    batch = make_batch(config)
    with torch.no_grad():
        padded = model(**batch).last_hidden_state
        for i in range(B):
            n = int(batch["attention_mask"][i].sum())
            alone = model(**{k: v[i : i + 1, :n] for k, v in batch.items()}).last_hidden_state
            torch.testing.assert_close(padded[i, :n], alone[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("variant", VARIANTS)
def test_attention_implementations_agree(variant):
    config = tiny_config(**VARIANTS[variant])
    batch = make_batch(config)
    reference = AutoModel.from_config(config, attn_implementation="eager").eval()
    with torch.no_grad():
        expected = reference(**batch).last_hidden_state
    for impl in ("sdpa", "flex_attention"):
        model = AutoModel.from_config(config, attn_implementation=impl).eval()
        model.load_state_dict(reference.state_dict())
        with torch.no_grad():
            got = model(**batch).last_hidden_state
        mask = batch["attention_mask"].bool()
        assert (got - expected)[mask].abs().max() < 1e-5, impl


def test_sdpa_is_not_causal_without_padding():
    """transformers' sdpa wrapper defaults to causal unless the module says otherwise."""
    config = tiny_config()
    model = AutoModel.from_config(config, attn_implementation="sdpa").eval()
    eager = AutoModel.from_config(config, attn_implementation="eager").eval()
    eager.load_state_dict(model.state_dict())
    ids = make_batch(config)["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids).last_hidden_state, eager(input_ids=ids).last_hidden_state)


def test_gradient_checkpointing_same_gradients():
    config = tiny_config()
    batch = make_batch(config)
    labels = torch.where(torch.rand(batch["input_ids"].shape) < 0.5, batch["input_ids"], -100)
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = SeedformerForMaskedLM(config).train()
        if checkpointing:
            model.gradient_checkpointing_enable()
            assert model.is_gradient_checkpointing
        model(**batch, labels=labels).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-5)


def test_tied_embeddings():
    config = tiny_config()
    model = SeedformerForMaskedLM(config)
    assert model.mlm_head.decoder.weight is model.seedformer.embeddings.word_embeddings.weight
    model.resize_token_embeddings(120)
    assert model.mlm_head.decoder.weight is model.seedformer.embeddings.word_embeddings.weight
    assert model.mlm_head.decoder.weight.shape[0] == 120 and model.config.vocab_size == 120
    untied = SeedformerForMaskedLM(tiny_config(tie_word_embeddings=False))
    assert untied.mlm_head.decoder.weight is not untied.seedformer.embeddings.word_embeddings.weight


def test_sparse_prediction_matches_dense_loss():
    config = tiny_config()
    dense = SeedformerForMaskedLM(config).eval()
    sparse = SeedformerForMaskedLM(tiny_config(sparse_prediction=True)).eval()
    sparse.load_state_dict(dense.state_dict())
    batch = make_batch(config)
    labelled = (torch.rand(batch["input_ids"].shape) < 0.3) & batch[
        "attention_mask"
    ].bool()  # a collator labels real tokens
    labels = torch.where(labelled, batch["input_ids"], -100)
    with torch.no_grad():
        d, s = dense(**batch, labels=labels), sparse(**batch, labels=labels)
    torch.testing.assert_close(d.loss, s.loss)
    assert s.logits.shape == ((labels != -100).sum().item(), config.vocab_size)
    assert sparse(**batch).logits.shape == (B, L, config.vocab_size)  # no labels: every position


# ---------------------------------------------------------------------------------------------------------------
# Auto classes and save / reload
# ---------------------------------------------------------------------------------------------------------------
AUTO = [
    (AutoModel, SeedformerModel),
    (AutoModelForMaskedLM, SeedformerForMaskedLM),
    (AutoModelForPreTraining, SeedformerForPreTraining),
    (AutoModelForSequenceClassification, SeedformerForSequenceClassification),
    (AutoModelForTokenClassification, SeedformerForTokenClassification),
    (AutoModelForQuestionAnswering, SeedformerForQuestionAnswering),
    (AutoModelForMultipleChoice, SeedformerForMultipleChoice),
    (AutoModelForNextSentencePrediction, SeedformerForNextSentencePrediction),
]


def first_output(out):
    for key in ("last_hidden_state", "logits", "prediction_logits", "start_logits"):
        if key in out:
            return out[key]
    raise AssertionError(out.keys())


@pytest.mark.parametrize("auto, cls", AUTO, ids=lambda x: x.__name__)
def test_auto_round_trip(tmp_path, auto, cls):
    config = tiny_config(**VARIANTS["modern"])
    model = auto.from_config(config).eval()
    assert type(model) is cls
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = auto.from_pretrained(tmp_path).eval()
    assert type(loaded) is cls
    batch = make_batch(config)
    if cls is SeedformerForMultipleChoice:
        batch = {k: v.unsqueeze(0) for k, v in batch.items()}
    with torch.no_grad():
        torch.testing.assert_close(first_output(loaded(**batch)), first_output(model(**batch)), atol=1e-6, rtol=1e-5)


@pytest.mark.slow
def test_reload_in_fresh_process(tmp_path):
    config = tiny_config(**VARIANTS["modern"], id2label={0: "neg", 1: "pos"})
    model = SeedformerForSequenceClassification(config).eval()
    model.save_pretrained(tmp_path)
    ids = make_batch(config)["input_ids"]
    with torch.no_grad():
        expected = model(input_ids=ids).logits
    torch.save({"ids": ids, "expected": expected}, tmp_path / "io.pt")
    script = textwrap.dedent(
        f"""
        import torch, seedformer
        from transformers import AutoModelForSequenceClassification
        model = AutoModelForSequenceClassification.from_pretrained({str(tmp_path)!r}).eval()
        io = torch.load({str(tmp_path / "io.pt")!r})
        with torch.no_grad():
            got = model(input_ids=io["ids"]).logits
        assert torch.equal(got, io["expected"]), (got - io["expected"]).abs().max()
        assert model.config.id2label == {{0: "neg", 1: "pos"}}
        print("OK")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-2000:]


def test_import_twice_is_harmless():
    import importlib

    importlib.reload(seedformer)
    seedformer.register()
    assert type(AutoModel.from_config(tiny_config())) is SeedformerModel


def test_encoder_head_loads_from_mlm_checkpoint(tmp_path):
    config = tiny_config()
    mlm = SeedformerForMaskedLM(config)
    mlm.save_pretrained(tmp_path)
    cls_model = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3)
    torch.testing.assert_close(
        cls_model.seedformer.layers[0].attention.qkv.weight, mlm.seedformer.layers[0].attention.qkv.weight
    )
    assert cls_model.classifier.out_features == 3


# ---------------------------------------------------------------------------------------------------------------
# Bad input raises before any kernel runs
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make_kwargs, match",
    [
        (lambda c, b: dict(input_ids=b["input_ids"] + c.vocab_size), "outside the vocabulary"),
        (lambda c, b: dict(input_ids=b["input_ids"] - 100), "outside the vocabulary"),
        (
            lambda c, b: dict(input_ids=torch.ones(1, c.max_position_embeddings + 1, dtype=torch.long)),
            "max_position_embeddings",
        ),
        (lambda c, b: dict(input_ids=b["input_ids"], attention_mask=b["attention_mask"][:, :-1]), "attention_mask"),
        (lambda c, b: dict(input_ids=b["input_ids"], token_type_ids=b["token_type_ids"][:2]), "token_type_ids"),
        (lambda c, b: dict(input_ids=b["input_ids"], token_type_ids=b["token_type_ids"] + 5), "type_vocab_size"),
        (lambda c, b: dict(), "exactly one"),
        (lambda c, b: dict(input_ids=b["input_ids"], inputs_embeds=torch.zeros(B, L, c.hidden_size)), "exactly one"),
        (lambda c, b: dict(input_ids=b["input_ids"][0]), "shape"),
        (lambda c, b: dict(inputs_embeds=torch.zeros(B, L, 7)), "inputs_embeds"),
    ],
)
def test_bad_input_raises_clearly(make_kwargs, match):
    config = tiny_config()
    model = SeedformerForMaskedLM(config)
    with pytest.raises(ValueError, match=match):
        model(**make_kwargs(config, make_batch(config)))


def test_rope_has_no_length_limit_check():
    config = tiny_config(**VARIANTS["modern"], max_position_embeddings=16)
    model = SeedformerModel(config)
    assert model(input_ids=torch.ones(1, 40, dtype=torch.long)).last_hidden_state.shape == (1, 40, 32)


def _items(labels: torch.Tensor) -> int:
    return int((labels != -100).sum())


@pytest.mark.parametrize(
    "cls",
    [
        SeedformerForMaskedLM,
        SeedformerForNextSentencePrediction,
        SeedformerForTokenClassification,
        SeedformerForMultipleChoice,
        SeedformerForReplacedTokenDetection,
    ],
    ids=lambda c: c.__name__,
)
def test_losses_honour_num_items_in_batch(cls):
    """One loss style: every head whose loss has one item count sums it and divides by the Trainer's
    `num_items_in_batch` (gradient accumulation), and says so to the Trainer (`accepts_loss_kwargs`)."""
    config = tiny_config(num_labels=3)
    batch = make_batch(config)
    if cls is SeedformerForMultipleChoice:
        batch = {k: v[:2].unsqueeze(1).expand(2, C, L).contiguous() for k, v in batch.items()}
        labels = torch.tensor([1, 0])
    elif cls is SeedformerForReplacedTokenDetection:
        labels = (batch["input_ids"] % 2).masked_fill(batch["attention_mask"] == 0, -100)
    elif cls is SeedformerForNextSentencePrediction:
        labels = torch.tensor([0, 1, 1])
    else:
        labels = head_labels(cls, config, batch)["labels"]
    model = cls(config).eval()
    mean = model(**batch, labels=labels).loss
    summed = model(**batch, labels=labels, num_items_in_batch=torch.tensor(100)).loss
    torch.testing.assert_close(summed * 100, mean * _items(labels))
    assert getattr(cls, "accepts_loss_kwargs", True)


@pytest.mark.parametrize(
    "cls", [SeedformerForPreTraining, SeedformerForSequenceClassification], ids=lambda c: c.__name__
)
def test_heads_without_one_item_count_tell_the_trainer(cls):
    """PreTraining (MLM tokens + NSP pairs) and sequence classification (regression / multi-label are batch means)
    leave the accumulation scaling to the Trainer."""
    assert cls.accepts_loss_kwargs is False


def test_pretraining_loss_is_mlm_plus_nsp_batch_means():
    config = tiny_config()
    batch = make_batch(config)
    labels = head_labels(SeedformerForPreTraining, config, batch)
    model = SeedformerForPreTraining(config).eval()
    out = model(**batch, **labels)
    mlm = torch.nn.functional.cross_entropy(
        out.prediction_logits.reshape(-1, config.vocab_size), labels["labels"].reshape(-1)
    )
    nsp = torch.nn.functional.cross_entropy(out.seq_relationship_logits, labels["next_sentence_label"])
    torch.testing.assert_close(out.loss, mlm + nsp)


def test_module_classes_carry_the_model_prefix():
    """FSDP wrapping, `_no_split_modules` and checkpoint tooling match modules by class name: every Seedformer module
    class is `Seedformer...`, and `_no_split_modules` names classes the models contain."""
    from seedformer import SeedformerConfig, SeedformerForConditionalGeneration

    config = tiny_config(position_embedding_type="rope")
    seq2seq = SeedformerForConditionalGeneration(
        SeedformerConfig(**{**config.to_diff_dict(), "is_encoder_decoder": True, "decoder_start_token_id": 2})
    )
    for model in (SeedformerForPreTraining(config), seq2seq):
        own = {type(m).__name__ for m in model.modules() if type(m).__module__.startswith("seedformer.")}
        assert own and all(name.startswith("Seedformer") for name in own), sorted(own)
        assert set(model._no_split_modules) <= own and "SeedformerEncoderLayer" in model._no_split_modules


def test_forward_signatures_take_transformers_kwargs():
    """As the built-in models: `**kwargs: Unpack[TransformersKwargs]`, which transformers' tooling reads."""
    import inspect
    import typing

    from transformers.processing_utils import Unpack
    from transformers.utils import TransformersKwargs

    from seedformer import SeedformerForConditionalGeneration
    from seedformer.modeling import SeedformerDecoder, SeedformerSeq2SeqModel
    from seedformer.modeling.attention import SeedformerCrossAttention, SeedformerSelfAttention
    from seedformer.modeling.decoder import SeedformerDecoderLayer
    from seedformer.modeling.layers import SeedformerEncoderLayer

    classes = [
        *HEADS,
        SeedformerForMultipleChoice,
        SeedformerForReplacedTokenDetection,
        SeedformerModel,
        SeedformerDecoder,
        SeedformerSeq2SeqModel,
        SeedformerForConditionalGeneration,
        SeedformerEncoderLayer,
        SeedformerDecoderLayer,
        SeedformerSelfAttention,
        SeedformerCrossAttention,
    ]
    for cls in classes:
        forward = inspect.unwrap(cls.forward)
        (var_keyword,) = [p for p in inspect.signature(forward).parameters.values() if p.kind == p.VAR_KEYWORD]
        hint = typing.get_type_hints(forward)[var_keyword.name]
        assert hint == Unpack[TransformersKwargs], (cls.__name__, hint)


def test_rope_scaling_comes_from_rope_parameters():
    """`rope_parameters` goes through transformers' ROPE_INIT_FUNCTIONS: linear scaling by 2 at positions 2k equals
    plain RoPE at positions k (only relative positions matter), and differs from plain RoPE at the same positions."""
    variant = VARIANTS["modern"]
    torch.manual_seed(0)
    plain = SeedformerModel(tiny_config(**variant), add_pooling_layer=False).eval()
    scaled = SeedformerModel(
        tiny_config(**variant, rope_parameters={"rope_type": "linear", "factor": 2.0}), add_pooling_layer=False
    ).eval()
    scaled.load_state_dict(plain.state_dict())
    ids = torch.randint(5, 99, (2, 8))
    positions = torch.arange(8)[None]
    with torch.no_grad():
        expected = plain(input_ids=ids, position_ids=positions).last_hidden_state
        torch.testing.assert_close(scaled(input_ids=ids, position_ids=2 * positions).last_hidden_state, expected)
        assert not torch.allclose(scaled(input_ids=ids, position_ids=positions).last_hidden_state, expected, atol=1e-4)

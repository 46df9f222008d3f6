"""The speed paths give the same numbers as the plain padded path: unpadded execution, sparse MLM prediction,
attention backends, bf16 autocast, gradient checkpointing, torch.compile; and the benchmark script runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO, tiny_config

from seedformer import (
    ConfigValidationError,
    SeedformerForMaskedLM,
    SeedformerForMultipleChoice,
    SeedformerForNextSentencePrediction,
    SeedformerForPreTraining,
    SeedformerForQuestionAnswering,
    SeedformerForSequenceClassification,
    SeedformerForTokenClassification,
    SeedformerModel,
)
from seedformer.modeling.padding import PackedSequences, pad, unpad

VARIANTS = {
    "bert": {},
    "sinusoidal": dict(position_embedding_type="sinusoidal"),
    "rope_pre_rms_geglu": dict(
        position_embedding_type="rope", norm_position="pre", norm_type="rms_norm", hidden_act="geglu"
    ),
    "swiglu_no_bias": dict(hidden_act="swiglu", attention_bias=False, mlp_bias=False, norm_bias=False),
}


def padded_batch(vocab_size=99, lengths=(12, 7, 3, 12), seq_len=12):
    """Right-padded batch with very different lengths (one row full, one nearly empty)."""
    input_ids = torch.randint(5, vocab_size, (len(lengths), seq_len))
    attention_mask = torch.zeros(len(lengths), seq_len, dtype=torch.long)
    for row, n in enumerate(lengths):
        attention_mask[row, :n] = 1
    input_ids[attention_mask == 0] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 4:] = 1
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def both_paths(model_cls, config, batch, **kwargs):
    """Run the same weights once padded ("never") and once unpadded ("always")."""
    config.unpadded_execution = "never"
    torch.manual_seed(0)
    model = model_cls(config)
    outputs = {}
    for mode in ("never", "always"):
        model.config.unpadded_execution = mode
        outputs[mode] = model, model(**batch, **kwargs)
    return outputs


def gradients(model, loss) -> dict[str, torch.Tensor]:
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {n: g for n, g in zip(params, grads) if g is not None}


def test_pack_and_pad_round_trip():
    batch = padded_batch()
    packed = PackedSequences.from_attention_mask(batch["attention_mask"])
    assert packed.seqlens == (12, 7, 3, 12) and packed.max_seqlen == 12 and packed.num_tokens == 34
    assert packed.cu_seqlens.tolist() == [0, 12, 19, 22, 34]
    assert packed.runs == ((12, 1), (7, 1), (3, 1), (12, 1))
    assert PackedSequences.from_attention_mask(torch.tensor([[1, 1], [1, 1], [1, 0]])).runs == ((2, 2), (1, 1))
    packed_ids = unpad(batch["input_ids"], packed)
    assert packed_ids.shape == (1, 34) and (packed_ids > 0).all()
    assert torch.equal(pad(packed_ids, packed), batch["input_ids"])  # pads are id 0 = the fill value
    # A mask with a hole keeps the row's real tokens together, in order.
    holes = PackedSequences.from_attention_mask(torch.tensor([[1, 0, 1, 1], [0, 0, 0, 0]]))
    assert holes.seqlens == (3, 0) and holes.indices.tolist() == [0, 2, 3]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_unpadded_equals_padded_outputs_and_gradients(variant):
    config = tiny_config(**VARIANTS[variant])
    batch = padded_batch(lengths=(12, 7, 7, 3, 12, 12))  # runs of equal lengths share one attention call
    real = batch["attention_mask"].bool()
    weights = torch.randn(*real.shape, config.hidden_size)
    grads = {}
    for mode, (model, out) in both_paths(SeedformerModel, config, batch).items():
        loss = (out.last_hidden_state * weights)[real].sum() + out.pooler_output.sum()
        grads[mode] = (gradients(model, loss), out)
    (g_pad, o_pad), (g_unpad, o_unpad) = grads["never"], grads["always"]
    torch.testing.assert_close(o_unpad.last_hidden_state[real], o_pad.last_hidden_state[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(o_unpad.pooler_output, o_pad.pooler_output, atol=1e-5, rtol=1e-5)
    assert o_unpad.last_hidden_state[~real].abs().max() == 0  # padding is zero-filled in the unpadded path
    assert g_pad.keys() == g_unpad.keys() and len(g_pad) > 10
    for name in g_pad:
        torch.testing.assert_close(g_unpad[name], g_pad[name], atol=1e-4, rtol=1e-4, msg=name)


def test_auto_mode_chooses_the_path():
    """auto: unpad when there is padding, on either side; keep the padded path for attention outputs, no padding."""
    config = tiny_config()
    model = SeedformerModel(config).eval()
    batch = padded_batch()
    calls = []
    original = PackedSequences.from_attention_mask

    def spy(mask, seqlens=None):
        calls.append(mask.shape)
        return original(mask, seqlens)

    PackedSequences.from_attention_mask = spy
    try:
        model(**batch)
        assert len(calls) == 1
        model(**batch, output_hidden_states=True)
        model(**batch, output_attentions=True)
        model(input_ids=batch["input_ids"], attention_mask=torch.ones_like(batch["attention_mask"]))
        almost_full = torch.ones_like(batch["attention_mask"])
        almost_full[0, -1] = 0  # 2% padding: below MIN_PADDING_TO_UNPAD, packing would cost more than it saves
        model(input_ids=batch["input_ids"], attention_mask=almost_full)
        assert len(calls) == 1
        model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"].flip(1))  # left padding
        assert len(calls) == 2
        model.config.unpadded_execution = "always"
        model(input_ids=batch["input_ids"], attention_mask=torch.ones_like(batch["attention_mask"]))
        assert len(calls) == 3
    finally:
        PackedSequences.from_attention_mask = original
    with pytest.raises(ConfigValidationError):
        tiny_config(unpadded_execution="sometimes")


def test_all_padding_row_is_zero():
    config = tiny_config()
    batch = padded_batch(lengths=(5, 0, 3), seq_len=6)
    model = SeedformerModel(config, add_pooling_layer=False).eval()
    model.config.unpadded_execution = "always"
    out = model(**batch).last_hidden_state
    assert out[1].abs().max() == 0 and torch.isfinite(out).all()


HEADS = [
    (
        SeedformerForMaskedLM,
        lambda b: dict(labels=b["input_ids"].masked_fill(b["attention_mask"] == 0, -100)),
        "logits",
    ),
    (
        SeedformerForPreTraining,
        lambda b: dict(
            labels=b["input_ids"].masked_fill(b["attention_mask"] == 0, -100),
            next_sentence_label=torch.tensor([0, 1, 0, 1]),
        ),
        "prediction_logits",
    ),
    (SeedformerForNextSentencePrediction, lambda b: dict(labels=torch.tensor([0, 1, 0, 1])), "logits"),
    (SeedformerForSequenceClassification, lambda b: dict(labels=torch.tensor([0, 1, 1, 0])), "logits"),
    (
        SeedformerForTokenClassification,
        lambda b: dict(labels=(b["input_ids"] % 2).masked_fill(b["attention_mask"] == 0, -100)),
        "logits",
    ),
    (
        SeedformerForQuestionAnswering,
        lambda b: dict(start_positions=torch.tensor([1, 2, 0, 3]), end_positions=torch.tensor([4, 5, 2, 6])),
        "start_logits",
    ),
]
# QA keeps the padded path (its loss softmax spans padded positions, as BERT's does): identical by construction.


@pytest.mark.parametrize("head_cls,labels,key", HEADS, ids=[h[0].__name__ for h in HEADS])
def test_every_head_runs_unpadded(head_cls, labels, key):
    config = tiny_config()
    batch = padded_batch()
    real = batch["attention_mask"].bool()
    results = both_paths(head_cls, config, batch, **labels(batch))
    (_, pad_out), (_, unpad_out) = results["never"], results["always"]
    torch.testing.assert_close(unpad_out.loss, pad_out.loss, atol=1e-5, rtol=1e-5)
    got, expected = unpad_out[key], pad_out[key]
    if got.dim() >= 2 and got.shape[:2] == real.shape:  # per-token outputs: padding positions are meaningless
        got, expected = got[real], expected[real]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_multiple_choice_unpadded():
    config = tiny_config()
    batch = {k: v.reshape(2, 2, -1) for k, v in padded_batch().items()}
    results = both_paths(SeedformerForMultipleChoice, config, batch, labels=torch.tensor([1, 0]))
    torch.testing.assert_close(results["always"][1].logits, results["never"][1].logits, atol=1e-5, rtol=1e-5)


SPARSE_HEADS = {
    "mlm": (SeedformerForMaskedLM, {}, "logits"),
    "pretraining": (
        SeedformerForPreTraining,
        dict(next_sentence_label=torch.tensor([0, 1, 0, 1])),
        "prediction_logits",
    ),
}


@pytest.mark.parametrize("variant", ["bert", "rope_pre_rms_geglu"])
@pytest.mark.parametrize("head", list(SPARSE_HEADS))
@pytest.mark.parametrize("mode", ["never", "always", "auto"])
def test_sparse_mlm_equals_dense_mlm(mode, head, variant):
    """Same loss and gradients when the MLM head only runs at the labelled positions. Unpadded, the last layer also
    computes only those rows (plus [CLS] for the NSP pooler) against keys and values of every token."""
    head_cls, extra, key = SPARSE_HEADS[head]
    batch = padded_batch()
    labels = torch.full_like(batch["input_ids"], -100)
    labels[0, [1, 5, 11]] = batch["input_ids"][0, [1, 5, 11]]
    labels[2, 1] = batch["input_ids"][2, 1]  # row 1 and row 3 have no labelled token
    losses, grads, last_layer_rows = {}, {}, []
    for sparse in (False, True):
        torch.manual_seed(0)
        model = head_cls(tiny_config(sparse_prediction=sparse, unpadded_execution=mode, **VARIANTS[variant]))
        hook = model.seedformer.layers[-1].register_forward_hook(
            lambda m, i, out: last_layer_rows.append(out.shape[1])
        )
        out = model(**batch, labels=labels, **extra)
        hook.remove()
        out.loss.backward()
        losses[sparse], grads[sparse] = out, {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert losses[True][key].shape == (4, 99) and losses[False][key].shape == (4, 12, 99)
    pooled_rows = 4 if head == "pretraining" else 0
    assert last_layer_rows[1] == (12 if mode == "never" else 4 + pooled_rows)  # the last layer's output rows
    torch.testing.assert_close(losses[True].loss, losses[False].loss)
    torch.testing.assert_close(losses[True][key], losses[False][key][labels != -100])
    if head == "pretraining":
        torch.testing.assert_close(losses[True].seq_relationship_logits, losses[False].seq_relationship_logits)
    assert grads[True].keys() == grads[False].keys()
    for name in grads[False]:
        torch.testing.assert_close(grads[True][name], grads[False][name], atol=1e-6, rtol=1e-5, msg=name)


def test_sparse_mlm_labels_on_padding_keep_the_padded_path():
    """A label on a padded position cannot be read from the packed tokens: the whole batch runs padded, as BERT."""
    batch = padded_batch()
    labels = torch.full_like(batch["input_ids"], -100)
    labels[1, 10] = 7  # row 1 has 7 real tokens
    torch.manual_seed(0)
    model = SeedformerForMaskedLM(tiny_config(sparse_prediction=True, unpadded_execution="always")).eval()
    sparse = model(**batch, labels=labels)
    model.config.sparse_prediction, model.config.unpadded_execution = False, "never"
    dense = model(**batch, labels=labels)
    torch.testing.assert_close(sparse.loss, dense.loss)
    with pytest.raises(ValueError, match="prediction_mask"):
        model.seedformer(**batch, prediction_mask=labels[:, :5] != -100)


@pytest.mark.parametrize("mode", ["never", "always", "auto"])
def test_backbone_keeps_its_output_shape_with_a_prediction_mask(mode):
    """`last_hidden_state` is (B, L, hidden) on every path; the sparse MLM states come as `prediction_hidden_state`."""
    batch = padded_batch()
    real = batch["attention_mask"].bool()
    prediction_mask = torch.zeros_like(real)
    prediction_mask[0, [1, 5, 11]] = prediction_mask[2, 1] = True
    torch.manual_seed(0)
    model = SeedformerModel(tiny_config(unpadded_execution=mode)).eval()
    dense = model(**batch, unpadded_execution="never")
    sparse = model(**batch, prediction_mask=prediction_mask)
    assert sparse.last_hidden_state.shape == dense.last_hidden_state.shape == (4, 12, 32)
    assert sparse.prediction_hidden_state.shape == (4, 32) and dense.prediction_hidden_state is None
    torch.testing.assert_close(
        sparse.prediction_hidden_state, dense.last_hidden_state[prediction_mask], atol=1e-5, rtol=1e-5
    )
    torch.testing.assert_close(sparse.pooler_output, dense.pooler_output, atol=1e-5, rtol=1e-5)
    computed = prediction_mask.clone()
    computed[:, 0] = True  # each row's first token feeds the pooler
    torch.testing.assert_close(
        sparse.last_hidden_state[computed], dense.last_hidden_state[computed], atol=1e-5, rtol=1e-5
    )
    if mode == "never":  # the padded path computes every position
        torch.testing.assert_close(sparse.last_hidden_state, dense.last_hidden_state)
    else:  # the sparse last layer computed nothing else (documented: 0 there)
        assert sparse.last_hidden_state[~computed].abs().max() == 0
    empty = model(**batch, prediction_mask=torch.zeros_like(real))  # a batch without a masked token
    assert empty.prediction_hidden_state.shape == (0, 32) and empty.last_hidden_state.shape == (4, 12, 32)


def test_unpadded_execution_is_a_call_argument_and_qa_uses_it():
    """The per-call `unpadded_execution` overrides the config; the QA head passes "never" (its loss softmax spans
    padded positions, as BERT's) instead of setting an attribute on its backbone."""
    batch = padded_batch()
    calls = []
    original = PackedSequences.from_attention_mask

    def spy(mask, seqlens=None):
        calls.append(mask.shape)
        return original(mask, seqlens)

    model = SeedformerModel(tiny_config(unpadded_execution="always")).eval()
    qa = SeedformerForQuestionAnswering(tiny_config(unpadded_execution="always")).eval()
    PackedSequences.from_attention_mask = spy
    try:
        model(**batch, unpadded_execution="never")
        qa(**batch)
        assert calls == []
        model(**batch)
        assert len(calls) == 1
    finally:
        PackedSequences.from_attention_mask = original
    assert "allow_unpadding" not in vars(qa.seedformer)
    with pytest.raises(ValueError, match="unpadded_execution"):
        model(**batch, unpadded_execution="sometimes")


def test_speed_paths_are_typed_arguments_of_the_layers():
    import inspect

    from seedformer.modeling.attention import SeedformerSelfAttention
    from seedformer.modeling.layers import SeedformerEncoderLayer

    for forward in (SeedformerEncoderLayer.forward, SeedformerSelfAttention.forward):
        parameters = inspect.signature(forward).parameters
        assert "PackedSequences" in str(parameters["packed"].annotation)
        assert "QuerySubset" in str(parameters["query_subset"].annotation)


@pytest.mark.parametrize("mode", ["never", "always"])
def test_attention_implementations_agree(mode):
    config = tiny_config(position_embedding_type="rope", unpadded_execution=mode)
    batch = padded_batch()
    real = batch["attention_mask"].bool()
    model = SeedformerModel(config).eval()
    outputs = {}
    for impl in ("eager", "sdpa"):
        model.set_attn_implementation(impl)
        outputs[impl] = model(**batch).last_hidden_state[real]
    torch.testing.assert_close(outputs["sdpa"], outputs["eager"], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(
    not os.environ.get("SEEDFORMER_SLOW_TESTS"),
    reason="compiles flex kernels: 10-80 s on CPU; set SEEDFORMER_SLOW_TESTS=1",
)
def test_flex_attention_forward_matches_eager():
    """flex_attention on CPU is forward-only (no backward kernel there); it always takes the padded path."""
    config = tiny_config()
    batch = padded_batch()
    real = batch["attention_mask"].bool()
    model = SeedformerModel(config).eval()
    model.set_attn_implementation("eager")
    with torch.no_grad():
        expected = model(**batch).last_hidden_state[real]
        model.set_attn_implementation("flex_attention")
        got = model(**batch).last_hidden_state[real]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_close_to_fp32_and_paths_agree():
    config = tiny_config(**VARIANTS["rope_pre_rms_geglu"])
    batch = padded_batch()
    real = batch["attention_mask"].bool()
    model = SeedformerForMaskedLM(config).eval()
    with torch.no_grad():
        fp32 = model(**batch).logits[real]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            unpadded = model(**batch).logits[real]
            model.config.unpadded_execution = "never"
            padded = model(**batch).logits[real]
    assert unpadded.dtype == torch.bfloat16 and torch.isfinite(unpadded).all()
    torch.testing.assert_close(unpadded.float(), fp32, atol=0.1, rtol=0.05)
    torch.testing.assert_close(unpadded.float(), padded.float(), atol=0.05, rtol=0.05)


@pytest.mark.parametrize("mode", ["never", "always"])
def test_gradient_checkpointing_same_gradients(mode):
    config = tiny_config(unpadded_execution=mode)
    batch = padded_batch()
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    grads = {}
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = SeedformerForMaskedLM(config).train()
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            assert all(layer.gradient_checkpointing for layer in model.seedformer.layers)
        model(**batch, labels=labels).loss.backward()
        grads[checkpointing] = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    for name in grads[False]:
        torch.testing.assert_close(grads[True][name], grads[False][name], msg=name)


def test_encoder_layer_compiles_without_graph_breaks():
    """The padded path (what torch.compile sees: packing is skipped while tracing) has no graph break per layer."""
    config = tiny_config(position_embedding_type="rope")
    model = SeedformerModel(config).eval()
    model.set_attn_implementation("sdpa")
    layer = model.layers[0]
    batch = padded_batch()
    hidden = model.embeddings(batch["input_ids"], torch.arange(12)[None])
    from transformers.masking_utils import create_bidirectional_mask

    mask = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=batch["attention_mask"])
    rotary = model.rotary_emb(hidden, torch.arange(12)[None])
    explanation = torch._dynamo.explain(layer)(hidden, mask, rotary)
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.slow
def test_benchmark_quick_runs(tmp_path, shared_data):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "benchmark.py"),
            "--quick",
            "--output-dir",
            str(tmp_path),
            "--data",
            str(shared_data / "imdb" / "train.jsonl.gz"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    csv_text = (tmp_path / "benchmark.csv").read_text()
    header, *rows = csv_text.strip().splitlines()
    assert "tokens_per_s" in header and "ratio_vs_bert" in header and "max_abs_diff" in header
    tasks = {row.split(",")[0] for row in rows}
    assert tasks == {"inference", "mlm_train"} and len(rows) == 6  # 3 models per task
    # Seedformer's rows carry its distance to BERT on the same weights: the speed is for the same numbers.
    columns = header.split(",")
    diffs = [float(row.split(",")[columns.index("max_abs_diff")]) for row in rows if ",seedformer," in row]
    assert len(diffs) == 2 and max(diffs) <= 1e-4, diffs
    assert "| inference | tiny | 4 x 64 |" in (tmp_path / "benchmark.md").read_text()
    assert (tmp_path / "benchmark.png").stat().st_size > 1000


def _compile_and_compare(model, backend, **inputs):
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    with torch.no_grad():
        expected, got = model(**inputs), compiled(**inputs)
    for key in expected.keys():
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=1e-5, msg=key)


@pytest.mark.parametrize(
    "head_cls", [SeedformerModel, SeedformerForMaskedLM, SeedformerForSequenceClassification], ids=lambda c: c.__name__
)
def test_models_trace_as_one_graph(head_cls):
    """torch.compile(fullgraph=True) with the "eager" backend (traced, not code-generated: seconds on CPU). With padding
    and labels; compiled forwards take the padded path, which the eager model is compared on."""
    assert head_cls._can_compile_fullgraph
    batch = padded_batch()
    labels = {
        SeedformerModel: {},
        SeedformerForMaskedLM: dict(labels=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)),
        SeedformerForSequenceClassification: dict(labels=torch.tensor([0, 1, 1, 0])),
    }[head_cls]
    model = head_cls(tiny_config(position_embedding_type="rope", unpadded_execution="never")).eval()
    _compile_and_compare(model, "eager", **batch, **labels)


@pytest.mark.slow
def test_inductor_compiled_encoder_matches_eager():
    """The real compiler (inductor, C++ codegen on CPU: a minute or more)."""
    batch = padded_batch()
    model = SeedformerForMaskedLM(tiny_config(unpadded_execution="never")).eval()
    _compile_and_compare(
        model, "inductor", **batch, labels=batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    )

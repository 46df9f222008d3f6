"""Exact BART import: a small random `BartForConditionalGeneration` built here, converted with the script, must give
the same encoder states and decoder logits (<= 1e-4, float32) and the same greedy and beam-search tokens."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, BartConfig, BartForConditionalGeneration

import seedformer  # noqa: F401
from seedformer import SeedformerForConditionalGeneration
from seedformer.conversion import convert_bart_checkpoint, seedformer_config_from_bart

ATOL = 1e-4


def run_script(*argv):
    path = Path(__file__).resolve().parents[1] / "scripts" / "convert_bart_checkpoint.py"
    spec = importlib.util.spec_from_file_location("convert_bart_checkpoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([str(a) for a in argv])


def random_bart(**overrides):
    kwargs = dict(
        vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=3, encoder_attention_heads=4,
        decoder_attention_heads=2, encoder_ffn_dim=37, decoder_ffn_dim=41, max_position_embeddings=64,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2,
        init_std=0.2,  # large enough that a random model's generations vary from step to step
    )  # fmt: skip
    kwargs.update(overrides)
    model = BartForConditionalGeneration(BartConfig(**kwargs)).eval()
    with torch.no_grad():
        model.final_logits_bias.normal_()  # zeros in a fresh model: make the buffer's conversion visible
    return model


def inputs():
    ids = torch.randint(3, 99, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    ids[1, 7:] = 1  # BART's pad
    return ids, mask


@pytest.mark.parametrize("scale_embedding", [False, True])
def test_converted_bart_matches_transformers(tmp_path, scale_embedding):
    bart = random_bart(scale_embedding=scale_embedding)
    bart.save_pretrained(tmp_path / "bart")
    run_script(tmp_path / "bart", tmp_path / "seedformer")
    converted = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "seedformer").eval()
    assert type(converted) is SeedformerForConditionalGeneration
    config = converted.config
    assert (config.position_offset, config.norm_position, config.type_vocab_size, config.scale_embedding) == (
        2,
        "post",
        0,
        scale_embedding,
    )

    ids, mask = inputs()
    decoder_ids = torch.randint(3, 99, (3, 8))
    with torch.no_grad():
        expected = bart(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
        got = converted(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
    real = mask.bool()  # Seedformer returns zeros at padded source positions (unpadded execution); BART does not
    assert (got.encoder_last_hidden_state[real] - expected.encoder_last_hidden_state[real]).abs().max() <= ATOL
    assert (got.logits - expected.logits).abs().max() <= ATOL

    for kwargs in (dict(do_sample=False), dict(num_beams=3), dict(num_beams=3, num_return_sequences=2)):
        want = bart.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, **kwargs)
        have = converted.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, **kwargs)
        assert torch.equal(have, want), kwargs
    assert len(set(want.flatten().tolist())) > 4  # the tokens vary: the comparison is not between two constant outputs


def test_untied_bart_head_and_bad_sources(tmp_path):
    bart = random_bart(tie_word_embeddings=False)
    with torch.no_grad():
        bart.lm_head.weight.normal_()
    bart.save_pretrained(tmp_path / "bart")
    report = convert_bart_checkpoint(tmp_path / "bart", tmp_path / "out")
    assert "lm_head" in report.carried_over
    converted = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "out").eval()
    ids, mask = inputs()
    with torch.no_grad():
        expected = bart(input_ids=ids, attention_mask=mask, decoder_input_ids=ids[:, :5]).logits
        got = converted(input_ids=ids, attention_mask=mask, decoder_input_ids=ids[:, :5]).logits
    assert (got - expected).abs().max() <= ATOL

    mbart = json.loads((tmp_path / "bart" / "config.json").read_text()) | {"model_type": "mbart"}
    with pytest.raises(ValueError, match="Only BART checkpoints"):
        seedformer_config_from_bart(mbart)
    (tmp_path / "bart" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError):
        convert_bart_checkpoint(tmp_path / "bart", tmp_path / "again")

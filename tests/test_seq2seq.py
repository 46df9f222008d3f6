"""The encoder-decoder: generation (cache, beams, sampling), training, save/reload, warm start, denoising collators,
seq2seq finetuning, the `seq2seq-generation` pipeline, BLEU/ROUGE and bad input. Tiny configs throughout."""

import json
import random

import numpy as np
import pytest
import torch
from conftest import tiny_config
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    PreTrainedTokenizerFast,
    pipeline,
)
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

import seedformer  # noqa: F401  (registers the Auto classes and the pipeline)
from seedformer import SeedformerForConditionalGeneration, SeedformerSeq2SeqModel
from seedformer.data.readers import read_parallel_text
from seedformer.metrics import load_metric
from seedformer.modeling.decoder import CACHE_FIELD
from seedformer.modeling.modeling_seq2seq import shift_tokens_right
from seedformer.pretraining.denoising import (
    DataCollatorForSpanCorruption,
    DataCollatorForTextInfilling,
    add_sentinel_tokens,
    random_spans_noise_mask,
)

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4


def s2s_config(**overrides):
    # An untied head with initializer_range 0.1: a random model whose greedy outputs vary from step to step (with the
    # default tied head a random model repeats one token, and cached-vs-uncached comparisons would prove little).
    kwargs = dict(
        is_encoder_decoder=True,
        decoder_start_token_id=CLS,
        bos_token_id=CLS,
        eos_token_id=SEP,
        decoder_layers=3,
        decoder_attention_heads=2,
        decoder_ffn_dim=41,
        initializer_range=0.1,
        tie_word_embeddings=False,
    )
    kwargs.update(overrides)
    return tiny_config(**kwargs)


def source_batch(batch=3, length=9):
    ids = torch.randint(5, 99, (batch, length))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    ids[1, 6:] = PAD
    return ids, mask


def word_tokenizer(words):
    """A whitespace word-level tokenizer: [PAD] [UNK] [CLS] [SEP] [MASK] + words; `[CLS] text [SEP]`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)]
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["bert_like", "modern"])
def test_cached_and_uncached_greedy_agree_with_teacher_forcing(preset):
    from seedformer import SeedformerConfig

    base = s2s_config().to_dict()
    keep = (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "is_encoder_decoder",
        "decoder_start_token_id",
        "bos_token_id",
        "eos_token_id",
        "decoder_layers",
        "decoder_ffn_dim",
        "initializer_range",
        "tie_word_embeddings",
    )
    config = getattr(SeedformerConfig, preset)(**{k: base[k] for k in keep})
    model = SeedformerForConditionalGeneration(config).eval()
    ids, mask = source_batch()
    cached = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False, use_cache=True)
    uncached = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False, use_cache=False)
    assert torch.equal(cached, uncached)
    assert len(set(cached[0, 1:].tolist())) > 2  # not a degenerate repeat: the comparison means something
    # Every generated token is the argmax of one teacher-forced forward over the generated prefix.
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=cached[:, :-1]).logits
    finished = (cached[:, :-1] == SEP).cumsum(-1) > 0  # after eos, generate pads
    assert torch.equal(logits.argmax(-1)[~finished], cached[:, 1:][~finished])


@pytest.mark.parametrize("cache_kwarg", ["cache", "past_key_values"])
def test_manual_decoding_with_the_cache_under_either_name(cache_kwarg):
    # transformers 5.24 renamed the cache argument `past_key_values` -> `cache`; a hand-written decoding loop in
    # either style gives the logits of one full teacher-forced forward.
    model = SeedformerForConditionalGeneration(s2s_config()).eval()
    ids, mask = source_batch()
    target = torch.randint(5, 99, (ids.shape[0], 6))
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=target).logits
        encoder_outputs = model.get_encoder()(ids, attention_mask=mask)
        cache, steps = None, []
        for t in range(target.shape[1]):
            out = model(
                encoder_outputs=encoder_outputs,
                attention_mask=mask,
                decoder_input_ids=target[:, t : t + 1],
                use_cache=True,
                **{cache_kwarg: cache},
            )
            cache = getattr(out, CACHE_FIELD)  # the output field follows the installed transformers' name
            steps.append(out.logits)
    assert cache is not None and cache.get_seq_length() == target.shape[1]
    assert (torch.cat(steps, dim=1) - full).abs().max() < 1e-5
    other = EncoderDecoderCache(DynamicCache(), DynamicCache())
    with pytest.raises(ValueError, match="once"):
        model(input_ids=ids, decoder_input_ids=target[:, :1], cache=cache, past_key_values=other)


def test_cross_attention_keys_values_computed_once_per_generation():
    model = SeedformerForConditionalGeneration(s2s_config(eos_token_id=None)).eval()
    calls = []
    for layer in model.decoder.layers:
        layer.cross_attn.kv_proj.register_forward_hook(lambda *a: calls.append(1))
    ids, mask = source_batch()
    model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False)
    assert len(calls) == len(model.decoder.layers)  # once per layer for 10 decoding steps
    calls.clear()
    model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, num_beams=3)
    assert len(calls) == len(model.decoder.layers)
    calls.clear()
    model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False, use_cache=False)
    assert len(calls) == 10 * len(model.decoder.layers)  # without the cache: every step


def test_beam_search_sampling_and_return_sequences_shapes():
    model = SeedformerForConditionalGeneration(s2s_config(eos_token_id=None)).eval()
    ids, mask = source_batch(batch=2)
    beams = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=7, num_beams=4, num_return_sequences=3)
    assert beams.shape == (6, 8) and (beams[:, 0] == CLS).all()
    scored = model.generate(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=7,
        num_beams=4,
        num_return_sequences=2,
        return_dict_in_generate=True,
        output_scores=True,
    )
    assert scored.sequences_scores.shape == (4,)
    sampled = model.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=5, do_sample=True, top_k=10, num_return_sequences=3
    )
    assert sampled.shape == (6, 6)
    torch.manual_seed(1)
    again = model.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=5, do_sample=True, top_k=10, num_return_sequences=3
    )
    assert not torch.equal(sampled, again)  # sampling samples


# ---------------------------------------------------------------------------------------------------------------------
# Training interface
# ---------------------------------------------------------------------------------------------------------------------
def test_labels_shift_right_and_plain_cross_entropy():
    model = SeedformerForConditionalGeneration(s2s_config())
    ids, mask = source_batch(batch=2)
    labels = torch.tensor([[10, 11, 12, SEP], [20, SEP, -100, -100]])
    decoder_input_ids = model.prepare_decoder_input_ids_from_labels(labels)
    assert decoder_input_ids.tolist() == [[CLS, 10, 11, 12], [CLS, 20, SEP, PAD]]
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    keep = labels != -100
    expected = torch.nn.functional.cross_entropy(out.logits[keep], labels[keep])
    torch.testing.assert_close(out.loss, expected)
    # The Trainer's num_items_in_batch (gradient accumulation): summed loss / items, not a batch mean.
    summed = model(input_ids=ids, attention_mask=mask, labels=labels, num_items_in_batch=torch.tensor(12)).loss
    torch.testing.assert_close(summed, expected * keep.sum() / 12)
    out.loss.backward()
    assert model.decoder.layers[0].cross_attn.kv_proj.weight.grad.abs().sum() > 0


def test_recorded_outputs_and_gradient_checkpointing():
    config = s2s_config()
    model = SeedformerForConditionalGeneration._from_config(config, attn_implementation="eager").eval()
    ids, mask = source_batch()
    out = model(
        input_ids=ids,
        attention_mask=mask,
        decoder_input_ids=ids[:, :4],
        output_hidden_states=True,
        output_attentions=True,
    )
    assert len(out.encoder_hidden_states) == config.num_hidden_layers + 1
    assert len(out.decoder_hidden_states) == config.decoder_layers + 1
    assert out.decoder_attentions[0].shape == (3, config.decoder_attention_heads, 4, 4)
    assert out.cross_attentions[0].shape == (3, config.decoder_attention_heads, 4, 9)
    assert torch.allclose(out.cross_attentions[0][1, :, :, 6:], torch.tensor(0.0))  # padded source never attended
    model.train()
    model.gradient_checkpointing_enable()
    model(input_ids=ids, attention_mask=mask, labels=ids[:, :5]).loss.backward()
    assert model.decoder.layers[0].self_attn.qkv.weight.grad is not None


def test_tied_embeddings_save_reload_and_bare_model(tmp_path):
    model = AutoModelForSeq2SeqLM.from_config(s2s_config(tie_word_embeddings=True)).eval()
    assert type(model) is SeedformerForConditionalGeneration
    shared = model.seedformer.embeddings.word_embeddings.weight
    assert model.lm_head.weight is shared and model.decoder.embeddings.word_embeddings.weight is shared
    with torch.no_grad():
        model.final_logits_bias.normal_()
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert reloaded.lm_head.weight is reloaded.seedformer.embeddings.word_embeddings.weight
    assert reloaded.generation_config.decoder_start_token_id == CLS
    ids, mask = source_batch()
    dec = torch.randint(5, 99, (3, 6))
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits,
            model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits,
        )
        bare = SeedformerSeq2SeqModel.from_pretrained(tmp_path).eval()
        hidden = bare(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).last_hidden_state
        logits = reloaded.lm_head(hidden) + reloaded.final_logits_bias
        torch.testing.assert_close(logits, reloaded(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits)
    # The encoder alone loads with AutoModel (decoder weights ignored).
    encoder = AutoModel.from_pretrained(tmp_path)
    torch.testing.assert_close(encoder.layers[0].attention.qkv.weight, model.seedformer.layers[0].attention.qkv.weight)


def test_masked_lm_checkpoint_warm_starts_the_encoder(tmp_path):
    mlm = AutoModelForMaskedLM.from_config(tiny_config())
    mlm.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="encoder-only .*is_encoder_decoder=True"):
        AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path, is_encoder_decoder=True, decoder_start_token_id=CLS)
    for name, value in mlm.seedformer.state_dict().items():
        torch.testing.assert_close(model.seedformer.state_dict()[name], value)
    ids, mask = source_batch()
    assert model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3).shape[0] == 3


def test_bad_input_errors():
    # No decoder start token (and no bos to fall back on): at generation and at training.
    model = SeedformerForConditionalGeneration(s2s_config(decoder_start_token_id=None, bos_token_id=None)).eval()
    ids, mask = source_batch()
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3)
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        model(input_ids=ids, attention_mask=mask, labels=torch.tensor([[5, 6]] * 3))
    with pytest.raises(ValueError, match="labels.*decoder_input_ids"):
        model(input_ids=ids, attention_mask=mask)
    # Generating past the learned position table (max_position_embeddings=64).
    model = SeedformerForConditionalGeneration(s2s_config(eos_token_id=None)).eval()
    with pytest.raises(ValueError, match=r"position 65, beyond `max_position_embeddings` \(64\).*max_new_tokens"):
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=80, do_sample=False)
    with pytest.raises(ValueError, match="beyond `max_position_embeddings`"):
        model(input_ids=ids, attention_mask=mask, labels=torch.randint(5, 99, (3, 70)))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.tensor([[CLS, 500]] * 3))
    with pytest.raises(ValueError, match="encoder-decoder config"):
        SeedformerForConditionalGeneration(tiny_config())
    from seedformer import ConfigValidationError

    with pytest.raises(ConfigValidationError) as error:
        s2s_config(position_embedding_type="rope", decoder_attention_heads=2)
    assert "decoder_attention_heads" in str(error.value.__cause__)


# ---------------------------------------------------------------------------------------------------------------------
# Finetuning: `--task translation` / `summarization` through run_finetuning (Seq2SeqTrainer, predict_with_generate)
# ---------------------------------------------------------------------------------------------------------------------
WORDS = [f"w{i}" for i in range(12)]
S2S_TINY = "hidden_size=32,num_hidden_layers=1,decoder_layers=1,num_attention_heads=2,intermediate_size=64"
S2S_FLAGS = [
    "--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--seed", "0", "--save_strategy", "no",
    "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "32", "--logging_steps", "5",
    "--max_seq_length", "16", "--max_target_length", "16",
]  # fmt: skip


def finetune_main(argv):
    from seedformer.cli.finetune import main

    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def copy_task(tmp_path_factory):
    rng = random.Random(0)
    root = tmp_path_factory.mktemp("copy")
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))) for _ in range(600)]
    for split, part in (("train", lines[:560]), ("val", lines[560:])):
        (root / f"{split}.src").write_text("\n".join(part) + "\n")
        (root / f"{split}.tgt").write_text("\n".join(part) + "\n")
    word_tokenizer(WORDS).save_pretrained(root / "tok")
    return root


def copy_task_argv(copy_task, out, *extra):
    return ["--task", "translation", "--data_dir", copy_task, "--source_lang", "src", "--target_lang", "tgt",
            "--tokenizer_name", copy_task / "tok", "--output_dir", out, *S2S_FLAGS, *extra]  # fmt: skip


def test_translation_task_trains_scores_bleu_and_saves_a_model_that_reloads(copy_task, tmp_path):
    """The registered `translation` task from scratch: loss falls, BLEU / ROUGE come from generated text, every
    validation output is written, and the saved model reloads with the generation length it was trained for."""
    out = tmp_path / "out"
    results = finetune_main(copy_task_argv(
        copy_task, out, "--do_train", "--do_eval", "--config_overrides", S2S_TINY, "--max_steps", "80",
        "--learning_rate", "1e-2", "--max_train_samples", "320", "--max_eval_samples", "12",
        "--label_smoothing_factor", "0.1",  # the Trainer takes the labels away: the collator builds decoder inputs
    ))  # fmt: skip
    state = json.loads((out / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert losses[-1] < losses[0] - 0.3, losses  # label-smoothed, so it falls less
    for key in ("eval_bleu", "eval_rouge1", "eval_rouge2", "eval_rougeL", "eval_gen_len", "eval_loss"):
        assert isinstance(results[key], float), key
    assert 0 <= results["eval_bleu"] <= 100
    assert json.loads((out / "all_results.json").read_text())["eval_bleu"] == results["eval_bleu"]
    records = [json.loads(line) for line in (out / "eval_predictions.jsonl").read_text().splitlines()]
    assert len(records) == 12 and set(records[0]) == {"index", "source", "prediction", "target"}
    assert all(r["source"] == r["target"] for r in records)  # the copy task, read from the .src / .tgt files
    # The reported BLEU is corpus BLEU of exactly the written outputs against the written references.
    bleu = load_metric("bleu").compute(
        predictions=[r["prediction"] for r in records], references=[r["target"] for r in records]
    )
    assert results["eval_bleu"] == pytest.approx(100 * bleu["bleu"])

    reloaded = AutoModelForSeq2SeqLM.from_pretrained(out)
    assert type(reloaded) is SeedformerForConditionalGeneration and reloaded.config.hidden_size == 32
    assert reloaded.generation_config.max_length == 16  # --max_target_length, saved for generate() and the pipeline
    generator = pipeline("seq2seq-generation", model=str(out))
    assert generator(records[0]["source"])[0]["generated_text"] == records[0]["prediction"]


def test_a_seq2seq_checkpoint_continues_and_an_encoder_checkpoint_warm_starts(copy_task, tmp_path):
    first = tmp_path / "first"
    finetune_main(copy_task_argv(copy_task, first, "--do_train", "--config_overrides", S2S_TINY, "--max_steps", "2"))
    again = finetune_main(copy_task_argv(
        copy_task, tmp_path / "again", "--model_name_or_path", first, "--do_train", "--do_eval", "--max_steps", "2",
        "--max_eval_samples", "4", "--generation_max_length", "8",
    ))  # fmt: skip
    assert "eval_bleu" in again
    assert AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "again").generation_config.max_length == 8

    # A masked-LM checkpoint becomes the encoder; the decoder is new and ends with the tokenizer's [SEP].
    mlm = AutoModelForMaskedLM.from_config(tiny_config(vocab_size=5 + len(WORDS)))
    mlm.save_pretrained(tmp_path / "mlm")
    warm = tmp_path / "warm"
    finetune_main(copy_task_argv(copy_task, warm, "--model_name_or_path", tmp_path / "mlm", "--do_train",
                                 "--max_steps", "1", "--learning_rate", "0"))  # fmt: skip
    model = AutoModelForSeq2SeqLM.from_pretrained(warm)
    assert model.config.is_encoder_decoder and model.config.decoder_start_token_id == CLS
    assert model.config.eos_token_id == SEP
    torch.testing.assert_close(
        model.seedformer.layers[0].attention.qkv.weight, mlm.seedformer.layers[0].attention.qkv.weight
    )


def test_summarization_reads_document_summary_columns_and_predicts_a_test_file(tmp_path):
    rng = random.Random(1)
    rows = [{"document": " ".join(rng.choice(WORDS) for _ in range(8)), "summary": "w1 w2"} for _ in range(24)]
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    test.write_text(json.dumps({"document": "w3 w4"}) + "\n")
    word_tokenizer(WORDS).save_pretrained(tmp_path / "tok")
    results = finetune_main([
        "--task", "summarization", "--train_file", train, "--validation_split_percentage", "25", "--test_file", test,
        "--tokenizer_name", tmp_path / "tok", "--config_overrides", S2S_TINY, "--output_dir", tmp_path / "out",
        "--do_train", "--do_eval", "--do_predict", "--max_steps", "2", *S2S_FLAGS,
    ])  # fmt: skip
    assert "eval_rougeL" in results and results["predict_samples"] == 1
    (record,) = [
        json.loads(line) for line in (tmp_path / "out" / "predict_predictions.jsonl").read_text().splitlines()
    ]
    assert record["source"] == "w3 w4" and isinstance(record["prediction"], str) and "target" not in record


def test_translation_column_of_language_pairs(tmp_path):
    """transformers' run_translation layout: `{"translation": {"en": ..., "de": ...}}`, languages by flag."""
    from seedformer.finetuning.arguments import DataArguments
    from seedformer.finetuning.data import read_raw_datasets
    from seedformer.finetuning.recipes import get_recipe

    path = tmp_path / "wmt.jsonl"
    pairs = [{"en": "one house", "de": "ein haus", "fr": "une maison"}, {"en": "two dogs", "de": "zwei hunde"}]
    path.write_text("".join(json.dumps({"translation": p}) + "\n" for p in pairs))
    args = DataArguments(task="translation", train_file=str(path), source_lang="en", target_lang="de")
    raw, sources = read_raw_datasets(args)
    get_recipe(args).setup_labels(raw, sources)
    assert raw["train"]["source"] == ["one house", "two dogs"] and raw["train"]["target"] == ["ein haus", "zwei hunde"]
    args = DataArguments(task="translation", train_file=str(path), source_lang="en", target_lang="fr")
    raw, sources = read_raw_datasets(args)
    with pytest.raises(ValueError, match=r"Line 2 of .*wmt\.jsonl: column 'target' is empty"):
        get_recipe(args).setup_labels(raw, sources)


def test_seq2seq_bad_input_errors_name_the_column_the_line_or_the_flag(copy_task, tmp_path):
    from seedformer.finetuning.arguments import DataArguments

    rows = [{"source": "w1 w2", "target": "w2 w1"}, {"source": "w3", "target": None}]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    base = ["--task", "translation", "--tokenizer_name", copy_task / "tok", "--output_dir", tmp_path / "out",
            "--do_train", "--max_steps", "1", *S2S_FLAGS]  # fmt: skip
    with pytest.raises(ValueError, match=r"Line 2 of .*pairs\.jsonl: column 'target' is empty.*--target_column"):
        finetune_main([*base, "--train_file", path])
    with pytest.raises(
        ValueError, match=r"no target column 'german'; its columns are \['source', 'target'\].*--target_column"
    ):
        finetune_main([*base, "--train_file", path, "--target_column", "german"])
    (tmp_path / "cols.jsonl").write_text(json.dumps({"en": "a", "de": "b"}) + "\n")
    with pytest.raises(ValueError, match=r"No source column: the data has \['en', 'de'\].*--text_column"):
        finetune_main([*base, "--train_file", tmp_path / "cols.jsonl"])
    with pytest.raises(
        ValueError, match=r"plain-text file, but translation \(aligned one-sentence-per-line files go in --data_dir\)"
    ):
        finetune_main([*base, "--train_file", copy_task / "tok" / "tokenizer.json", "--file_format", "text"])
    with pytest.raises(FileNotFoundError, match=r"train\.src has no parallel file .*train\.xx.*--target_lang"):
        finetune_main([*base, "--data_dir", copy_task, "--source_lang", "src", "--target_lang", "xx"])
    with pytest.raises(ValueError, match="--data_dir .*applies to --task translation / summarization"):
        DataArguments(task="text-classification", data_dir=str(copy_task))
    # An encoder task has no from-scratch path; a seq2seq run needs Seq2SeqTrainingArguments.
    with pytest.raises(
        ValueError, match="--task text-classification finetunes a checkpoint: give --model_name_or_path"
    ):
        finetune_main(["--task", "text-classification", "--train_file", path, "--text_column", "source",
                       "--label_column", "target", "--output_dir", tmp_path / "tc", "--do_train", *S2S_FLAGS[:3]])  # fmt: skip
    from transformers import TrainingArguments

    from seedformer.finetuning.arguments import ModelArguments
    from seedformer.finetuning.runner import run_finetuning

    with pytest.raises(ValueError, match="--task translation needs Seq2SeqTrainingArguments, got TrainingArguments"):
        run_finetuning(
            ModelArguments(), DataArguments(task="translation", train_file=str(path)),
            TrainingArguments(output_dir=str(tmp_path / "x"), do_train=True, use_cpu=True),
        )  # fmt: skip


def test_finetune_seq2seq_is_an_alias_of_finetune_translation(copy_task, tmp_path, monkeypatch):
    from seedformer.cli import finetune, finetune_seq2seq

    seen = []
    monkeypatch.setattr(finetune, "main", lambda argv: seen.append(argv))
    finetune_seq2seq.main(["--data_dir", "d", "--do_train"])
    finetune_seq2seq.main(["--task", "summarization", "--train_file", "x.jsonl"])
    assert seen == [["--task", "translation", "--data_dir", "d", "--do_train"],
                    ["--task", "summarization", "--train_file", "x.jsonl"]]  # fmt: skip
    with pytest.raises(SystemExit, match="--hidden_size is now --config_overrides hidden_size="):
        finetune_seq2seq.main(["--data_dir", "d", "--hidden_size", "64"])


def test_the_task_picks_the_training_arguments_class():
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    from seedformer.finetuning.arguments import parse_finetuning_args

    common = ["--train_file", "x.jsonl", "--output_dir", "o", "--use_cpu"]
    *_, args = parse_finetuning_args(["--task", "summarization", *common, "--generation_num_beams", "4"])
    assert type(args) is Seq2SeqTrainingArguments and args.generation_num_beams == 4
    *_, args = parse_finetuning_args(["--task=text-classification", *common])
    assert type(args) is TrainingArguments
    with pytest.raises(ValueError, match=r"not used .*\['--predict_with_generate'\]"):  # not an encoder-task flag
        parse_finetuning_args(["--task", "text-classification", *common, "--predict_with_generate"])


def test_seq2seq_trainer_callbacks_and_time_budget(copy_task, tmp_path, monkeypatch):
    """The recipe's Seq2SeqTrainer gets the runner's callbacks: RemoteCodeCallback (checkpoint pushes carry the model
    code) and, with --max_train_minutes (every task), pretraining's TimeBudgetCallback, which stops at the first step
    past the budget."""
    from transformers import Seq2SeqTrainer

    from seedformer.finetuning.seq2seq import TranslationRecipe
    from seedformer.hub.export import RemoteCodeCallback
    from seedformer.training.budget import TimeBudgetCallback

    made = []

    class Recording(Seq2SeqTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(TranslationRecipe, "trainer_class", Recording)
    finetune_main(copy_task_argv(copy_task, tmp_path / "out", "--do_train", "--config_overrides", S2S_TINY,
                                 "--max_steps", "50", "--max_train_minutes", "0.0001"))  # fmt: skip
    assert json.loads((tmp_path / "out" / "trainer_state.json").read_text())["global_step"] == 1
    (trainer,) = made
    kinds = {type(c) for c in trainer.callback_handler.callbacks}
    assert {RemoteCodeCallback, TimeBudgetCallback} <= kinds and trainer.args.predict_with_generate


def test_lora_on_a_seq2seq_checkpoint(copy_task, tmp_path):
    """--use_lora --merge_lora on the translation task: a peft adapter that AutoPeftModelForSeq2SeqLM loads, and a
    merged checkpoint with the same outputs."""
    import peft
    from packaging.version import Version
    from peft import AutoPeftModelForSeq2SeqLM

    from seedformer.finetuning.lora import SEQ2SEQ_LORA_MIN_PEFT

    base = tmp_path / "base"
    finetune_main(copy_task_argv(copy_task, base, "--do_train", "--config_overrides", S2S_TINY, "--max_steps", "1"))
    out = tmp_path / "lora"
    if Version(peft.__version__) < Version(SEQ2SEQ_LORA_MIN_PEFT):  # the oldest allowed peft: a clear error instead
        with pytest.raises(ImportError, match=rf"needs peft>={SEQ2SEQ_LORA_MIN_PEFT} \(installed: {peft.__version__}"):
            finetune_main(copy_task_argv(copy_task, out, "--model_name_or_path", base, "--use_lora", "--do_train"))
        assert not (out / "adapter_model.safetensors").exists()
        return
    finetune_main(copy_task_argv(copy_task, out, "--model_name_or_path", base, "--use_lora", "--merge_lora",
                                 "--do_train", "--max_steps", "3", "--learning_rate", "1e-2"))  # fmt: skip
    adapter = AutoPeftModelForSeq2SeqLM.from_pretrained(out).eval()
    merged = AutoModelForSeq2SeqLM.from_pretrained(out / "merged").eval()
    ids, mask = torch.tensor([[CLS, 5, 6, 7, SEP]]), torch.ones(1, 5, dtype=torch.long)
    with torch.no_grad():
        expected = adapter(input_ids=ids, attention_mask=mask, decoder_input_ids=ids).logits
        torch.testing.assert_close(merged(input_ids=ids, attention_mask=mask, decoder_input_ids=ids).logits, expected)
        original = AutoModelForSeq2SeqLM.from_pretrained(base).eval()
        assert not torch.allclose(original(input_ids=ids, attention_mask=mask, decoder_input_ids=ids).logits, expected)


@pytest.mark.slow
def test_copy_task_learns_to_copy(copy_task, tmp_path):
    out = tmp_path / "out"
    results = finetune_main(copy_task_argv(
        copy_task, out, "--do_train", "--do_eval", "--max_steps", "150", "--learning_rate", "5e-3",
        "--warmup_steps", "15", "--generation_num_beams", "3", "--per_device_train_batch_size", "32",
        "--config_overrides", "hidden_size=64,num_hidden_layers=2,decoder_layers=2,num_attention_heads=4,"
        "intermediate_size=128,hidden_dropout_prob=0,attention_probs_dropout_prob=0",
    ))  # fmt: skip
    assert results["eval_bleu"] > 90, results
    records = [json.loads(line) for line in (out / "eval_predictions.jsonl").read_text().splitlines()]
    assert np.mean([r["prediction"] == r["target"] for r in records]) > 0.9, records[:5]

    # The trained model serves through the registered pipeline, with generation kwargs and batching.
    generator = pipeline("seq2seq-generation", model=str(out))
    sources = [r["source"] for r in records[:4]]
    single = [generator(s, num_beams=2)[0]["generated_text"] for s in sources]
    batched = generator(sources, batch_size=4, num_beams=2)
    assert [b["generated_text"] for b in batched] == single
    assert sum(o == s for o, s in zip(single, sources)) >= 3
    several = generator(sources[:2], num_beams=3, num_return_sequences=2, max_new_tokens=2)
    assert [len(r) for r in several] == [2, 2]
    assert all(len(r["generated_text"].split()) <= 2 for group in several for r in group)
    with pytest.raises(ValueError, match="string or a list of strings"):
        generator(123)


def test_parallel_text_loading_checks_alignment(tmp_path):
    (tmp_path / "a.en").write_text("one\ntwo\n\n")
    (tmp_path / "a.de").write_text("eins\nzwei\n\n")
    data = read_parallel_text(tmp_path / "a.en", tmp_path / "a.de")
    assert data["source"] == ["one", "two"] and data["target"] == ["eins", "zwei"]
    (tmp_path / "b.de").write_text("eins\n")
    with pytest.raises(ValueError, match="not aligned"):
        read_parallel_text(tmp_path / "a.en", tmp_path / "b.de")
    (tmp_path / "c.de").write_text("eins\n\nzwei\n")
    with pytest.raises(ValueError, match="blank on one side"):
        read_parallel_text(tmp_path / "a.en", tmp_path / "c.de")


def test_parallel_folder_splits_by_file_stem(tmp_path):
    from seedformer.finetuning.data import read_parallel_dir

    for name, text in (("train.en", "a\nb\n"), ("train.de", "x\ny\n"), ("dev.en", "c\n"), ("dev.de", "z\n"),
                       ("test.en", "d\n\ne\n")):  # fmt: skip
        (tmp_path / name).write_text(text)
    raw = read_parallel_dir(tmp_path, "en", "de")
    assert {split: raw[split].to_dict() for split in raw} == {
        "train": {"source": ["a", "b"], "target": ["x", "y"]},
        "validation": {"source": ["c"], "target": ["z"]},
        "test": {"source": ["d", "e"]},  # sources alone: outputs are predicted for them
    }
    (tmp_path / "dev.de").unlink()
    with pytest.raises(FileNotFoundError, match=r"dev\.en has no parallel file .*dev\.de"):
        read_parallel_dir(tmp_path, "en", "de")
    with pytest.raises(FileNotFoundError, match=r"No parallel files in .*train\.fr \+ train\.it"):
        read_parallel_dir(tmp_path, "fr", "it")


@pytest.mark.slow
def test_readme_translation_command_on_multi30k(shared_data, tmp_path):
    """The README command, with tiny settings: real Multi30k files, a joint tokenizer, train, BLEU, outputs; then
    leg 2 continues from the saved checkpoint and its tokenizer. Run through `scripts/finetune_seq2seq.py`, the alias."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "finetune_seq2seq.py"
    spec = importlib.util.spec_from_file_location("finetune_seq2seq", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "mt"
    common = [
        "--data_dir", str(shared_data / "multi30k"), "--source_lang", "en", "--target_lang", "de", "--do_train",
        "--do_eval", "--max_seq_length", "24", "--max_target_length", "24", "--generation_max_length", "24",
        "--per_device_train_batch_size", "16", "--per_device_eval_batch_size", "8", "--use_cpu", "--report_to", "none",
        "--save_strategy", "no", "--disable_tqdm", "true",
    ]  # fmt: skip
    metrics = module.main([
        *common, "--output_dir", str(out), "--vocab_size", "300", "--config_overrides", S2S_TINY,
        "--max_train_samples", "64", "--max_eval_samples", "8", "--max_steps", "3", "--max_train_minutes", "5",
    ])  # fmt: skip
    # 3 steps learn no German, so BLEU is ~0 here; the value is checked by test_translation_task_trains_scores_bleu...
    assert isinstance(metrics["eval_bleu"], float) and "eval_rouge1" in metrics
    records = [json.loads(line) for line in (out / "eval_predictions.jsonl").read_text().splitlines()]
    assert len(records) == 8 and all(r["target"] and r["source"] for r in records)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(out)
    assert reloaded.config.is_encoder_decoder and reloaded.generation_config.max_length == 24
    again = module.main([
        *common, "--model_name_or_path", str(out), "--output_dir", str(tmp_path / "mt2"), "--max_train_samples", "32",
        "--max_eval_samples", "4", "--max_steps", "2", "--learning_rate", "1e-3",
    ])  # fmt: skip
    assert (
        "eval_bleu" in again
        and AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "mt2").config.vocab_size == reloaded.config.vocab_size
    )


# ---------------------------------------------------------------------------------------------------------------------
# Denoising collators
# ---------------------------------------------------------------------------------------------------------------------
def test_span_corruption_round_trips_and_noise_statistics():
    rng = np.random.default_rng(0)
    masks = [random_spans_noise_mask(200, 0.15, 3.0, rng) for _ in range(50)]
    assert all(m.sum() == 30 for m in masks)
    spans = sum(int(m[0]) + int((np.diff(m.astype(int)) == 1).sum()) for m in masks)
    assert abs(30 * 50 / spans - 3.0) < 0.05
    assert not any(m[0] for m in masks)  # T5: a non-noise span comes first

    tokenizer = word_tokenizer(WORDS)
    sentinels = add_sentinel_tokens(tokenizer, 20)
    assert sentinels == add_sentinel_tokens(tokenizer, 20)  # idempotent
    collator = DataCollatorForSpanCorruption(tokenizer, seed=0)
    texts = [" ".join(random.Random(i).choice(WORDS) for _ in range(40)) for i in range(4)]
    batch = collator([tokenizer(t, return_special_tokens_mask=True) for t in texts])
    for i, text in enumerate(texts):
        source = [t for t in batch["input_ids"][i].tolist() if t != PAD]
        target = [t for t in batch["labels"][i].tolist() if t != -100]
        assert source[-1] == SEP and target[-1] == SEP
        # Put every span back where its sentinel stands: the original text again.
        pieces, current = {}, None
        for t in target[:-1]:
            if t in sentinels:
                current = t
                pieces[t] = []
            else:
                pieces[current].append(t)
        restored = [x for t in source[:-1] for x in (pieces[t] if t in sentinels else [t])]
        assert restored == tokenizer(text, add_special_tokens=False)["input_ids"]
        assert len(target) - 1 - len(pieces) == 6  # 15% of 40 tokens
    assert (batch["decoder_input_ids"][:, 0] == CLS).all()
    assert torch.equal(batch["decoder_input_ids"][:, 1:], batch["labels"][:, :-1].clamp(min=PAD))
    with pytest.raises(ValueError, match="sentinel tokens"):
        DataCollatorForSpanCorruption(word_tokenizer(WORDS))


def test_text_infilling_masks_spans_and_targets_the_original():
    tokenizer = word_tokenizer(WORDS)
    collator = DataCollatorForTextInfilling(tokenizer, seed=0)
    texts = [" ".join(random.Random(i).choice(WORDS) for _ in range(60)) for i in range(20)]
    batch = collator([tokenizer(t, return_special_tokens_mask=True) for t in texts])
    kept = 0
    for i, text in enumerate(texts):
        original = tokenizer(text, add_special_tokens=False)["input_ids"]
        target = [t for t in batch["labels"][i].tolist() if t != -100]
        source = [t for t in batch["input_ids"][i].tolist() if t != PAD]
        assert target == original + [SEP]
        assert MASK in source and source[-1] == SEP
        assert all(not (a == MASK and b == MASK) for a, b in zip(source, source[1:]))  # one mask per span
        kept += len(source) - 1 - source.count(MASK)
    assert 0.6 < kept / (60 * 20) < 0.8  # ~30% of the tokens masked (insertions mask none)
    again = DataCollatorForTextInfilling(tokenizer, seed=0)(
        [tokenizer(t, return_special_tokens_mask=True) for t in texts]
    )
    assert torch.equal(again["input_ids"], batch["input_ids"])


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["span", "infill"])
def test_pretrain_script_denoising_objectives(tmp_path, objective):
    from transformers import HfArgumentParser

    from seedformer.pretraining.arguments import DataArguments, ModelArguments, PretrainingArguments
    from seedformer.pretraining.run import pretrain

    rng = random.Random(0)
    docs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))) for _ in range(300)]
    (tmp_path / "corpus.txt").write_text("\n".join(docs) + "\n")
    tokenizer = word_tokenizer(WORDS)
    add_sentinel_tokens(tokenizer, 10)
    tokenizer.save_pretrained(tmp_path / "tok")
    argv = [
        "--train_file", str(tmp_path / "corpus.txt"), "--txt_sample_by", "line", "--tokenizer_name", str(tmp_path / "tok"),
        "--objective", objective, "--config_overrides",
        "hidden_size=32,num_hidden_layers=2,num_attention_heads=4,intermediate_size=64,decoder_layers=2",
        "--max_seq_length", "24", "--output_dir", str(tmp_path / "out"), "--do_train", "--do_eval",
        "--max_steps", "30", "--per_device_train_batch_size", "16", "--learning_rate", "3e-3", "--warmup_steps", "0",
        "--logging_steps", "5", "--use_cpu", "--report_to", "none", "--seed", "0", "--disable_tqdm", "true",
    ]  # fmt: skip
    metrics = pretrain(
        *HfArgumentParser((ModelArguments, DataArguments, PretrainingArguments)).parse_args_into_dataclasses(argv)
    )
    logged = [e["loss"] for e in metrics["log_history"] if "loss" in e]
    assert logged[-1] < logged[0] - 0.5, logged
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "out")
    assert model.config.decoder_start_token_id == CLS and model.config.eos_token_id == SEP
    ids = torch.tensor([tokenizer("w1 w2 w3")["input_ids"]])
    assert model.generate(input_ids=ids, max_new_tokens=4).shape[0] == 1


# ---------------------------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------------------------
def test_bleu_and_rouge_metrics_match_their_libraries():
    import sacrebleu
    from rouge_score import rouge_scorer

    predictions = ["a man rides a red bike .", "two dogs play in the snow", "the cat"]
    references = ["a man rides a bike .", "two dogs are playing in the snow", "a cat sleeps"]
    bleu = load_metric("bleu").compute(predictions=predictions, references=references)
    expected = sacrebleu.corpus_bleu(predictions, [references], smooth_method="none")
    assert bleu["bleu"] == pytest.approx(expected.score / 100) and 0 < bleu["bleu"] < 1
    assert load_metric("bleu").compute(predictions=references, references=[[r] for r in references])[
        "bleu"
    ] == pytest.approx(1.0)
    rouge = load_metric("rouge").compute(predictions=predictions, references=references)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"])
    for name in ("rouge1", "rougeL"):
        mean = np.mean([scorer.score(r, p)[name].fmeasure for p, r in zip(predictions, references)])
        assert rouge[name] == pytest.approx(mean)
    assert shift_tokens_right(torch.tensor([[7, -100]]), PAD, CLS).tolist() == [[CLS, 7]]


def test_run_bleu_is_corpus_bleu_x100_of_the_decoded_text():
    """What `finetune_seq2seq` reports as eval_bleu / eval_rouge*: 100 for a perfect output, sacrebleu's corpus BLEU of
    the decoded text otherwise (-100 label padding and generation padding ignored)."""
    import sacrebleu
    from transformers import EvalPrediction

    from seedformer.finetuning.seq2seq import make_compute_metrics, train_joint_tokenizer

    refs = ["a man rides a red bike .", "two dogs play in the white snow .", "a woman reads a long book ."]
    hyps = ["a man rides a bike .", "two dogs play in the snow .", "a woman reads a long book ."]
    tokenizer = train_joint_tokenizer(refs * 20, vocab_size=120)
    labels = np.array(tokenizer(refs, padding=True)["input_ids"])
    labels = np.where(labels == tokenizer.pad_token_id, -100, labels)
    compute = make_compute_metrics(tokenizer)
    perfect = compute(
        EvalPrediction(predictions=np.where(labels < 0, tokenizer.pad_token_id, labels), label_ids=labels)
    )
    assert perfect["bleu"] == pytest.approx(100) and perfect["rouge1"] == pytest.approx(100)
    predictions = np.array(tokenizer(hyps, padding=True)["input_ids"])
    partial = compute(EvalPrediction(predictions=predictions, label_ids=labels))
    decode = lambda ids: [t.strip() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]  # noqa: E731
    references = decode(np.where(labels < 0, tokenizer.pad_token_id, labels))
    expected = sacrebleu.corpus_bleu(decode(predictions), [references], smooth_method="none").score
    assert partial["bleu"] == pytest.approx(expected) and 20 < expected < 100


def test_readme_seq2seq_example_runs(capsys):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Sequence to sequence", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "torch.Size([1, 3, 1000])" in printed and "torch.Size([2," in printed


# ---------------------------------------------------------------------------------------------------------------------
# torch.compile: full graphs, and compiled static-cache generation equals eager
# ---------------------------------------------------------------------------------------------------------------------
def compiled_generation_matches_eager(position_embedding_type: str, backend: str) -> None:
    from transformers import CompileConfig

    model = SeedformerForConditionalGeneration(
        s2s_config(eos_token_id=None, position_embedding_type=position_embedding_type, decoder_attention_heads=4)
    ).eval()
    ids, mask = source_batch()
    kwargs = dict(
        input_ids=ids,
        attention_mask=mask,
        max_new_tokens=6,
        do_sample=False,
        output_scores=True,
        return_dict_in_generate=True,
    )
    eager = model.generate(**kwargs)
    # fullgraph=True: any graph break (a data-dependent Python branch) raises instead of silently splitting the graph.
    compile_config = CompileConfig(fullgraph=True, backend=backend, dynamic=False, mode="default")
    compile_config._compile_all_devices = True  # generate() compiles only on accelerators unless told otherwise
    compiled = model.generate(**kwargs, cache_implementation="static", compile_config=compile_config)
    assert torch.equal(compiled.sequences, eager.sequences)
    assert (
        len(set(eager.sequences[:, 1:].flatten().tolist())) > 2
    )  # the greedy outputs vary: the comparison means something
    for step_compiled, step_eager in zip(compiled.scores, eager.scores, strict=True):
        torch.testing.assert_close(step_compiled, step_eager, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("position_embedding_type", ["absolute", "rope"])
def test_static_cache_generation_traces_as_one_graph(position_embedding_type):
    """Dynamo with fullgraph=True (the "eager" backend: the graph is traced, not code-generated, so seconds on CPU).
    The decoder's position-limit check used to be a Python branch on the static cache's tensor length."""
    assert SeedformerForConditionalGeneration._can_compile_fullgraph
    compiled_generation_matches_eager(position_embedding_type, backend="eager")


def test_position_limit_error_stays_clear_in_eager_with_a_static_cache():
    model = SeedformerForConditionalGeneration(s2s_config(eos_token_id=None)).eval()
    ids, mask = source_batch()
    with pytest.raises(ValueError, match=r"beyond `max_position_embeddings` \(64\)"):
        model.generate(
            input_ids=ids, attention_mask=mask, max_new_tokens=80, do_sample=False, cache_implementation="static"
        )


@pytest.mark.slow
def test_inductor_compiled_generation_matches_eager():
    """The real compiler (inductor, C++ codegen on CPU: minutes)."""
    compiled_generation_matches_eager("absolute", backend="inductor")

"""Pretraining data (corpus, MLM blocks, whole-word masking, NSP pairs) and runs of scripts/pretrain.py."""

import gzip
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForLanguageModeling, EvalPrediction

from seedformer.pretraining.arguments import DataArguments, ModelArguments, PretrainingArguments
from seedformer.pretraining.blocks import build_mlm_blocks, raw_backend
from seedformer.pretraining.corpus import load_corpus
from seedformer.pretraining.metrics import PretrainingMetrics, preprocess_logits_for_metrics
from seedformer.pretraining.nsp import build_nsp_pairs, split_sentences
from seedformer.pretraining.objectives import OBJECTIVES, PretrainingObjective, get_objective, register_objective
from seedformer.pretraining.recipes import parse_pretraining_args
from seedformer.pretraining.run import last_complete_checkpoint, pretrain
from seedformer.tokenization import ALGORITHMS, train_tokenizer

REPO = Path(__file__).resolve().parents[1]
PRETRAIN = str(REPO / "scripts" / "pretrain.py")
TINY_MODEL = "hidden_size=32,num_hidden_layers=2,num_attention_heads=4,intermediate_size=64,max_position_embeddings=64"

ADJ = "good bad slow quick boring brilliant funny dark long short".split()
NOUN = "movie film actor plot scene story ending director soundtrack character".split()
VERB = "saves ruins follows explains hides shows carries breaks".split()


def make_documents(n_docs=120, seed=0):
    """Template sentences (learnable structure); 1-8 sentences per document, some blank lines, one very long doc."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sentences = [
            f"The {rng.choice(ADJ)} {rng.choice(NOUN)} {rng.choice(VERB)} the {rng.choice(ADJ)} {rng.choice(NOUN)}."
            for _ in range(rng.randint(1, 8))
        ]
        docs.append(" ".join(sentences))
    docs[3] = " ".join(docs[:40])  # a document far longer than any block
    return docs


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    docs = make_documents()
    path = root / "train.jsonl.gz"
    with gzip.open(path, "wt") as f:
        for i, doc in enumerate(docs):
            f.write(json.dumps({"text": doc}) + "\n")
            if i % 10 == 0:
                f.write(json.dumps({"text": "   "}) + "\n")  # blank documents are dropped
    tok = train_tokenizer(docs, vocab_size=120, min_frequency=1, model_max_length=64)
    tok.save_pretrained(root / "tok")
    return {"root": root, "train_file": str(path), "tokenizer": str(root / "tok"), "docs": docs, "tok": tok}


def run_args(corpus, out, *extra):
    """Arguments of a tiny run (the same list is used in-process and on the command line)."""
    return [
        "--train_file", corpus["train_file"], "--tokenizer_name", corpus["tokenizer"],
        "--config_overrides", TINY_MODEL, "--max_seq_length", "32", "--output_dir", str(out),
        "--per_device_train_batch_size", "8", "--learning_rate", "2e-3", "--warmup_steps", "0",
        "--logging_steps", "5", "--use_cpu", "--report_to", "none", "--seed", "7",
        "--dataloader_num_workers", "0", "--disable_tqdm", "true", *extra,
    ]  # fmt: skip


def parse(argv):
    """What scripts/pretrain.py does with its command line (the --preset recipe as defaults, flags override)."""
    return parse_pretraining_args(argv)


def losses(log_history):
    return {e["step"]: e["loss"] for e in log_history if "loss" in e}


# ---------------------------------------------------------------------------------------------------------------------
# Corpus loading
# ---------------------------------------------------------------------------------------------------------------------
def test_corpus_formats_blank_lines_and_errors(tmp_path, corpus):
    docs = ["first doc. second sentence.", "", "third doc"]
    (tmp_path / "c.txt").write_text("first doc. second sentence.\n\n\n\nthird doc\n")
    datasets.Dataset.from_dict({"body": docs}).to_csv(tmp_path / "c.csv", index=False)
    datasets.Dataset.from_dict({"body": docs}).to_parquet(tmp_path / "c.parquet")
    for name, column in (("c.txt", "text"), ("c.csv", "body"), ("c.parquet", "body")):
        split = load_corpus(train_file=str(tmp_path / name), text_column=column, validation_split_percentage=0)[
            "train"
        ]
        assert [t.strip() for t in split[column]] == ["first doc. second sentence.", "third doc"], name
    splits = load_corpus(train_file=corpus["train_file"], validation_split_percentage=10)
    assert len(splits["train"]) + len(splits["validation"]) == len(corpus["docs"])

    with pytest.raises(ValueError, match="Text column 'content' not found"):
        load_corpus(train_file=corpus["train_file"], text_column="content")
    (tmp_path / "blank.txt").write_text("\n \n\n")
    with pytest.raises(ValueError, match="empty|no non-blank"):
        load_corpus(train_file=str(tmp_path / "blank.txt"))
    with pytest.raises(ValueError, match="Cannot tell the format"):
        load_corpus(train_file=str(tmp_path / "c.docx"))
    stream = load_corpus(train_file=corpus["train_file"], streaming=True, max_eval_samples=5)
    assert isinstance(stream["train"], datasets.IterableDataset) and len(list(stream["validation"])) == 5


# ---------------------------------------------------------------------------------------------------------------------
# MLM blocks and whole-word masking
# ---------------------------------------------------------------------------------------------------------------------
def test_blocks_are_fixed_length_and_keep_long_documents(corpus):
    tok = corpus["tok"]
    ds = datasets.Dataset.from_dict({"text": corpus["docs"]})
    blocks = build_mlm_blocks(ds, tok, 32, load_from_cache_file=False)
    assert set(blocks.column_names) == {"input_ids", "token_type_ids", "attention_mask", "special_tokens_mask"}
    assert all(len(r) == 32 for r in blocks["input_ids"])
    n_tokens = sum(len(e.ids) for e in raw_backend(tok).encode_batch(corpus["docs"]))
    assert len(blocks) == n_tokens // 32  # one map batch: only the final tail is dropped, no document is truncated
    # The wrapper's truncation setting from an earlier call must not leak into whole-document encoding.
    tok("x " * 100, truncation=True, max_length=8)
    assert len(build_mlm_blocks(ds, tok, 32, load_from_cache_file=False)) == len(blocks)


def _true_words(tok, docs, block_size):
    """Per block, the tokenizer's own word grouping as a list of token-position groups."""
    groups_per_block, word_of_token = [], []
    for doc_index, e in enumerate(raw_backend(tok).encode_batch(docs)):
        word_of_token += [None if w is None else (doc_index, w) for w in e.word_ids]
    for start in range(0, len(word_of_token) // block_size * block_size, block_size):
        groups = {}
        for i, w in enumerate(word_of_token[start : start + block_size]):
            if w is not None:
                groups.setdefault(w, []).append(i)
        groups_per_block.append(list(groups.values()))
    return groups_per_block


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_whole_word_masking_masks_whole_words(algorithm):
    """The stock collator (whole_word_mask=True) on our word-boundary offsets masks all sub-tokens of a word together,
    for all three tokenizers. Character offsets alone would not do for Unigram (see pretraining/blocks.py)."""
    docs = [d + " Unbelievably overdramatized." for d in make_documents(40, seed=1)]
    vocab = {"wordpiece": 90, "bpe": 290, "unigram": 90}[algorithm]
    tok = train_tokenizer(docs, algorithm=algorithm, vocab_size=vocab, min_frequency=1)
    ds = datasets.Dataset.from_dict({"text": docs})
    blocks = build_mlm_blocks(ds, tok, 48, whole_word=True, load_from_cache_file=False)
    truth = _true_words(tok, docs, 48)
    assert len(truth) == len(blocks) and any(len(g) > 1 for g in truth[0])  # there are multi-token words to test

    collator = DataCollatorForLanguageModeling(
        tok, whole_word_mask=True, mlm_probability=0.3, mask_replace_prob=1.0, random_replace_prob=0.0
    )
    torch.manual_seed(0)
    batch = collator([blocks[i] for i in range(len(blocks))])
    masked = batch["labels"] != -100
    n_masked_words = n_words = 0
    for b, groups in enumerate(truth):
        for group in groups:
            states = {bool(masked[b, i]) for i in group}
            assert len(states) == 1, f"word {group} of block {b} partly masked"
            n_words += 1
            n_masked_words += states.pop()
    assert 0.15 < n_masked_words / n_words < 0.45
    assert not masked[batch["input_ids"] == tok.cls_token_id].any()

    # Why not character offsets: with Metaspace (Unigram) every token touches the one before, so the stock rule
    # ("new word where start != previous end") sees far fewer words than the tokenizer has.
    enc = tok(docs[0], return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = np.array([enc["offset_mapping"]])
    word_ids, _ = DataCollatorForLanguageModeling._calc_word_ids_and_prob_mask(
        offsets, np.array([enc["special_tokens_mask"]])
    )
    n_char_words = word_ids.max()
    n_real_words = max(w for w in enc.word_ids() if w is not None) + 1
    if algorithm == "unigram":
        assert n_char_words < n_real_words / 2
    else:  # off only by punctuation glued to the word before it
        assert n_real_words - docs[0].count(".") <= n_char_words <= n_real_words


# ---------------------------------------------------------------------------------------------------------------------
# Next-sentence prediction pairs
# ---------------------------------------------------------------------------------------------------------------------
def _occurrences(haystack, needle):
    n = len(needle)
    return [i for i in range(len(haystack) - n + 1) if haystack[i : i + n] == needle]


def _follows_in_some_document(doc_ids, a, b, max_gap):
    """B starts after the end of A (up to `max_gap` tokens trimmed in between) in one document."""
    for doc in doc_ids:
        starts_b = _occurrences(doc, b)
        if starts_b and any(0 <= j - (i + len(a)) <= max_gap for i in _occurrences(doc, a) for j in starts_b):
            return True
    return False


def test_nsp_pairs_are_document_aware_and_balanced(corpus):
    tok = corpus["tok"]
    docs = make_documents(300, seed=2)
    docs[3] = docs[4]  # (drop the long document made of other documents' text)
    pairs = build_nsp_pairs(datasets.Dataset.from_dict({"text": docs}), tok, 48, seed=0, load_from_cache_file=False)
    labels = Counter(pairs["next_sentence_label"])
    assert len(pairs) > 400 and 0.43 < labels[1] / len(pairs) < 0.57, labels

    doc_ids = [e.ids for e in raw_backend(tok).encode_batch(docs, add_special_tokens=False)]
    lengths, random_follows = [], []
    for row in pairs.select(range(200)):
        ids, types = row["input_ids"], row["token_type_ids"]
        assert len(ids) <= 48 and ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        sep = ids.index(tok.sep_token_id)
        a, b = ids[1:sep], ids[sep + 1 : -1]
        assert a and b and types == [0] * (sep + 1) + [1] * (len(b) + 1)
        assert any(_occurrences(doc, a) for doc in doc_ids) and any(_occurrences(doc, b) for doc in doc_ids)
        follows = _follows_in_some_document(doc_ids, a, b, max_gap=48)
        if row["next_sentence_label"] == 0:  # B is the continuation of A in its document
            assert follows, (tok.decode(a), tok.decode(b))
        else:  # B is from another document (short fragments may follow A somewhere by chance)
            random_follows.append(follows)
        lengths.append(len(ids))
    assert np.mean(random_follows) < 0.1
    assert np.mean(lengths) > 0.75 * 48  # segments are filled up to the target length (short ones 10% of the time)

    no_short = build_nsp_pairs(
        datasets.Dataset.from_dict({"text": docs}), tok, 48, short_seq_prob=0.0, seed=0, load_from_cache_file=False
    )
    all_short = build_nsp_pairs(
        datasets.Dataset.from_dict({"text": docs}), tok, 48, short_seq_prob=1.0, seed=0, load_from_cache_file=False
    )
    assert np.mean([len(x) for x in all_short["input_ids"]]) < np.mean([len(x) for x in no_short["input_ids"]]) - 5


def test_split_sentences():
    assert split_sentences("One. Two!  Three?\n\nFour e.g.five") == ["One.", "Two!", "Three?", "Four e.g.five"]


# ---------------------------------------------------------------------------------------------------------------------
# Metrics, registry
# ---------------------------------------------------------------------------------------------------------------------
def test_metrics_dense_and_sparse_logits_agree():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11)
    labels = torch.full((3, 5), -100)
    labels[0, 1], labels[2, 0], labels[2, 4] = 3, 7, int(logits[2, 4].argmax())
    nsp_logits, nsp_labels = torch.randn(3, 2), torch.tensor([0, 1, 1])
    dense = preprocess_logits_for_metrics((logits, nsp_logits), (labels, nsp_labels))
    sparse = preprocess_logits_for_metrics((logits[labels != -100], nsp_logits), (labels, nsp_labels))
    for x, y in zip(dense, sparse):
        torch.testing.assert_close(x, y)
    metrics = PretrainingMetrics()(
        EvalPrediction(predictions=[t.numpy() for t in dense], label_ids=(labels.numpy(), nsp_labels.numpy()))
    )
    expected_nll = torch.nn.functional.cross_entropy(logits[labels != -100], labels[labels != -100]).item()
    assert metrics["mlm_loss"] == pytest.approx(expected_nll, rel=1e-5)
    assert metrics["perplexity"] == pytest.approx(np.exp(expected_nll), rel=1e-5)
    assert metrics["mlm_accuracy"] == pytest.approx(np.mean((logits.argmax(-1) == labels)[labels != -100].numpy()))
    assert metrics["nsp_accuracy"] == pytest.approx(np.mean((nsp_logits.argmax(-1) == nsp_labels).numpy()))


def test_objective_registry():
    assert {"mlm", "wwm", "mlm_nsp"} <= set(OBJECTIVES)
    with pytest.raises(ValueError, match="Unknown objective 'nope'"):
        get_objective("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_objective(get_objective("mlm"))
    extra = PretrainingObjective("test_only", "x", lambda: None, lambda *a: None, lambda *a: None)
    try:
        assert get_objective(register_objective(extra).name) is extra
    finally:
        OBJECTIVES.pop("test_only")


# ---------------------------------------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("objective", ["mlm", "wwm", "mlm_nsp"])
def test_tiny_run_loss_goes_down(corpus, tmp_path, objective):
    steps = "40" if objective == "mlm" else "15"
    metrics = pretrain(
        *parse(
            run_args(
                corpus, tmp_path / objective, "--objective", objective, "--do_train", "--do_eval", "--max_steps", steps
            )
        )
    )
    logged = losses(metrics["log_history"])
    assert metrics["global_step"] == int(steps)
    first, last = logged[min(logged)], logged[max(logged)]
    assert last < first - (0.5 if objective == "mlm" else 0.1), logged
    # above chance: uniform guessing over the 120-token vocabulary is right 1/120 of the time (measured after
    # these steps: 0.15 mlm, 0.16 wwm, 0.20 mlm_nsp; earlier 0.04-0.18 across thread counts)
    assert metrics["eval_perplexity"] > 1 and 2 / len(corpus["tok"]) < metrics["eval_mlm_accuracy"] <= 1
    if objective == "mlm":
        # uniform guessing over the ~120-token vocabulary gives perplexity ~120 (accuracy on the few dozen masked
        # eval tokens is too noisy to bound after 40 steps: 0.04-0.18 across thread counts)
        assert metrics["eval_perplexity"] < 90
    if objective == "mlm_nsp":
        assert "eval_nsp_accuracy" in metrics
    assert (tmp_path / objective / "model.safetensors").exists() and (tmp_path / objective / "tokenizer.json").exists()


def test_streaming_run(corpus, tmp_path):
    metrics = pretrain(
        *parse(run_args(corpus, tmp_path, "--streaming", "--do_train", "--max_steps", "6", "--max_eval_samples", "10"))
    )
    assert metrics["global_step"] == 6
    with pytest.raises(ValueError, match="set --max_steps"):
        pretrain(*parse(run_args(corpus, tmp_path / "x", "--streaming", "--do_train")))


def test_bad_input_fails_before_training(corpus, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    cases = [
        (["--train_file", str(empty)], "no non-blank text|empty"),
        (["--text_column", "review"], "Text column 'review' not found"),
        (
            ["--config_overrides", TINY_MODEL + ",vocab_size=50"],
            "tokenizer has .* tokens but the model's vocab_size is 50",
        ),
        # learned absolute positions (bert_like; the default cpu_small preset is rotary, without a length limit)
        (
            ["--preset", "bert_like", "--max_seq_length", "128"],
            "max_seq_length=128 exceeds the model's max_position_embeddings=64",
        ),
        (["--config_overrides", TINY_MODEL + ",type_vocab_size=1", "--objective", "mlm_nsp"], "type_vocab_size >= 2"),
    ]
    for extra, message in cases:
        argv = run_args(corpus, tmp_path / "bad", "--do_train", "--max_steps", "2")
        for flag_value in zip(extra[::2], extra[1::2]):  # later flags override earlier ones
            argv += list(flag_value)
        with pytest.raises(ValueError, match=message):
            pretrain(*parse(argv))
    assert not (tmp_path / "bad" / "checkpoint-1").exists()


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["mlm", "mlm_nsp"])
def test_gradient_accumulation_loss_scale(corpus, tmp_path, objective):
    """Logged loss with GA=4 x batch 2 matches GA=1 x batch 8 (not 4x larger: the Trainer's loss-kwargs trap)."""
    first = {}
    for ga, bs in ((1, 8), (4, 2)):
        argv = run_args(corpus, tmp_path / f"ga{ga}", "--objective", objective, "--do_train", "--max_steps", "2",
                        "--logging_steps", "1", "--learning_rate", "1e-7", "--gradient_accumulation_steps", str(ga),
                        "--per_device_train_batch_size", str(bs), "--save_strategy", "no")  # fmt: skip
        first[ga] = losses(pretrain(*parse(argv))["log_history"])[1]
    assert first[4] / first[1] == pytest.approx(1.0, abs=0.2), first


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(corpus, tmp_path):
    """Kill -9 the script after its first checkpoint; re-running the same command resumes and ends like a clean run."""
    extra = ["--do_train", "--max_steps", "30", "--save_steps", "10", "--logging_steps", "10"]
    clean = pretrain(*parse(run_args(corpus, tmp_path / "clean", *extra)))

    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, PRETRAIN, *run_args(corpus, out, *extra)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while last_complete_checkpoint(out) is None and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert still_running, "the run finished before it could be killed"
    checkpoint = last_complete_checkpoint(out)
    assert checkpoint is not None and not (out / "model.safetensors").exists()
    killed_at = int(checkpoint.rsplit("-", 1)[1])
    assert killed_at < 30

    resumed = pretrain(*parse(run_args(corpus, out, *extra)))  # same command: auto-resume
    assert resumed["global_step"] == clean["global_step"] == 30
    clean_losses, resumed_losses = losses(clean["log_history"]), losses(resumed["log_history"])
    print(
        f"killed after checkpoint-{killed_at}; loss at step 30: clean {clean_losses[30]}, resumed {resumed_losses[30]}"
    )
    # Masks are seeded per batch and the Trainer restores data position, optimizer, scheduler and RNG (dropout):
    # the resumed run is the uninterrupted one, up to float summation order.
    assert resumed_losses[30] == pytest.approx(clean_losses[30], rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["torchrun", "accelerate"])
def test_two_process_ddp_launch(corpus, tmp_path, launcher):
    """DDP on CPU (gloo) through the stock launchers, as in the README:
    `torchrun --nproc_per_node=2 scripts/pretrain.py ...` and `accelerate launch --multi_gpu --num_processes 2 ...`
    (accelerate's `--cpu` would start a single process; `--use_cpu --ddp_backend gloo` go to the Trainer)."""
    out = tmp_path / launcher
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    port = f"{_free_port()}"
    if launcher == "torchrun":
        head = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}"]
    else:
        head = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--main_process_port",
            port,
        ]
    cmd = [*head, PRETRAIN, *run_args(corpus, out, "--do_train", "--max_steps", "4", "--per_device_train_batch_size", "4",
                                      "--ddp_backend", "gloo", "--save_strategy", "no", "--log_level", "info")]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "Total train batch size (w. parallel, distributed & accumulation) = 8" in log  # 2 processes x 4
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert (out / "model.safetensors").exists()


def test_plot_loss_curve(tmp_path):
    from seedformer.pretraining.plotting import plot_loss_curve

    history = [{"step": s, "loss": 7 - s / 10} for s in range(10, 60, 10)]
    history += [{"step": 50, "eval_loss": 6.5, "eval_mlm_loss": 6.4, "eval_mlm_accuracy": 0.1}]
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    png = plot_loss_curve(tmp_path, tmp_path / "fig" / "loss.png", title="t")
    assert png.read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    with pytest.raises(ValueError, match="No logged losses"):
        plot_loss_curve(tmp_path, tmp_path / "x.png")


@pytest.mark.slow
def test_readme_imdb_commands_tiny(shared_data, tmp_path):
    """The README's IMDB commands with tiny settings (fewer documents and steps; the same flags otherwise)."""
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import train_tokenizer as tokenizer_script
    finally:
        sys.path.pop(0)
    unsup = str(shared_data / "imdb" / "unsup.jsonl.gz")
    tokenizer_script.main(["--train_file", unsup, "--max_train_samples", "300", "--algorithm", "wordpiece",
                           "--vocab_size", "500", "--output_dir", str(tmp_path / "tok")])  # fmt: skip
    argv = [
        "--train_file", unsup, "--max_train_samples", "200", "--max_eval_samples", "20",
        "--tokenizer_name", str(tmp_path / "tok"), "--objective", "mlm", "--preset", "bert_like",
        "--config_overrides", "hidden_size=64,num_hidden_layers=2,num_attention_heads=4,intermediate_size=256,"
        "max_position_embeddings=128,sparse_prediction=true",
        "--max_seq_length", "128", "--per_device_train_batch_size", "16", "--learning_rate", "2e-3",
        "--warmup_steps", "1", "--weight_decay", "0.01", "--max_steps", "4", "--logging_steps", "2",
        "--eval_strategy", "steps", "--eval_steps", "2", "--per_device_eval_batch_size", "64", "--save_steps", "2",
        "--save_total_limit", "2", "--use_cpu", "--do_train", "--do_eval", "--output_dir", str(tmp_path / "run"),
        "--disable_tqdm", "true",
    ]  # fmt: skip
    metrics = pretrain(*parse(argv))
    # 4 steps already beat guessing (chance: 1 / vocabulary; measured 0.0105 with a 500-token vocabulary)
    vocabulary = len(AutoTokenizer.from_pretrained(tmp_path / "tok"))
    assert metrics["global_step"] == 4 and 2 / vocabulary < metrics["eval_mlm_accuracy"] <= 1
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    from seedformer.pretraining.plotting import plot_loss_curve

    assert plot_loss_curve(tmp_path / "run", tmp_path / "loss.png").exists()


def test_batch_seeded_masking_is_reproducible(corpus):
    from seedformer.pretraining.collators import BatchSeededMaskingCollator
    from seedformer.pretraining.objectives import _mlm_collator

    tok = corpus["tok"]
    blocks = build_mlm_blocks(
        datasets.Dataset.from_dict({"text": corpus["docs"]}), tok, 32, load_from_cache_file=False
    )
    rows = [blocks[i] for i in range(8)]
    collator = _mlm_collator(tok, DataArguments())
    assert isinstance(collator, BatchSeededMaskingCollator)
    torch.manual_seed(1)
    first = collator(rows)
    torch.manual_seed(2)  # the global RNG does not matter ...
    again = collator(rows)
    assert torch.equal(first["labels"], again["labels"]) and torch.equal(first["input_ids"], again["input_ids"])
    other = collator([blocks[i] for i in range(8, 16)])  # ... the batch does
    assert not torch.equal(first["labels"] != -100, other["labels"] != -100)
    masked = (first["labels"] != -100).float().mean().item()
    assert 0.08 < masked < 0.25  # the stock 15% rate is kept
    assert type(_mlm_collator(tok, DataArguments(mask_seed=-1))) is DataCollatorForLanguageModeling


@pytest.mark.slow
def test_continue_pretraining_from_checkpoint(corpus, tmp_path):
    """--model_name_or_path: continue an MLM checkpoint with MLM, and with MLM+NSP (the NSP head starts fresh)."""
    first = tmp_path / "first"
    pretrain(*parse(run_args(corpus, first, "--do_train", "--max_steps", "3", "--save_strategy", "no")))
    from transformers import AutoModelForMaskedLM

    start = AutoModelForMaskedLM.from_pretrained(first).seedformer.embeddings.word_embeddings.weight.detach().clone()
    for objective in ("mlm", "mlm_nsp"):
        out = tmp_path / objective
        argv = run_args(
            corpus, out, "--objective", objective, "--do_train", "--max_steps", "2", "--save_strategy", "no"
        )
        argv[argv.index("--tokenizer_name") : argv.index("--tokenizer_name") + 2] = [
            "--model_name_or_path",
            str(first),
        ]
        argv[argv.index("--config_overrides") : argv.index("--config_overrides") + 2] = []
        assert pretrain(*parse(argv))["global_step"] == 2
        after = AutoModelForMaskedLM.from_pretrained(out).seedformer.embeddings.word_embeddings.weight
        assert after.shape == start.shape and not torch.equal(after, start)  # trained further ...
        assert (
            after - start
        ).abs().max() < 0.01  # ... from the checkpoint (2 Adam steps of lr 2e-3), not from scratch


# ---------------------------------------------------------------------------------------------------------------------
# The cpu_small recipe, time budgets, the linear probe
# ---------------------------------------------------------------------------------------------------------------------
def test_cpu_small_preset_round_trips_and_recipe_fills_only_defaults(tmp_path):
    from transformers import AutoConfig

    from seedformer import SeedformerConfig
    from seedformer.pretraining.recipes import RECIPES, apply_recipe

    config = SeedformerConfig.cpu_small(vocab_size=8192)
    assert (
        config.hidden_size,
        config.num_hidden_layers,
        config.position_embedding_type,
        config.sparse_prediction,
    ) == (128, 4, "rope", True)
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path).to_dict()
    assert {k: v for k, v in loaded.items() if k != "_name_or_path"} == {
        k: v for k, v in config.to_dict().items() if k != "_name_or_path"
    }

    argv = ["--output_dir", str(tmp_path / "o"), "--learning_rate", "1e-3", "--per_device_train_batch_size", "8"]
    model_args, data_args, training_args = parse(argv)
    assert model_args.preset == "cpu_small"  # the default of a from-scratch run
    assert data_args.mlm_probability == 0.3 and data_args.max_seq_length == 128
    assert training_args.learning_rate == 1e-3  # given on the command line: kept ...
    assert training_args.per_device_train_batch_size == 8  # ... even when equal to the stock default
    assert training_args.warmup_steps == 0.1 and training_args.adam_beta2 == 0.98
    assert apply_recipe(model_args, data_args, training_args) is RECIPES["cpu_small"]  # already applied: unchanged
    assert training_args.per_device_train_batch_size == 8
    # Python callers with hand-built dataclasses: the recipe fills the fields left at their defaults
    model_args, data_args, training_args = (
        ModelArguments(),
        DataArguments(),
        PretrainingArguments(output_dir=str(tmp_path)),
    )
    assert apply_recipe(model_args, data_args, training_args) is RECIPES["cpu_small"]
    assert training_args.per_device_train_batch_size == 16 and data_args.mlm_probability == 0.3
    # ... except those named in `keep`, set on purpose to a value equal to the default
    model_args, data_args, training_args = (
        ModelArguments(),
        DataArguments(mlm_probability=0.15),
        PretrainingArguments(output_dir=str(tmp_path)),
    )
    apply_recipe(model_args, data_args, training_args, keep={"mlm_probability"})
    assert data_args.mlm_probability == 0.15 and training_args.learning_rate == 2e-3
    assert apply_recipe(model_args, data_args, training_args) is RECIPES["cpu_small"]  # applied once, not again
    assert data_args.mlm_probability == 0.15
    with pytest.raises(ValueError, match="mlm_probabilty"):
        apply_recipe(ModelArguments(), data_args, training_args, keep={"mlm_probabilty"})
    model_args, data_args, training_args = parse(["--output_dir", "o", "--model_name_or_path", str(tmp_path)])
    assert data_args.mlm_probability == 0.15  # continuing a checkpoint: no recipe
    model_args, data_args, training_args = parse(["--output_dir", str(tmp_path / "o"), "--preset", "bert_like"])
    assert apply_recipe(model_args, data_args, training_args) is None and data_args.mlm_probability == 0.15


def test_budget_lr_factor():
    from seedformer.training.budget import budget_lr_factor

    assert budget_lr_factor(0.0, 0.1) == 0.0 and budget_lr_factor(0.05, 0.1) == pytest.approx(0.5)
    assert budget_lr_factor(0.1, 0.1) == pytest.approx(1.0) and budget_lr_factor(0.55, 0.1) == pytest.approx(0.5)
    assert budget_lr_factor(1.0, 0.1) == 0.0 and budget_lr_factor(3.0, 0.1) == 0.0


@pytest.mark.slow
def test_time_budget_stops_the_run_and_anneals_the_learning_rate(corpus, tmp_path):
    out = tmp_path / "budget"
    argv = run_args(corpus, out, "--do_train", "--max_steps", "100000", "--max_train_minutes", "0.04",
                    "--logging_steps", "1", "--save_steps", "100000")  # fmt: skip
    metrics = pretrain(*parse(argv))
    steps = metrics["global_step"]
    lrs = [e["learning_rate"] for e in metrics["log_history"] if "learning_rate" in e]
    assert 3 < steps < 100000
    assert 0.5 <= metrics["train_wall_seconds"] / 2.4 < 3  # stopped at the 2.4 s budget (plus the last step)
    assert max(lrs) <= 2e-3 and lrs[-1] < 0.25 * max(lrs)  # clock-driven: warm-up, then decay towards 0 at the end
    peak = lrs.index(max(lrs))
    assert peak > 0 and lrs[0] < max(lrs)  # starts inside the warm-up
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))  # after the (short) warm-up: decay only
    checkpoint = Path(last_complete_checkpoint(out))  # saved at the stop
    assert int(checkpoint.name.rsplit("-", 1)[1]) == steps
    spent = json.loads((checkpoint / "time_budget.json").read_text())["seconds_spent"]
    assert spent >= 2.4
    assert metrics["train_tokens"] == steps * 8 * 32


@pytest.mark.slow
def test_linear_probe_is_logged_during_pretraining(corpus, tmp_path):
    probe = tmp_path / "probe.jsonl"
    rows = [{"text": f"the {w} movie {w} {w}", "label": int(w in ("good", "brilliant", "funny"))}
            for w in ("good", "bad", "brilliant", "boring", "funny", "dark") * 8]  # fmt: skip
    probe.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = run_args(corpus, tmp_path / "run", "--do_train", "--do_eval", "--max_steps", "6", "--eval_strategy", "steps",
                    "--eval_steps", "3", "--probe_file", str(probe), "--probe_samples", "40")  # fmt: skip
    metrics = pretrain(*parse(argv))
    probed = [e["eval_probe_accuracy"] for e in metrics["log_history"] if "eval_probe_accuracy" in e]
    # each template word fully decides the label and recurs in both halves, so even a barely trained encoder's
    # features separate them (chance: 0.5)
    assert len(probed) >= 2 and all(0.9 <= p <= 1 for p in probed)
    assert 0.9 <= metrics["eval_probe_accuracy"] <= 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"review": "x", "label": 1}) + "\n")
    with pytest.raises(ValueError, match="lacks the column"):
        pretrain(
            *parse(
                run_args(
                    corpus, tmp_path / "bad", "--do_train", "--do_eval", "--max_steps", "1", "--probe_file", str(bad)
                )
            )
        )

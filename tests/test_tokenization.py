"""Tokenizer training: three algorithms, special tokens, pair template, options, save -> fresh-process AutoTokenizer."""

import json
import os
import subprocess
import sys
import textwrap

import datasets
import pytest

from seedformer.tokenization import ALGORITHMS, BERT_SPECIAL_TOKENS, BPE_SPECIAL_TOKENS, iter_texts, train_tokenizer

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Unbelievable acting, and a wonderful soundtrack!",
    "Café owners serve crème brûlée to naïve critics.",
    "A movie about movies: the director directs the directors.",
    "",
    "   ",
] * 40
VOCAB = {"wordpiece": 200, "bpe": 300, "unigram": 150}


@pytest.fixture(scope="module")
def trained():
    return {alg: train_tokenizer(CORPUS, algorithm=alg, vocab_size=VOCAB[alg], min_frequency=1) for alg in ALGORITHMS}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_special_tokens_and_pair_template(trained, algorithm):
    tok = trained[algorithm]
    specials = BPE_SPECIAL_TOKENS if algorithm == "bpe" else BERT_SPECIAL_TOKENS
    assert [tok.convert_tokens_to_ids(t) for t in specials.as_list()] == [0, 1, 2, 3, 4]
    assert (tok.pad_token, tok.cls_token, tok.sep_token, tok.mask_token) == (
        specials.pad,
        specials.cls,
        specials.sep,
        specials.mask,
    )
    assert 10 < len(tok) <= VOCAB[algorithm]
    enc = tok("the lazy dog", "a wonderful movie")
    ids, types = enc["input_ids"], enc["token_type_ids"]
    first_sep = ids.index(tok.sep_token_id)
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
    assert set(enc.keys()) == {"input_ids", "token_type_ids", "attention_mask"}
    single = tok("the lazy dog")["input_ids"]
    assert single[0] == tok.cls_token_id and single[-1] == tok.sep_token_id
    assert tok.decode(single, skip_special_tokens=True).strip() == "the lazy dog"
    assert tok.model_max_length == 512


def test_lowercase_and_accent_options():
    default = train_tokenizer(CORPUS, vocab_size=200, min_frequency=1)
    assert default.decode(default("Café CRÈME")["input_ids"], skip_special_tokens=True) == "cafe creme"
    cased = train_tokenizer(CORPUS, vocab_size=200, min_frequency=1, lowercase=False, strip_accents=False)
    assert cased.decode(cased("Café")["input_ids"], skip_special_tokens=True) == "Café"
    for alg in ("bpe", "unigram"):
        tok = train_tokenizer(CORPUS, algorithm=alg, vocab_size=VOCAB[alg], min_frequency=1, lowercase=True)
        assert tok.decode(tok("Café")["input_ids"], skip_special_tokens=True).strip() == "cafe"


@pytest.mark.slow
def test_fresh_process_autotokenizer_load(trained, tmp_path):
    """Saved folders load with plain transformers (no seedformer import, no remote code) and encode identically."""
    expected = {}
    for alg, tok in trained.items():
        tok.save_pretrained(tmp_path / alg)
        assert {"tokenizer.json", "tokenizer_config.json"} <= set(os.listdir(tmp_path / alg))
        expected[alg] = tok("the lazy dog", "crème brûlée")["input_ids"]
    code = textwrap.dedent(
        f"""
        import json, sys
        from transformers import AutoTokenizer
        out = {{}}
        for alg in {list(ALGORITHMS)!r}:
            tok = AutoTokenizer.from_pretrained({str(tmp_path)!r} + "/" + alg)
            enc = tok("the lazy dog", "crème brûlée")
            out[alg] = dict(ids=enc["input_ids"], types=enc["token_type_ids"], max_len=tok.model_max_length,
                            names=tok.model_input_names, mask=tok.mask_token)
        assert "seedformer" not in sys.modules
        print(json.dumps(out))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for alg in ALGORITHMS:
        assert loaded[alg]["ids"] == expected[alg]
        assert 1 in loaded[alg]["types"] and loaded[alg]["types"][0] == 0
        assert loaded[alg]["max_len"] == 512
        assert loaded[alg]["names"] == ["input_ids", "token_type_ids", "attention_mask"]
        assert loaded[alg]["mask"] == trained[alg].mask_token


def test_train_from_datasets_and_iterators():
    ds = datasets.Dataset.from_dict({"body": CORPUS})
    from_ds = train_tokenizer(iter_texts(ds, "body"), vocab_size=200, min_frequency=1)
    assert list(iter_texts(ds, "body", batch_size=7)) == CORPUS
    assert list(iter_texts(ds.to_iterable_dataset(), "body")) == CORPUS
    from_gen = train_tokenizer((t for t in CORPUS), vocab_size=200, min_frequency=1)
    for tok in (from_ds, from_gen):  # frequent corpus words became single tokens
        assert tok.tokenize("movie director") == ["movie", "director"]
    with pytest.raises(ValueError, match="Text column 'text' not found"):
        list(iter_texts(ds, "text"))


def test_bad_input():
    with pytest.raises(ValueError, match="empty corpus"):
        train_tokenizer(["", "  ", "\n"], vocab_size=100)
    with pytest.raises(ValueError, match="empty corpus"):
        train_tokenizer([], vocab_size=100)
    # a bare string would iterate over its characters and train a character vocabulary
    with pytest.raises(TypeError, match="iterable of texts.*not a single str"):
        train_tokenizer("the movie was great and the director too", vocab_size=100)
    with pytest.raises(TypeError, match="not a single bytes"):
        train_tokenizer(b"the movie", vocab_size=100)
    with pytest.raises(ValueError, match="Unknown tokenizer algorithm"):
        train_tokenizer(CORPUS, algorithm="sentencepiece")
    with pytest.raises(ValueError, match="byte-level BPE needs vocab_size"):
        train_tokenizer(CORPUS, algorithm="bpe", vocab_size=200)
    with pytest.raises(ValueError, match="no room"):
        train_tokenizer(CORPUS, vocab_size=5)


def test_train_tokenizer_script(tmp_path):
    """The README command (tiny settings): scripts/train_tokenizer.py on a jsonl.gz file."""
    import gzip

    data = tmp_path / "corpus.jsonl.gz"
    with gzip.open(data, "wt") as f:
        for line in CORPUS:
            f.write(json.dumps({"text": line}) + "\n")
    sys.path.insert(0, str(os.path.join(os.path.dirname(__file__), "..", "scripts")))
    try:
        import train_tokenizer as script
    finally:
        sys.path.pop(0)
    out = tmp_path / "tok"
    script.main(["--train_file", str(data), "--algorithm", "unigram", "--vocab_size", "150", "--output_dir", str(out)])
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    assert tok.mask_token == "[MASK]" and tok("a movie")["input_ids"][0] == tok.cls_token_id

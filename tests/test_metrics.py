"""The shipped metrics are local and deterministic: no network call, the same numbers with or without a network,
and the numbers of the reference packages (seqeval, sacrebleu, rouge_score, scikit-learn, scipy)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from seedformer.metrics import available_metrics, load_metric

PKG_PARENT = str(Path(__import__("seedformer").__file__).resolve().parents[1])

# Every shipped metric on fixed inputs; run in a fresh interpreter whose sockets refuse (and record) every use.
COMPUTE_ALL = r"""
import json, socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:] or args)[:200])
    raise OSError("network call attempted")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.getaddrinfo = refuse
from seedformer.metrics import available_metrics, load_metric
tags_ref = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"], ["I-PER", "O"]]
tags_pred = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG", "B-ORG"], ["I-PER", "O"]]
hyps = ["the cat sat on the mat", "a dog barked loudly today", "hello there"]
refs = ["the cat sat on a mat", "the dog barked loudly", "hello there my friend"]
results = {
    "accuracy": load_metric("accuracy").compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2]),
    "f1": load_metric("f1").compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2], average="macro"),
    "matthews_correlation": load_metric("matthews_correlation").compute(predictions=[1, 1, 0, 0, 1], references=[1, 0, 0, 0, 1]),
    "pearsonr": load_metric("pearsonr").compute(predictions=[1.0, 2.5, 2.0], references=[1.0, 2.0, 3.0]),
    "spearmanr": load_metric("spearmanr").compute(predictions=[1.0, 2.5, 2.0], references=[1.0, 2.0, 3.0]),
    "seqeval": load_metric("seqeval").compute(predictions=tags_pred, references=tags_ref),
    "bleu": load_metric("bleu").compute(predictions=hyps, references=refs),
    "rouge": load_metric("rouge").compute(predictions=hyps, references=refs),
    "squad": load_metric("squad").compute(
        predictions=[{"id": "a", "prediction_text": "the Eiffel Tower"}],
        references=[{"id": "a", "answers": {"text": ["Eiffel Tower"], "answer_start": [0]}}]),
}
assert sorted(results) == available_metrics(), (sorted(results), available_metrics())
print(json.dumps({"results": results, "attempts": attempts}, sort_keys=True))
"""


def closed_port() -> int:
    """A local port nobody listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compute_all(**env_overrides) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env.update(env_overrides, PYTHONPATH=os.pathsep.join([PKG_PARENT, env.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", COMPUTE_ALL], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_load_metric_hands_evaluate_only_shipped_file_paths(monkeypatch):
    """The fast check: `evaluate.load` only ever gets a shipped module's path (a bare name would go to the Hub)."""
    import evaluate

    asked = []
    monkeypatch.setattr(evaluate, "load", lambda path, **kwargs: asked.append((path, kwargs)))
    monkeypatch.delenv("HF_HUB_OFFLINE")  # online or not, the same path
    for name in available_metrics():
        load_metric(name, config_name="x")
    shipped = Path(__import__("seedformer.metrics").metrics.__file__).resolve().parent
    assert asked == [(str(shipped / f"{name}.py"), {"config_name": "x"}) for name in available_metrics()]


@pytest.mark.slow
def test_metrics_never_touch_the_network_and_do_not_depend_on_it(tmp_path):
    # offline, and "online" with the Hub endpoint at a closed local port (what the old load_metric tried first)
    offline = compute_all(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf1"))
    online = compute_all(HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", HF_HOME=str(tmp_path / "hf2"))
    assert offline["attempts"] == [] and online["attempts"] == []
    assert offline["results"] == online["results"]
    assert offline["results"]["accuracy"] == {"accuracy": 0.75}
    assert offline["results"]["squad"] == {"exact_match": 100.0, "f1": 100.0}


def test_unknown_metric_names_the_shipped_ones():
    with pytest.raises(ValueError, match=r"No metric 'glue'.*accuracy, bleu"):
        load_metric("glue")
    assert {"accuracy", "bleu", "f1", "rouge", "seqeval", "squad"} <= set(available_metrics())


def test_numbers_are_the_reference_packages():
    import sacrebleu
    from rouge_score import rouge_scorer
    from seqeval.metrics import classification_report

    preds, labels = [0, 2, 1, 1, 0, 2], [0, 1, 1, 2, 0, 2]
    assert load_metric("accuracy").compute(predictions=preds, references=labels)["accuracy"] == accuracy_score(
        labels, preds
    )
    assert load_metric("f1").compute(predictions=preds, references=labels, average="micro")["f1"] == f1_score(
        labels, preds, average="micro"
    )
    mcc = load_metric("matthews_correlation").compute(predictions=preds, references=labels)["matthews_correlation"]
    assert mcc == matthews_corrcoef(labels, preds)

    hyps = ["the cat sat on the mat today", "a quick brown fox jumps over it"]
    refs = ["the cat sat on the mat", "the quick brown fox jumps over the dog"]
    bleu = load_metric("bleu").compute(predictions=hyps, references=refs)
    expected = sacrebleu.corpus_bleu(hyps, [refs], smooth_method="none").score  # the Hub `bleu`: no smoothing
    assert 0 < bleu["score"] == expected and bleu["bleu"] == bleu["score"] / 100
    rouge = load_metric("rouge").compute(predictions=hyps, references=refs, rouge_types=["rouge1"])
    scorer = rouge_scorer.RougeScorer(["rouge1"])
    assert rouge["rouge1"] == pytest.approx(sum(scorer.score(r, h)["rouge1"].fmeasure for h, r in zip(hyps, refs)) / 2)

    tags_ref = [["B-PER", "I-PER", "O"], ["B-LOC", "O", "B-PER"]]
    tags_pred = [["B-PER", "I-PER", "O"], ["I-LOC", "O", "O"]]
    ours = load_metric("seqeval").compute(predictions=tags_pred, references=tags_ref)
    report = classification_report(tags_ref, tags_pred, output_dict=True, zero_division=0)
    assert ours["overall_f1"] == report["micro avg"]["f1-score"] and ours["PER"]["number"] == 2
    strict = load_metric("seqeval").compute(predictions=tags_pred, references=tags_ref, mode="strict")
    assert (
        strict["LOC"]["precision"] == 0.0 and ours["LOC"]["precision"] == 1.0
    )  # I-LOC opens no entity in strict IOB2


def test_seqeval_all_outside_tags_is_zero_without_warnings(recwarn):
    result = load_metric("seqeval").compute(predictions=[["O", "O"]], references=[["O", "O"]])
    assert result == {"overall_precision": 0.0, "overall_recall": 0.0, "overall_f1": 0.0, "overall_accuracy": 1.0}
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    with pytest.raises(ValueError, match="prediction 0 has 1 tags, its reference 2"):
        load_metric("seqeval").compute(predictions=[["O"]], references=[["O", "O"]])

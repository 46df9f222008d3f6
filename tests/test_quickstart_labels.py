"""The quickstart on a corpus with integer labels (IMDB's 0/1): `--class_names` makes the served classifier and the
summary speak in names. Tiny settings; the point is the labels, not the accuracy."""

import json
import subprocess
import sys

import pytest
from _finetuning_helpers import sentiment_rows, write_jsonl
from conftest import REPO


@pytest.mark.slow
def test_quickstart_integer_labels_get_class_names(tmp_path):
    rows = [{"text": r["text"], "label": int(r["label"] == "pos")} for r in sentiment_rows(200, seed=4)]
    corpus = write_jsonl(tmp_path / "imdb_like.jsonl", rows)
    out = tmp_path / "qs"
    command = [
        sys.executable, str(REPO / "scripts" / "quickstart.py"), "--output_dir", str(out), "--train_file", str(corpus),
        "--class_names", "negative,positive", "--max_examples", "200", "--vocab_size", "80", "--max_seq_length", "16",
        "--hidden_size", "16", "--num_hidden_layers", "1", "--num_attention_heads", "2", "--intermediate_size", "32",
        "--pretrain_steps", "10", "--pretrain_batch_size", "8", "--finetune_epochs", "2",  # >= 10 steps per stage: one logged loss each
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    labels = [p["label"] for p in summary["predictions"].values()]
    assert len(labels) == 4 and set(labels) <= {"negative", "positive"}
    assert summary["stages"][-1]["result"] == ", ".join(labels)
    config = json.loads((out / "classifier" / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    served = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and "  " in line[2:]]
    assert served[-4:] == labels  # the pipeline lines printed after the reload

"""The main job end to end, with tiny settings: every stage runs, the classifier is saved, reloaded in a fresh
process and served by a pipeline, and the summary and loss-curve figure are written. The corpus is the embedded
reviews written to a file with IMDB's kind of labels (bare ids 0/1), so `--class_names` must make the served
classifier and the summary speak in names; the README test runs the embedded default itself."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _finetuning_helpers import write_jsonl

from seedformer.demo.corpus import build_corpus

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path):
    corpus = write_jsonl(tmp_path / "imdb_like.jsonl", build_corpus(200))  # label: 0 / 1
    out = tmp_path / "qs"
    command = [
        sys.executable,
        str(REPO / "scripts" / "quickstart.py"),
        "--output_dir",
        str(out),
        "--train_file",
        str(corpus),
        "--class_names",
        "negative,positive",
        "--max_examples",
        "200",
        "--vocab_size",
        "300",
        "--max_seq_length",
        "48",
        "--hidden_size",
        "32",
        "--num_hidden_layers",
        "1",
        "--num_attention_heads",
        "2",
        "--intermediate_size",
        "64",
        "--pretrain_steps",
        "30",
        "--pretrain_batch_size",
        "8",  # equal to TrainingArguments' default: the recipe (batch 16) must not replace it
        "--finetune_epochs",
        "6",
        "--finetune_learning_rate",
        "3e-3",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [s["stage"] for s in summary["stages"]] == [
        "data",
        "tokenizer",
        "pretraining",
        "finetuning",
        "random-init control",
        "reload + pipeline",
    ]
    # pretraining made progress and the classifier learned the (easy) embedded task
    state = json.loads((out / "pretrained" / "trainer_state.json").read_text())
    assert state["train_batch_size"] == 8
    losses = [h["loss"] for h in state["log_history"] if "loss" in h]
    assert losses[-1] < losses[0]
    assert summary["finetuning"]["eval_accuracy"] > 0.8
    # the control: the same architecture from random weights, finetuned with the same protocol, reported beside it
    control = summary["random_init_finetuning"]
    assert 0.0 <= control["eval_accuracy"] <= 1.0 and control["eval_samples"] == summary["finetuning"]["eval_samples"]
    random_config = json.loads((out / "random_init" / "config.json").read_text())
    pretrained_config = json.loads((out / "pretrained" / "config.json").read_text())
    assert {k: random_config[k] for k in ("hidden_size", "num_hidden_layers", "position_embedding_type")} == {
        k: pretrained_config[k] for k in ("hidden_size", "num_hidden_layers", "position_embedding_type")
    }
    assert "pretrained vs random init" in result.stdout
    labels = [p["label"] for p in summary["predictions"].values()]
    assert len(labels) == 4 and set(labels) == {"negative", "positive"}
    assert summary["stages"][-1]["result"] == ", ".join(labels)
    assert json.loads((out / "classifier" / "config.json").read_text())["id2label"] == {
        "0": "negative",
        "1": "positive",
    }
    served = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and "  " in line[2:]]
    assert served[-4:] == labels  # the pipeline lines printed after the reload
    assert (out / "classifier" / "loss_curves.png").stat().st_size > 1000
    assert (out / "classifier" / "model.safetensors").exists() and (out / "classifier" / "tokenizer.json").exists()
    assert "total" in result.stdout and "eval accuracy" in result.stdout and "masked-token accuracy" in result.stdout

"""scripts/finetune.py end to end on tiny checkpoints and toy data: each task learns, metrics and prediction files
are written, the best checkpoint is chosen by the task's metric, and bad input fails with a clear error."""

import json

import numpy as np
import pytest
from _finetuning_helpers import (
    TRAIN_FLAGS,
    load_script,
    make_tokenizer,
    ner_sentences,
    qa_rows,
    save_checkpoint,
    sentiment_rows,
    swag_rows,
    write_conll,
    write_jsonl,
)
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from seedformer.finetuning.arguments import DataArguments
from seedformer.finetuning.data import load_raw_datasets, read_conll
from seedformer.finetuning.question_answering import QuestionAnsweringRecipe
from seedformer.finetuning.token_classification import TokenClassificationRecipe
from seedformer.metrics import load_metric


@pytest.fixture(scope="module")
def base_ckpt(tmp_path_factory):
    return save_checkpoint(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def finetune():
    return load_script("finetune").main


def train_losses(out_dir):
    state = json.loads((out_dir / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry]


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:  # lines end at "\n" only (texts may hold U+2028 and friends)
        return [json.loads(line) for line in handle]


# --- text classification ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_text_classification_learns_picks_best_and_writes_outputs(tmp_path, base_ckpt, finetune):
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(96, seed=1))
    test = write_jsonl(tmp_path / "test.jsonl", [{"text": r["text"]} for r in sentiment_rows(8, seed=3)])
    out = tmp_path / "out"
    results = finetune(
        [
            "--task",
            "text-classification",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(train),
            "--validation_split_percentage",
            "25",
            "--test_file",
            str(test),
            "--output_dir",
            str(out),
            "--do_train",
            "--do_eval",
            "--do_predict",
            "--num_train_epochs",
            "8",
            "--learning_rate",
            "5e-3",
            "--eval_strategy",
            "epoch",
            "--save_strategy",
            "epoch",
            "--load_best_model_at_end",
            "--save_total_limit",
            "2",
            *TRAIN_FLAGS,
        ]
    )
    losses = train_losses(out)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert results["eval_accuracy"] >= 0.9  # one keyword decides the label
    assert {"eval_f1", "eval_matthews_correlation"} <= set(results)
    # best checkpoint chosen by accuracy, not loss
    state = json.loads((out / "trainer_state.json").read_text())
    evals = [e for e in state["log_history"] if "eval_accuracy" in e]
    assert results["best_accuracy"] == pytest.approx(max(e["eval_accuracy"] for e in evals))
    # final model saved with its tokenizer and label names
    config = AutoConfig.from_pretrained(out)
    assert config.id2label == {0: "neg", 1: "pos"} and config.problem_type == "single_label_classification"
    assert AutoTokenizer.from_pretrained(out)("good film")["input_ids"]
    predictions = read_jsonl(out / "eval_predictions.jsonl")
    assert len(predictions) == results["eval_samples"] == 24
    assert np.mean([p["prediction"] == p["label"] for p in predictions]) == pytest.approx(results["eval_accuracy"])
    assert {p["prediction"] for p in read_jsonl(out / "predict_predictions.jsonl")} <= {"neg", "pos"}


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["pairs_multiclass", "multi_label", "regression"])
def test_text_classification_problem_types(tmp_path, base_ckpt, finetune, problem):
    rows = sentiment_rows(32, seed=2)
    extra = []
    if problem == "pairs_multiclass":
        for i, r in enumerate(rows):
            r["hypothesis"], r["label"] = "yes", ["entailment", "neutral", "contradiction"][i % 3]
        extra = ["--text_pair_column", "hypothesis"]
        expected = {"eval_accuracy", "eval_f1", "eval_matthews_correlation"}
    elif problem == "multi_label":
        for i, r in enumerate(rows):
            r["label"] = [r["label"]] + (["long"] if i % 2 else [])
        expected = {"eval_f1", "eval_f1_macro", "eval_exact_match"}
    else:
        for r in rows:
            r["label"] = float(r["label"] == "pos")
        expected = {"eval_pearsonr", "eval_spearmanr", "eval_mse"}
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    out = tmp_path / "out"
    results = finetune(
        [
            "--task",
            "text-classification",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(train),
            "--validation_split_percentage",
            "25",
            "--output_dir",
            str(out),
            "--do_train",
            "--do_eval",
            "--max_steps",
            "3",
            "--save_strategy",
            "no",
            *extra,
            *TRAIN_FLAGS,
        ]
    )
    assert expected <= set(results)
    config = AutoConfig.from_pretrained(out)
    if problem == "pairs_multiclass":
        assert sorted(config.label2id) == ["contradiction", "entailment", "neutral"]
    elif problem == "multi_label":
        assert config.problem_type == "multi_label_classification" and sorted(config.label2id) == [
            "long",
            "neg",
            "pos",
        ]
        assert all(isinstance(p["prediction"], list) for p in read_jsonl(out / "eval_predictions.jsonl"))
    else:
        assert config.problem_type == "regression" and config.num_labels == 1


# --- token classification -------------------------------------------------------------------------------------
def test_conll_reader_and_first_subtoken_labels(tmp_path):
    path = write_conll(
        tmp_path / "train.txt", [(["alices", "smith", "saw", "paris"], ["B-PER", "I-PER", "O", "B-LOC"])]
    )
    data = read_conll(path)
    assert data[0]["tokens"] == ["alices", "smith", "saw", "paris"] and data[0]["ner_tags"][3] == "B-LOC"
    args = DataArguments(task="token-classification", train_file=str(path))
    recipe = TokenClassificationRecipe(args)
    recipe.setup_labels({"train": data})
    assert recipe.label_list == ["O", "B-LOC", "B-PER", "I-PER"]
    features = recipe.preprocess(data, make_tokenizer(), "train")
    tokens = make_tokenizer().convert_ids_to_tokens(features[0]["input_ids"])
    assert tokens == ["[CLS]", "alice", "##s", "smith", "saw", "paris", "[SEP]"]
    ids = {name: i for i, name in enumerate(recipe.label_list)}
    assert features[0]["labels"] == [-100, ids["B-PER"], -100, ids["I-PER"], ids["O"], ids["B-LOC"], -100]


@pytest.mark.slow
def test_token_classification_learns_entities(tmp_path, base_ckpt, finetune):
    train = write_conll(tmp_path / "train.txt", ner_sentences(96, seed=1))
    dev = write_conll(tmp_path / "dev.txt", ner_sentences(24, seed=2))
    out = tmp_path / "out"
    results = finetune(
        [
            "--task",
            "token-classification",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(train),
            "--validation_file",
            str(dev),
            "--output_dir",
            str(out),
            "--do_train",
            "--do_eval",
            "--num_train_epochs",
            "5",
            "--learning_rate",
            "5e-3",
            "--eval_strategy",
            "epoch",
            "--save_strategy",
            "epoch",
            "--load_best_model_at_end",
            "--save_total_limit",
            "1",
            *TRAIN_FLAGS,
        ]
    )
    losses = train_losses(out)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert results["best_f1"] == pytest.approx(results["eval_f1"])  # the kept model is the best by entity F1
    assert results["eval_f1"] > 0.8 and {"eval_PER_f1", "eval_LOC_f1", "eval_precision"} <= set(results)
    predictions = read_jsonl(out / "eval_predictions.jsonl")
    assert all(len(p["prediction"]) == len(p["tokens"]) for p in predictions)
    # the file's per-word tags give back the reported entity F1 (no truncation at this length)
    seqeval = load_metric("seqeval").compute(
        predictions=[p["prediction"] for p in predictions], references=[p["label"] for p in predictions]
    )
    assert seqeval["overall_f1"] == pytest.approx(results["eval_f1"])


# --- question answering ------------------------------------------------------------------------------------------
def test_qa_features_point_at_the_answer_across_chunks():
    rows = qa_rows(6, seed=4, context_words=30)
    args = DataArguments(task="question-answering", train_file="x.jsonl", max_seq_length=24, doc_stride=8)
    recipe = QuestionAnsweringRecipe(args)
    from datasets import Dataset

    data = Dataset.from_list(rows)
    recipe.setup_labels({"train": data})
    tokenizer = make_tokenizer()
    features = recipe.preprocess(data, tokenizer, "train")
    assert len(features) > len(rows)  # long contexts were split into several chunks
    contexts = {r["id"]: r for r in rows}
    found = set()
    for feature in features:
        row = contexts[feature["example_id"]]
        start, end = feature["start_positions"], feature["end_positions"]
        if start == 0:
            assert end == 0
            continue
        offsets = feature["offset_mapping"]
        assert row["context"][offsets[start][0] : offsets[end][1]] == row["answers"]["text"][0]
        found.add(row["id"])
    assert found == set(contexts)  # every answer is inside at least one chunk


@pytest.mark.slow
def test_question_answering_learns_spans(tmp_path, base_ckpt, finetune):
    train = write_jsonl(tmp_path / "train.jsonl", qa_rows(64, seed=1, context_words=12))
    dev = write_jsonl(tmp_path / "dev.jsonl", qa_rows(16, seed=2, context_words=20))
    out = tmp_path / "out"
    results = finetune(
        [
            "--task",
            "question-answering",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(train),
            "--validation_file",
            str(dev),
            "--output_dir",
            str(out),
            "--do_train",
            "--do_eval",
            "--max_seq_length",
            "24",
            "--doc_stride",
            "8",
            "--num_train_epochs",
            "6",
            "--learning_rate",
            "5e-3",
            "--save_strategy",
            "no",
            *TRAIN_FLAGS,
        ]
    )
    losses = train_losses(out)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert {"eval_exact_match", "eval_f1"} <= set(results) and results["eval_exact_match"] >= 50
    predictions = read_jsonl(out / "eval_predictions.jsonl")
    rows = {r["id"]: r for r in qa_rows(16, seed=2, context_words=20)}
    for p in predictions:
        assert rows[p["id"]]["context"][p["start"] : p["end"]] == p["prediction_text"]
    exact = np.mean([p["prediction_text"] == rows[p["id"]]["answers"]["text"][0] for p in predictions])
    assert 100 * exact == pytest.approx(results["eval_exact_match"])


# --- multiple choice ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_multiple_choice_swag_style(tmp_path, base_ckpt, finetune):
    train = write_jsonl(tmp_path / "train.jsonl", swag_rows(48, seed=1))
    dev = write_jsonl(tmp_path / "dev.jsonl", swag_rows(16, seed=2))
    out = tmp_path / "out"
    results = finetune(
        [
            "--task",
            "multiple-choice",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(train),
            "--validation_file",
            str(dev),
            "--output_dir",
            str(out),
            "--do_train",
            "--do_eval",
            "--num_train_epochs",
            "4",
            "--learning_rate",
            "3e-3",
            "--save_strategy",
            "no",
            *TRAIN_FLAGS,
        ]
    )
    losses = train_losses(out)
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    predictions = read_jsonl(out / "eval_predictions.jsonl")
    assert len(predictions) == 16 and all(len(p["probabilities"]) == 4 for p in predictions)
    # The reported accuracy is the written predictions' agreement with the gold endings.
    assert results["eval_accuracy"] == pytest.approx(np.mean([p["prediction"] == p["label"] for p in predictions]))
    assert all(p["prediction"] == int(np.argmax(p["probabilities"])) for p in predictions)


@pytest.mark.slow
def test_two_process_ddp_finetune_reports_once(tmp_path, base_ckpt):
    """`torchrun --nproc_per_node 2 scripts/finetune.py ... --use_cpu --ddp_backend gloo` runs two processes (global
    batch 2 x 4) and only rank 0 prints the results and writes the output files (LoRA + merge, the most of them)."""
    import os
    import socket
    import subprocess
    import sys

    from conftest import REPO

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(32, seed=1))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={port}",
        str(REPO / "scripts" / "finetune.py"),
        "--task",
        "text-classification",
        "--model_name_or_path",
        str(base_ckpt),
        "--train_file",
        str(train),
        "--validation_split_percentage",
        "25",
        "--output_dir",
        str(out),
        "--do_train",
        "--do_eval",
        "--max_steps",
        "2",
        "--save_strategy",
        "no",
        "--ddp_backend",
        "gloo",
        "--log_level",
        "info",
        "--use_lora",
        "--lora_r",
        "2",
        "--merge_lora",
        *TRAIN_FLAGS,
        "--per_device_train_batch_size",
        "4",
    ]  # fmt: skip  (the last value of a flag wins)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Total train batch size (w. parallel, distributed & accumulation) = 8" in result.stdout + result.stderr
    assert result.stdout.count('"eval_accuracy"') == 1, result.stdout  # one results summary, not one per process
    assert result.stdout.count("trainable params") == 1
    written = json.loads((out / "all_results.json").read_text())
    assert written["eval_samples"] == 8 and (out / "merged" / "model.safetensors").exists()
    assert len(read_jsonl(out / "eval_predictions.jsonl")) == 8


# --- data loading and bad input ----------------------------------------------------------------------------------
def test_file_formats_and_seeded_subsets(tmp_path):
    rows = sentiment_rows(20, seed=5)
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    write_jsonl(tmp_path / "d.jsonl", rows)
    import gzip

    with open(tmp_path / "d.jsonl", "rb") as src, gzip.open(tmp_path / "d.jsonl.gz", "wb") as dst:
        dst.write(src.read())
    for name in ("d.csv", "d.tsv", "d.parquet", "d.jsonl", "d.jsonl.gz"):
        raw = load_raw_datasets(DataArguments(task="text-classification", train_file=str(tmp_path / name)))
        assert raw["train"]["text"] == frame["text"].tolist(), name
    args = DataArguments(
        task="text-classification",
        train_file=str(tmp_path / "d.jsonl"),
        max_train_samples=5,
        validation_split_percentage=20,
    )
    first, again = load_raw_datasets(args, seed=1), load_raw_datasets(args, seed=1)
    assert len(first["train"]) == 5 and len(first["validation"]) == 4
    assert first["train"]["text"] == again["train"]["text"]
    assert first["train"]["text"] != frame["text"].tolist()[:5]  # a random subset, not the first rows


def _write_headerless(path, rows, sep):
    """AG News as distributed: every field quoted, class index first, no header row."""
    with open(path, "w") as handle:
        for row in rows:
            handle.write(sep.join(f'"{v}"' for v in (row["label"], row["title"], row["text"])) + "\n")
    return path


def test_headerless_csv_and_tsv_with_column_names(tmp_path, base_ckpt, finetune):
    rng_rows = sentiment_rows(24, seed=7)
    rows = [
        {"label": 2 if r["label"] == "pos" else 1, "title": f"review {i}", "text": r["text"]}
        for i, r in enumerate(rng_rows)
    ]
    csv_path = _write_headerless(tmp_path / "ag.csv", rows, ",")
    tsv_path = _write_headerless(tmp_path / "ag.tsv", rows, "\t")
    for path in (csv_path, tsv_path):
        raw = load_raw_datasets(
            DataArguments(task="text-classification", train_file=str(path), column_names="label,title,text")
        )
        assert raw["train"].column_names == ["label", "title", "text"]
        assert raw["train"]["text"] == [r["text"] for r in rows]  # the first line is a row, not a header
        assert raw["train"]["label"] == [r["label"] for r in rows]
    with pytest.raises(ValueError, match=r"names 2 columns .* rows have 3"):
        load_raw_datasets(DataArguments(task="text-classification", train_file=str(csv_path), column_names="a,b"))
    json_path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(ValueError, match="only applies to csv/tsv"):
        load_raw_datasets(DataArguments(task="text-classification", train_file=str(json_path), column_names="a,b,c"))

    flags = [
        "--task",
        "text-classification",
        "--model_name_or_path",
        str(base_ckpt),
        "--train_file",
        str(csv_path),
        "--validation_split_percentage",
        "25",
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
        "--do_train",
        "--do_eval",
        *TRAIN_FLAGS,
    ]
    # without names, the first data row became the "columns": the error says so and names the flag
    with pytest.raises(ValueError, match=r"seems to have no header row.*--column_names") as error:
        finetune([*flags, "--output_dir", str(tmp_path / "bad")])
    assert "review 0" in str(error.value)
    finetune(
        [
            *flags,
            "--output_dir",
            str(tmp_path / "out"),
            "--column_names",
            "label,title,text",
            "--text_column",
            "title",
            "--text_pair_column",
            "text",
        ]
    )
    config = AutoConfig.from_pretrained(tmp_path / "out")
    assert config.id2label == {0: "1", 1: "2"}


def test_extract_features_reads_headerless_files(tmp_path):
    rows = [{"label": 1, "title": f"title {i}", "text": f"the film was good {i}"} for i in range(3)]
    path = _write_headerless(tmp_path / "ag.tsv", rows, "\t")
    from seedformer.cli import extract_features as script

    ids, texts = script.read_inputs(str(path), "text", "title", None, column_names="label,title,text")
    assert texts == [r["text"] for r in rows] and ids == [r["title"] for r in rows]
    with pytest.raises(SystemExit, match="seems to have no header row.*--column_names"):
        script.read_inputs(str(path), "text", None, None)


def test_class_names_for_integer_labels(tmp_path, base_ckpt, finetune):
    """IMDB-style 0/1 labels: --class_names gives them names in the config, the predictions and a pipeline."""
    from transformers import pipeline

    rows = [{"text": r["text"], "label": int(r["label"] == "pos")} for r in sentiment_rows(16, seed=3)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    flags = [
        "--task",
        "text-classification",
        "--model_name_or_path",
        str(base_ckpt),
        "--train_file",
        str(train),
        "--validation_split_percentage",
        "25",
        "--max_steps",
        "1",
        "--save_strategy",
        "no",
        "--do_train",
        "--do_eval",
        *TRAIN_FLAGS,
    ]
    finetune([*flags, "--output_dir", str(tmp_path / "ids")])
    assert AutoConfig.from_pretrained(tmp_path / "ids").id2label == {0: "0", 1: "1"}  # the data names nothing
    out = tmp_path / "named"
    finetune([*flags, "--output_dir", str(out), "--class_names", "negative,positive"])
    assert AutoConfig.from_pretrained(out).id2label == {0: "negative", 1: "positive"}
    by_text = {r["text"]: r["label"] for r in rows}
    for record in read_jsonl(out / "eval_predictions.jsonl"):
        assert record["label"] == ["negative", "positive"][by_text[record["text"]]]  # id i is the i-th name
        assert record["prediction"] in ("negative", "positive")
    assert pipeline("text-classification", model=str(out))("good film")[0]["label"] in ("negative", "positive")

    rows[3]["label"] = 2
    write_jsonl(train, rows)
    with pytest.raises(ValueError, match=r"label values \['2'\] that --class_names does not name \(it covers 0..1\)"):
        finetune([*flags, "--output_dir", str(tmp_path / "bad"), "--class_names", "negative,positive"])
    write_jsonl(train, sentiment_rows(8, seed=3))
    with pytest.raises(ValueError, match="holds string values; drop --class_names"):
        finetune([*flags, "--output_dir", str(tmp_path / "bad"), "--class_names", "negative,positive"])
    with pytest.raises(ValueError, match="not a mix"):
        finetune([*flags, "--output_dir", str(tmp_path / "bad"), "--class_names", "neg=negative,positive"])


def test_class_names_value_pairs_for_one_based_ids(tmp_path):
    """AG News as distributed numbers its classes 1..4: value=name pairs name them; ids follow the pairs' order."""
    rows = [{"text": f"text {i}", "label": 1 + i % 4} for i in range(12)]
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    args = DataArguments(
        task="text-classification", train_file=str(train), class_names="1=World,2=Sports,3=Business,4=Sci/Tech"
    )
    from seedformer.finetuning.text_classification import TextClassificationRecipe

    raw = load_raw_datasets(args)
    recipe = TextClassificationRecipe(args)
    recipe.setup_labels(raw)
    assert recipe.label_list == ["World", "Sports", "Business", "Sci/Tech"]
    first = raw["train"].features["label"].int2str(raw["train"]["label"][:4])
    assert first == ["World", "Sports", "Business", "Sci/Tech"]  # rows 0..3 hold ids 1..4
    with pytest.raises(ValueError, match="distinct"):
        DataArguments(task="text-classification", train_file=str(train), class_names="1=a,1=b")


def test_header_hint_only_for_data_like_headers():
    from seedformer.finetuning.data import header_looks_like_data

    assert not header_looks_like_data(["text", "label"])
    assert not header_looks_like_data(["sentence1", "sentence2", "label", "idx"])
    assert header_looks_like_data(
        ["3", "Wall St. Bears Claw Back", "Reuters - Short-sellers, Wall Street's dwindling"]
    )
    assert header_looks_like_data(["pos", "pos.1"])  # a value repeated in the first row (pandas renames the copy)
    assert header_looks_like_data(["Unnamed: 0", "text"])  # an empty first-row cell


def _run_bad(finetune, tmp_path, ckpt, train_rows, eval_rows, *extra):
    train = write_jsonl(tmp_path / "train.jsonl", train_rows)
    dev = tmp_path / "dev.jsonl"
    write_jsonl(dev, eval_rows)
    return finetune(
        [
            "--task",
            "text-classification",
            "--model_name_or_path",
            str(ckpt),
            "--train_file",
            str(train),
            "--validation_file",
            str(dev),
            "--output_dir",
            str(tmp_path / "out"),
            "--do_train",
            "--do_eval",
            "--max_steps",
            "1",
            "--save_strategy",
            "no",
            *extra,
            *TRAIN_FLAGS,
        ]
    )


def test_unknown_eval_label_is_an_error(tmp_path, base_ckpt, finetune):
    dev = sentiment_rows(4, seed=2)
    dev[1]["label"] = "meh"
    with pytest.raises(ValueError, match=r"not seen in training.*'meh'"):
        _run_bad(finetune, tmp_path, base_ckpt, sentiment_rows(8, seed=1), dev)


def test_missing_label_column_is_an_error(tmp_path, base_ckpt, finetune):
    with pytest.raises(ValueError, match=r"no label column 'label'.*columns are \['text'\]") as error:
        _run_bad(finetune, tmp_path, base_ckpt, sentiment_rows(8, seed=1), [{"text": "good film"}])
    assert "no header row" not in str(error.value)  # a real header: no hint about headerless files


def test_a_run_with_nothing_to_do_fails(tmp_path, base_ckpt, finetune):
    train = write_jsonl(tmp_path / "train.jsonl", sentiment_rows(8, seed=1))
    with pytest.raises(ValueError, match="Nothing to do.*--do_train"):
        finetune(
            [
                "--task",
                "text-classification",
                "--model_name_or_path",
                str(base_ckpt),
                "--train_file",
                str(train),
                "--output_dir",
                str(tmp_path / "out"),
                *TRAIN_FLAGS,
            ]
        )
    assert not (tmp_path / "out").exists()


def test_empty_eval_split_is_an_error(tmp_path, base_ckpt, finetune):
    with pytest.raises(ValueError, match="validation split is empty"):
        _run_bad(finetune, tmp_path, base_ckpt, sentiment_rows(8, seed=1), [])


def test_head_size_mismatch_is_an_error_unless_asked(tmp_path, finetune):
    three = tmp_path / "three"
    save_checkpoint(three, AutoModelForSequenceClassification, num_labels=3)
    rows = sentiment_rows(8, seed=1)
    with pytest.raises(ValueError, match=r"head does not fit the data \(2 labels\).*ignore_mismatched_sizes"):
        _run_bad(finetune, tmp_path, three, rows, rows)
    results = _run_bad(finetune, tmp_path, three, rows, rows, "--ignore_mismatched_sizes")
    assert AutoConfig.from_pretrained(tmp_path / "out").num_labels == 2 and "eval_accuracy" in results


def test_finetune_builds_the_model_once(tmp_path, base_ckpt, finetune, monkeypatch):
    """One checkpoint load (one load report), also when checking the head size and when the head is mismatched."""
    from seedformer import SeedformerForSequenceClassification

    built = []
    original_init = SeedformerForSequenceClassification.__init__

    def counting_init(self, config, *args, **kwargs):
        built.append(config.num_labels)
        original_init(self, config, *args, **kwargs)

    monkeypatch.setattr(SeedformerForSequenceClassification, "__init__", counting_init)
    rows = sentiment_rows(8, seed=1)
    _run_bad(finetune, tmp_path, base_ckpt, rows, rows)
    assert built == [2]
    three = save_checkpoint(tmp_path / "three", AutoModelForSequenceClassification, num_labels=3)
    built.clear()
    with pytest.raises(ValueError, match="head does not fit"):
        _run_bad(finetune, tmp_path, three, rows, rows)
    assert built == [2]


def test_named_head_for_other_labels_is_an_error(tmp_path, finetune):
    named = tmp_path / "named"
    save_checkpoint(
        named, AutoModelForSequenceClassification, id2label={0: "cat", 1: "dog"}, label2id={"cat": 0, "dog": 1}
    )
    rows = sentiment_rows(8, seed=1)
    with pytest.raises(ValueError, match=r"trained for labels \['cat', 'dog'\] but the data has \['neg', 'pos'\]"):
        _run_bad(finetune, tmp_path, named, rows, rows)


# --- offline metrics ------------------------------------------------------------------------------------------
def test_seqeval_matches_the_seqeval_package():
    import seqeval.metrics as seqeval_pkg  # a dev dependency: compare, never skip
    from seqeval.scheme import IOB2

    rng = np.random.default_rng(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    refs = [[tags[i] for i in rng.integers(0, 5, rng.integers(1, 12))] for _ in range(200)]
    preds = [[t if rng.random() < 0.7 else tags[rng.integers(0, 5)] for t in row] for row in refs]
    ours = load_metric("seqeval")
    for mode, kwargs in ((None, {}), ("strict", {"mode": "strict", "scheme": IOB2})):
        result = ours.compute(predictions=preds, references=refs, mode=mode)
        assert result["overall_f1"] == pytest.approx(seqeval_pkg.f1_score(refs, preds, **kwargs))
        assert result["overall_precision"] == pytest.approx(seqeval_pkg.precision_score(refs, preds, **kwargs))
        assert result["overall_recall"] == pytest.approx(seqeval_pkg.recall_score(refs, preds, **kwargs))
        report = seqeval_pkg.classification_report(refs, preds, output_dict=True, **kwargs)
        assert result["PER"]["f1"] == pytest.approx(report["PER"]["f1-score"])
        assert result["LOC"]["number"] == report["LOC"]["support"]


def test_classification_and_squad_metrics_by_hand():
    assert load_metric("f1").compute(predictions=[0, 1, 1, 0], references=[0, 1, 0, 1])["f1"] == pytest.approx(0.5)
    macro = load_metric("f1").compute(predictions=[0, 1, 2, 2], references=[0, 1, 1, 2], average="macro")["f1"]
    assert macro == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    mcc = load_metric("matthews_correlation").compute(predictions=[1, 1, 0, 0], references=[1, 0, 1, 0])
    assert mcc["matthews_correlation"] == pytest.approx(0.0)
    assert load_metric("pearsonr").compute(predictions=[1, 2, 3], references=[2, 4, 6])["pearsonr"] == pytest.approx(1)
    assert load_metric("spearmanr").compute(predictions=[1, 2, 30], references=[3, 2, 1])[
        "spearmanr"
    ] == pytest.approx(-1)
    squad = load_metric("squad").compute(
        predictions=[{"id": "a", "prediction_text": "The Eiffel tower"}, {"id": "b", "prediction_text": "in rome"}],
        references=[
            {"id": "a", "answers": {"text": ["eiffel tower", "paris"], "answer_start": [0, 0]}},
            {"id": "b", "answers": {"text": ["paris"], "answer_start": [0]}},
        ],
    )
    assert squad == {"exact_match": 50.0, "f1": 50.0}


# --- the README's real-data commands, with tiny sizes -----------------------------------------------------------
@pytest.mark.slow
def test_readme_imdb_and_conll_commands_run_on_shared_data(tmp_path, shared_data, base_ckpt, finetune):
    common = [
        "--per_device_train_batch_size",
        "16",
        "--per_device_eval_batch_size",
        "64",
        "--num_train_epochs",
        "1",
        "--seed",
        "42",
        "--save_strategy",
        "no",
        "--logging_steps",
        "25",
        "--do_train",
        "--do_eval",
        "--use_cpu",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--max_steps",
        "2",
    ]  # README: no --max_steps
    imdb = finetune(
        [
            "--task",
            "text-classification",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(shared_data / "imdb" / "train.jsonl.gz"),
            "--validation_split_percentage",
            "10",
            "--max_train_samples",
            "32",
            "--max_eval_samples",
            "16",
            "--max_seq_length",
            "32",
            "--learning_rate",
            "5e-5",
            "--output_dir",
            str(tmp_path / "imdb"),
            *common,
        ]
    )
    assert imdb["eval_samples"] == 16 and AutoConfig.from_pretrained(tmp_path / "imdb").id2label == {0: "0", 1: "1"}
    labels = {p["label"] for p in read_jsonl(tmp_path / "imdb" / "eval_predictions.jsonl")}
    assert labels == {"0", "1"}  # a shuffled subset of a file grouped by label holds both labels
    conll = finetune(
        [
            "--task",
            "token-classification",
            "--model_name_or_path",
            str(base_ckpt),
            "--train_file",
            str(shared_data / "conll2003" / "train.txt"),
            "--validation_file",
            str(shared_data / "conll2003" / "dev.txt"),
            "--max_train_samples",
            "32",
            "--max_eval_samples",
            "16",
            "--max_seq_length",
            "32",
            "--learning_rate",
            "1e-4",
            "--output_dir",
            str(tmp_path / "conll"),
            *common,
        ]
    )
    assert "eval_f1" in conll
    assert set(AutoConfig.from_pretrained(tmp_path / "conll").label2id) == {
        "O",
        "B-PER",
        "I-PER",
        "B-ORG",
        "I-ORG",
        "B-LOC",
        "I-LOC",
        "B-MISC",
        "I-MISC",
    }


def test_task_modules_register_their_recipes_in_one_table():
    """The task list is `recipes.TASKS`, filled by the task modules' `@register_task`: `--task` accepts exactly the
    registered names, its help lists them, and a new recipe class registered from outside is a task too."""
    from seedformer.finetuning import recipes
    from seedformer.finetuning.recipes import TASKS, TaskRecipe, get_recipe, register_task
    from seedformer.finetuning.text_classification import TextClassificationRecipe

    assert set(TASKS) == {"text-classification", "token-classification", "question-answering", "multiple-choice",
                          "translation", "summarization"}  # fmt: skip
    assert TASKS["token-classification"] is TokenClassificationRecipe
    help_text = DataArguments.__dataclass_fields__["task"].metadata["help"]
    assert all(name in help_text and TASKS[name].description in help_text for name in TASKS)
    with pytest.raises(ValueError, match="--task must be one of .*multiple-choice.*; got 'ner'"):
        DataArguments(task="ner", train_file="x.jsonl")
    with pytest.raises(ValueError, match="already registered by TextClassificationRecipe"):

        @register_task
        class Clash(TaskRecipe):
            task = "text-classification"

    @register_task
    class Echo(TaskRecipe):
        task = "echo"
        description = "test task"

    try:
        assert isinstance(get_recipe(DataArguments(task="echo", train_file="x.jsonl")), Echo)
    finally:
        del TASKS["echo"]
    assert TASKS["text-classification"] is TextClassificationRecipe
    # recipes.py never imports the task modules (they import it): no cycle, whichever is imported first
    source = open(recipes.__file__).read()
    assert not any(f"from .{m}" in source for m in ("text_classification", "token_classification",
                                                     "question_answering", "multiple_choice", "seq2seq"))  # fmt: skip

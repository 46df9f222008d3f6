"""The pretraining study end to end on a toy budget: CSV rows per (arm, budget, task, seed), skip-on-rerun, plot."""

import gzip
import json
import random
import sys
from pathlib import Path

import pytest
from test_pretraining import make_documents

from seedformer.pretraining.study import ARMS, StudyArguments, read_results, run_study, summarize

REPO = Path(__file__).resolve().parents[1]
TINY = "hidden_size=32,num_hidden_layers=1,num_attention_heads=2,intermediate_size=64,max_position_embeddings=64"


def _write_gz(path, rows):
    with gzip.open(path, "wt") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    rng = random.Random(0)
    _write_gz(root / "unsup.jsonl.gz", [{"text": d} for d in make_documents(80)])
    words = {1: "good brilliant funny", 0: "bad boring dark"}
    reviews = []
    for i in range(120):
        label = i % 2
        reviews.append(
            {
                "text": f"review {i}: the {rng.choice(words[label].split())} movie and the {rng.choice(words[label].split())} plot",
                "label": label,
            }
        )
    _write_gz(root / "train.jsonl.gz", reviews)
    sentences = []
    for _ in range(40):
        sentences.append(f"John B-PER\nlives O\nin O\n{rng.choice(['Paris', 'Rome'])} B-LOC\n. O\n")
    (root / "train.txt").write_text("-DOCSTART- O\n\n" + "\n".join(sentences))
    (root / "dev.txt").write_text("\n".join(sentences[:12]))
    return root


def study_args(root, tmp_path, **overrides):
    values = dict(
        corpus_file=str(root / "unsup.jsonl.gz"), imdb_file=str(root / "train.jsonl.gz"),
        conll_train_file=str(root / "train.txt"), conll_dev_file=str(root / "dev.txt"),
        work_dir=str(tmp_path / "work"), results_csv=str(tmp_path / "results.csv"), plot_file=str(tmp_path / "plot.png"),
        arms="cpu_small,random_init,tfidf", budgets="0.02", tasks="imdb,conll", seeds="0",
        tokenizer_docs=80, vocab_size=150, pretrain_eval_docs=10, probe_samples=20, imdb_train=40, imdb_eval=30,
        conll_train=30, conll_select=6, imdb_select=20, finetune_learning_rates="2e-3,5e-4", imdb_epochs=1, conll_epochs=1, finetune_max_length=32, model_overrides=TINY, max_seq_length=32,
    )  # fmt: skip
    values.update(overrides)
    return StudyArguments(**values)


@pytest.mark.slow
def test_study_end_to_end_on_a_toy_budget_and_resumes(toy_files, tmp_path, monkeypatch):
    args = study_args(toy_files, tmp_path)
    first = run_study(args)
    rows = read_results(args.results_csv)
    keys = sorted((r["arm"], r["task"]) for r in rows)
    assert keys == [
        ("cpu_small", "conll"),
        ("cpu_small", "imdb"),
        ("random_init", "conll"),
        ("random_init", "imdb"),
        ("tfidf", "imdb"),
    ]
    assert len(first["written"]) == 5 and first["skipped"] == 0
    by_arm = {(r["arm"], r["task"]): r for r in rows}
    pretrained = by_arm[("cpu_small", "imdb")]
    assert float(pretrained["budget_minutes"]) == 0.02 and int(pretrained["pretrain_steps"]) >= 1
    assert (
        0 < float(pretrained["pretrain_wall_minutes"]) < 1
        and int(pretrained["tokens_seen"]) == int(pretrained["pretrain_steps"]) * 16 * 32
    )
    assert 0 <= float(pretrained["mlm_accuracy"]) <= 1 and 0 <= float(pretrained["probe_accuracy"]) <= 1
    assert all(0 <= float(r["score"]) <= 1 for r in rows)
    assert by_arm[("cpu_small", "conll")]["metric"] == "f1" and by_arm[("tfidf", "imdb")]["metric"] == "accuracy"
    # each finetuned row used the grid's rate with the best selection score, for every seed
    for (arm, task), row in by_arm.items():
        if arm == "tfidf":
            assert row["learning_rate"] == row["learning_rate_grid"] == ""
            continue
        assert row["learning_rate_grid"] == "0.002,0.0005"
        scores = json.loads(
            (
                Path(args.work_dir)
                / "finetune"
                / f"{arm}-{'0' if arm == 'random_init' else '0.02'}min-{task}-{'mean' if task == 'imdb' else 'checkpoint'}-32tok-1ep-batch16-select{20 if task == 'imdb' else 6}-lr-selection.json"
            ).read_text()
        )
        assert set(scores) == {"0.002", "0.0005"}
        assert row["learning_rate"] == max(scores, key=scores.get) and float(row["selection_score"]) == max(
            scores.values()
        )
    # the IMDB splits (train, held-in eval, learning-rate selection) are disjoint and fixed
    data = Path(args.work_dir) / "data" / "imdb-40-30"
    train = [json.loads(x)["text"] for x in (data / "train.jsonl").read_text().splitlines()]
    evals = [json.loads(x)["text"] for x in (data / "eval.jsonl").read_text().splitlines()]
    select = [json.loads(x)["text"] for x in (data / "select-20.jsonl").read_text().splitlines()]
    assert len(train) == 40 and len(evals) == 30 and len(select) == 20
    assert len({*train, *evals, *select}) == len(set(train)) + len(set(evals)) + len(set(select))
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"

    again = run_study(args)  # same command: nothing to do
    assert again == {"written": [], "skipped": 5}
    assert read_results(args.results_csv) == rows
    more = run_study(study_args(toy_files, tmp_path, seeds="0,1", arms="cpu_small,tfidf", tasks="imdb"))
    assert [(r["arm"], r["seed"]) for r in more["written"]] == [("cpu_small", 1), ("tfidf", 1)]
    assert more["skipped"] == 2  # seed 0 rows; the cpu_small checkpoint is reused, not retrained
    summary = summarize(read_results(args.results_csv))
    assert summary[("cpu_small", 0.02, "imdb")]["n"] == 2

    # a wider grid is another protocol (another CSV), and repeats no finetuning run it already has
    from seedformer.pretraining import study

    calls = []

    def counted(*a, **kw):
        calls.append((kw.get("split", "eval"), a[7]))
        return finetune(*a, **kw)

    finetune, wider = study.finetune, tmp_path / "wider.csv"
    monkeypatch.setattr(study, "finetune", counted)
    run_study(study_args(toy_files, tmp_path, arms="random_init", tasks="imdb", finetune_learning_rates="2e-3,5e-4,1e-4", results_csv=str(wider)))  # fmt: skip
    (row,) = read_results(wider)
    assert row["learning_rate_grid"] == "0.002,0.0005,0.0001"
    assert calls[0] == ("select", 1e-4)  # only the new rate's selection run
    before = by_arm[("random_init", "imdb")]
    if row["learning_rate"] == before["learning_rate"]:  # the same run as the first CSV's row: reused
        assert calls == [("select", 1e-4)] and row["score"] == before["score"]
    else:
        assert row["learning_rate"] == "0.0001" and calls == [("select", 1e-4), ("eval", 1e-4)]


def test_study_arguments_are_checked(toy_files, tmp_path):
    with pytest.raises(ValueError, match="unknown arm"):
        study_args(toy_files, tmp_path, arms="cpu_small,nope")
    with pytest.raises(ValueError, match="unknown task"):
        study_args(toy_files, tmp_path, tasks="glue")
    with pytest.raises(ValueError, match="budgets must be positive"):
        study_args(toy_files, tmp_path, budgets="0")
    for grid in ("", "fast", "1e-3,0", "2"):
        with pytest.raises(ValueError, match="--finetune_learning_rates"):
            study_args(toy_files, tmp_path, finetune_learning_rates=grid)
    assert {"bert_like", "modern", "cpu_small", "electra", "random_init", "tfidf"} <= set(ARMS)


@pytest.mark.slow
def test_script_is_a_thin_wrapper(toy_files, tmp_path, capsys):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import pretrain_study
    finally:
        sys.path.pop(0)
    args = study_args(toy_files, tmp_path, arms="tfidf", tasks="imdb")
    argv = [f"--{k}={v}" for k, v in vars(args).items() if v is not None and k != "plot_file"] + [
        "--plot_file",
        str(tmp_path / "p.png"),
    ]
    pretrain_study.main(argv)
    assert "tfidf" in capsys.readouterr().out and len(read_results(args.results_csv)) == 1


def test_one_finetuning_protocol_per_csv(toy_files, tmp_path):
    """A CSV's rows compare like with like: rows finetuned with another pooling, input length, learning-rate grid,
    number of epochs or batch size are refused (and old rows without the columns count as what they were made with:
    [CLS], 128 tokens, 5e-4, 3 epochs, batch 16)."""
    from seedformer.pretraining.study import check_one_protocol, row_key

    protocol = dict(finetune_max_length=128, imdb_epochs=3, conll_epochs=3)  # the rows' (old rows: 3 epochs)
    args = study_args(toy_files, tmp_path, **protocol, finetune_learning_rates="5e-4")
    mean128 = {
        "arm": "cpu_small",
        "budget_minutes": "3",
        "task": "imdb",
        "seed": "0",
        "pooling": "mean",
        "max_length": "128",
    }
    tfidf = {"arm": "tfidf", "budget_minutes": "0", "task": "imdb", "seed": "0", "pooling": ""}
    ner = {"arm": "cpu_small", "budget_minutes": "3", "task": "conll", "seed": "0", "pooling": "", "max_length": "128"}
    check_one_protocol(args, [mean128, tfidf, ner])  # the full-text TF-IDF row has no length: fits any protocol
    old = {"arm": "cpu_small", "budget_minutes": "3", "task": "imdb", "seed": "0"}
    with pytest.raises(ValueError, match=r"classifier_pooling=\['cls'\].*another --results_csv"):
        check_one_protocol(args, [old])
    with pytest.raises(ValueError, match=r"max_length=\['128'\].*--finetune_max_length 512"):
        check_one_protocol(
            study_args(toy_files, tmp_path, **{**protocol, "finetune_max_length": 512}), [mean128, tfidf]
        )
    assert row_key(mean128) != row_key({**mean128, "max_length": "512"})
    assert row_key(tfidf) == ("tfidf", "0", "imdb", "0", "", "", "", "", "")
    # rows from before the learning-rate selection were finetuned at 5e-4: another protocol than a grid
    args = study_args(toy_files, tmp_path, **protocol)
    selected = {**mean128, "learning_rate_grid": args.learning_rate_grid, "learning_rate": "0.002"}
    check_one_protocol(args, [selected, tfidf])
    with pytest.raises(ValueError, match=r"learning_rate_grid=\['0.0005'\].*--finetune_learning_rates 0.002,0.0005"):
        check_one_protocol(args, [selected, mean128])
    assert row_key(selected) != row_key(mean128)
    # epochs and batch size are the protocol too (old rows: 3 epochs, batch 16); NER has its own epochs
    check_one_protocol(study_args(toy_files, tmp_path, **{**protocol, "conll_epochs": 5}), [selected, tfidf])
    with pytest.raises(ValueError, match=r"epochs=\['3'\].*--imdb_epochs 5"):
        check_one_protocol(study_args(toy_files, tmp_path, **{**protocol, "imdb_epochs": 5}), [selected, tfidf])
    with pytest.raises(ValueError, match=r"batch_size=\['16'\].*--finetune_batch_size 8"):
        check_one_protocol(study_args(toy_files, tmp_path, **protocol, finetune_batch_size=8), [selected])
    assert row_key(selected) != row_key({**selected, "epochs": "5"})


def test_results_csv_from_before_a_column_gets_todays_header(tmp_path):
    """A row appended to a CSV written before a column existed lands under the right columns, old rows kept."""
    import csv

    from seedformer.pretraining.study import CSV_FIELDS, append_row, row_protocol

    path = tmp_path / "results.csv"
    old_fields = CSV_FIELDS[: CSV_FIELDS.index("pooling")]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=old_fields)
        writer.writeheader()
        writer.writerow({"arm": "cpu_small", "budget_minutes": "3", "task": "imdb", "seed": "0", "score": "0.7"})
    append_row(path, {"arm": "cpu_small", "budget_minutes": "3", "task": "imdb", "seed": "1", "score": "0.8",
                      "pooling": "mean", "epochs": "3"})  # fmt: skip
    old, new = read_results(path)
    assert list(old) == CSV_FIELDS and (old["seed"], old["score"], old["pooling"]) == ("0", "0.7", "")
    assert (new["seed"], new["score"], new["pooling"], new["epochs"]) == ("1", "0.8", "mean", "3")
    assert row_protocol(old) == ("cls", "128", "0.0005", "3", "16")
    # a CSV with a column this version does not know (a newer one) is refused rather than rewritten without it
    path.write_text(path.read_text().replace("batch_size", "batch_size,tokens_per_second", 1))
    with pytest.raises(ValueError, match=r"tokens_per_second"):
        append_row(path, {"arm": "cpu_small", "budget_minutes": "3", "task": "imdb", "seed": "2", "score": "0.8"})


def test_a_kill_mid_write_loses_no_result(tmp_path, monkeypatch):
    """The results CSV and the study's caches are replaced in one rename: a run killed while writing leaves the file
    as it was (every paid-for row and score still readable) and no temporary file behind."""
    import os

    from seedformer.pretraining import study

    path = tmp_path / "results.csv"
    study.append_row(path, {"arm": "cpu_small", "budget_minutes": "60", "task": "imdb", "seed": "0", "score": "0.7"})
    cache = tmp_path / "finetune" / "scores.json"
    study._write_cache(cache, {"lr0.0005-seed0": {"score": 0.7}})
    before = path.read_bytes(), cache.read_bytes()

    def killed(*args):
        raise KeyboardInterrupt  # what a Ctrl-C (or the signal a scheduler sends) raises mid-write

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        study.append_row(path, {"arm": "cpu_small", "budget_minutes": "60", "task": "imdb", "seed": "1"})
    with pytest.raises(KeyboardInterrupt):
        study._write_cache(cache, {"lr0.0005-seed0": {"score": 0.7}, "lr0.0005-seed1": {"score": 0.8}})
    monkeypatch.undo()
    assert (path.read_bytes(), cache.read_bytes()) == before
    assert [row["seed"] for row in read_results(path)] == ["0"]
    assert not list(tmp_path.rglob("*.tmp"))
    study.append_row(path, {"arm": "cpu_small", "budget_minutes": "60", "task": "imdb", "seed": "1", "score": "0.8"})
    assert [(row["seed"], row["score"]) for row in read_results(path)] == [("0", "0.7"), ("1", "0.8")]

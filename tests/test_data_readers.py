"""The one reader (data/readers.py) behind every entry point: each format loads the same rows for pretraining and
every finetuning task (translation and summarization included); a file that does not fit fails with an error naming
the column, the line and the fix."""

import gzip
import json

import pandas as pd
import pytest
from _finetuning_helpers import load_script, make_tokenizer, qa_rows, swag_rows, write_conll

from seedformer.data.readers import DataSource, data_file_format, read_data_file
from seedformer.finetuning.arguments import DataArguments
from seedformer.finetuning.data import read_raw_datasets
from seedformer.finetuning.recipes import get_recipe
from seedformer.pretraining.corpus import load_corpus
from seedformer.pretraining.objectives import get_objective
from seedformer.pretraining.recipes import parse_pretraining_args
from seedformer.pretraining.run import pretrain
from seedformer.training.config_overrides import parse_config_overrides

FORMATS = ("jsonl", "jsonl.gz", "json", "csv", "csv.gz", "tsv", "tsv.gz", "parquet", "txt", "txt.gz")

# --- the rows of each entry point, and how each reads a file ---------------------------------------------------------
DOCS = ["the film was good, really", "a dull plot", 'she said "fine" and left', "one more document"]
SENTIMENT = [{"text": t, "label": lab} for t, lab in zip(DOCS, ["pos", "neg", "pos", "neg"])]
NER = [{"tokens": ["alice", "saw", "paris"], "ner_tags": ["B-PER", "O", "B-LOC"]},
       {"tokens": ["bob", "smith", "left"], "ner_tags": ["B-PER", "I-PER", "O"]}]  # fmt: skip
PAIRS = [{"source": "one house", "target": "ein haus"}, {"source": "two, dogs", "target": "zwei hunde"}]


def _finetuning_rows(task, columns):
    def read(path):
        args = DataArguments(task=task, train_file=str(path))
        raw, sources = read_raw_datasets(args)
        get_recipe(args).setup_labels(raw, sources)  # the row checks a finetuning run makes
        return raw["train"].select_columns(columns).to_list()

    return read


ENTRY_POINTS = {
    # name: (rows, read(path) -> rows, .txt layout the entry point reads, or None)
    "pretraining": ([{"text": d} for d in DOCS],
                    lambda p: load_corpus(train_file=str(p), validation_split_percentage=0)["train"].to_list(), "line"),
    "text-classification": (SENTIMENT, _finetuning_rows("text-classification", ["text", "label"]), None),
    "token-classification": (NER, _finetuning_rows("token-classification", ["tokens", "ner_tags"]), "conll"),
    "question-answering": (qa_rows(3, seed=0), _finetuning_rows("question-answering", ["id", "question", "context",
                                                                                       "answers"]), None),
    "multiple-choice": (swag_rows(3, seed=0), _finetuning_rows("multiple-choice", ["sent1", "sent2", "label", "ending0",
                                                                                   "ending1", "ending2", "ending3"]),
                        None),
    "translation": (PAIRS, _finetuning_rows("translation", ["source", "target"]), None),
}  # fmt: skip


def write(path, rows, fmt, txt=None):
    """`rows` in `fmt`; `.txt` as the entry point's layout: one document per line, or CoNLL."""
    base = fmt.removesuffix(".gz")
    if base == "jsonl":
        data = "".join(json.dumps(row) + "\n" for row in rows)
    elif base == "json":
        data = json.dumps(rows, indent=1)  # one JSON array, over several lines
    elif base in ("csv", "tsv"):
        data = pd.DataFrame(rows).to_csv(index=False, sep="\t" if base == "tsv" else ",")
    elif base == "parquet":
        pd.DataFrame(rows).to_parquet(path)
        return path
    elif txt == "conll":
        data = "".join("".join(f"{w} NN {t}\n" for w, t in zip(r["tokens"], r["ner_tags"])) + "\n" for r in rows)
    else:  # one line per row (its first value; only pretraining reads these rows back)
        data = "".join(str(next(iter(row.values()))) + "\n" for row in rows)
    opener = gzip.open if fmt.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(data)
    return path


def _nested(rows):
    return any(isinstance(v, (list, dict)) for row in rows for v in row.values())


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_format_loads_the_same_rows_for_every_entry_point(tmp_path, entry, fmt):
    rows, read, txt = ENTRY_POINTS[entry]
    path = write(tmp_path / f"data.{fmt}", rows, fmt, txt)
    if fmt.startswith("txt") and txt is None:
        # A .txt file has no column names: the entry points that need them say so, and what works instead.
        with pytest.raises(ValueError, match=r"plain-text file, but .* needs named columns: give a \.jsonl, \.csv"):
            read(path)
    elif fmt.startswith(("csv", "tsv")) and _nested(rows):
        # Lists (words, tags) and objects (answers) do not fit in a csv cell: the row check names line 2, the column.
        with pytest.raises(ValueError, match=r"^Line 2 of .*: (column 'tokens' must hold a list|column 'answers')"):
            read(path)
    else:
        assert read(path) == rows


def test_txt_is_what_the_entry_point_declares(tmp_path):
    """One document per line for pretraining (paragraph / document on request), CoNLL for token classification."""
    path = tmp_path / "c.txt"
    path.write_text("first doc. second sentence.\nstill the first paragraph\n\nthird doc\n")
    by_line = load_corpus(train_file=str(path), validation_split_percentage=0)["train"]["text"]
    assert by_line == ["first doc. second sentence.", "still the first paragraph", "third doc"]
    by_paragraph = load_corpus(train_file=str(path), validation_split_percentage=0, txt_sample_by="paragraph")
    assert [t.strip() for t in by_paragraph["train"]["text"]] == [
        "first doc. second sentence.\nstill the first paragraph",
        "third doc",
    ]
    with pytest.raises(ValueError, match=r"Line 4 of .*c\.txt has 2 columns \('third doc'\) but line 1 has 4"):
        read_data_file(path, txt_as="conll")  # plain text given to token classification: not a silent misread
    (tmp_path / "one.txt").write_text("justaword\n")
    with pytest.raises(ValueError, match=r"Line 1 of .* has one column .* needs `word tag`"):
        read_data_file(tmp_path / "one.txt", txt_as="conll")
    with pytest.raises(ValueError, match="Cannot tell the format of .*data.docx"):
        data_file_format("data.docx")


def test_csv_and_jsonl_rows_are_named_by_their_line(tmp_path):
    """Blank lines in JSON Lines, the header and quoted multi-line cells in csv: row i is named by its real line."""
    (tmp_path / "d.jsonl").write_text('{"text": "a"}\n\n{"text": "b"}\n')
    assert DataSource.of("train", tmp_path / "d.jsonl").where(1) == f"line 3 of {tmp_path / 'd.jsonl'}"
    (tmp_path / "d.csv").write_text('text,label\n"two\nlines",1\nb,0\n')
    source = DataSource.of("train", tmp_path / "d.csv")
    assert [source.where(0), source.where(1)] == [f"line {n} of {tmp_path / 'd.csv'}" for n in (2, 4)]
    assert DataSource("test").where(4, start=True) == "Row 5 of the test split"


# --- errors that name the column, the line and the fix ---------------------------------------------------------------
def _classify(tmp_path, lines, name="train.jsonl", **args):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines))
    data_args = DataArguments(task="text-classification", train_file=str(path), **args)
    raw, sources = read_raw_datasets(data_args)
    get_recipe(data_args).setup_labels(raw, sources)


@pytest.mark.parametrize(
    "bad_line, message",
    [
        (
            '{"text": null, "label": "neg"}',
            r"Line 2 of .*train\.jsonl: column 'text' is empty \(null or missing\), but "
            r"it must hold text\. Fill in the text or remove the row",
        ),
        ('{"label": "neg"}', r"Line 2 of .*: column 'text' is empty \(null or missing\).*--text_column"),
        (
            '{"text": 5, "label": "neg"}',
            r"Line 2 of .*: column 'text' holds the number 5, but it must hold text\. "
            r'Write it as text \("5"\)',
        ),
        (
            '{"text": "fine", "label": null}',
            r"Line 2 of .*: column 'label' has no label \(null or missing\)\. Every "
            r"row of the train split needs one: fill it in or remove the row",
        ),
        (
            '{"text": "fine", "label": 1}',
            r"Column 'label' mixes label types: the string 'pos' on line 1 of .* but the "
            r"number 1 on line 2 of .*Write every label the same way",
        ),
        (
            '{"text": "fine", "label": "neg"',
            r"Line 2 of .*train\.jsonl is not valid JSON \(Expecting ',' delimiter.*"
            r"fix or remove that line",
        ),
    ],
    ids=["null-text", "missing-text", "numeric-text", "null-label", "mixed-labels", "malformed-json"],
)
def test_bad_jsonl_rows_name_column_line_and_fix(tmp_path, bad_line, message):
    with pytest.raises(ValueError, match=message):
        _classify(
            tmp_path, ['{"text": "good film", "label": "pos"}', bad_line, '{"text": "bad film", "label": "neg"}']
        )


def test_mixed_types_after_a_blank_line_name_both_lines(tmp_path):
    """datasets' json loader fails outright here (a blank line and a type change); the reader says where and why."""
    lines = ['{"text": "good film", "label": "pos"}', "", '{"text": "fine", "label": 1}']
    with pytest.raises(
        ValueError,
        match=r"Column 'label' holds a string on line 1 but a number on line 3 of .*"
        r"train\.jsonl: write it the same way on every line",
    ):
        _classify(tmp_path, lines)
    with pytest.raises(ValueError, match=r"Line 3 of .*train\.jsonl is not valid JSON"):
        _classify(tmp_path, [lines[0], "", "{oops"])


def test_bad_csv_rows_name_their_line(tmp_path):
    with pytest.raises(ValueError, match=r"Line 3 of .*train\.csv: column 'text' is empty"):
        _classify(tmp_path, ["text,label", "good film,pos", ",neg"], name="train.csv")
    with pytest.raises(ValueError, match=r"Line 2 of .*train\.csv: column 'text' holds the number 7"):
        _classify(tmp_path, ["text,label", "7,pos", "3,neg"], name="train.csv")


def test_a_finetuning_run_names_the_line_before_touching_the_model(tmp_path):
    """The runner checks rows while they are still in file order (before the held-out split and subsets)."""
    train = tmp_path / "train.jsonl"
    train.write_text('{"text": "good film", "label": "pos"}\n{"text": 3, "label": "neg"}\n')
    finetune = load_script("finetune").main
    with pytest.raises(ValueError, match=r"Line 2 of .*train\.jsonl: column 'text' holds the number 3"):
        finetune(
            [
                "--task",
                "text-classification",
                "--model_name_or_path",
                str(tmp_path / "never-loaded"),
                "--train_file",
                str(train),
                "--validation_split_percentage",
                "50",
                "--max_train_samples",
                "1",
                "--output_dir",
                str(tmp_path / "out"),
                "--do_train",
                "--use_cpu",
                "--report_to",
                "none",
            ]
        )


def _multiple_choice(tmp_path, rows, **args):
    path = tmp_path / "swag.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    data_args = DataArguments(task="multiple-choice", train_file=str(path), **args)
    raw, sources = read_raw_datasets(data_args)
    recipe = get_recipe(data_args)
    recipe.setup_labels(raw, sources)
    return recipe


def test_multiple_choice_without_ending3_names_the_missing_column(tmp_path):
    rows = swag_rows(4, seed=0)
    for row in rows:
        row["label"] = 1
    rows[2]["label"] = 3
    three = [{k: v for k, v in row.items() if k != "ending3"} for row in rows]
    # Before: three endings were used silently, then "labels outside 0..2". Now the line and the missing column.
    with pytest.raises(
        ValueError,
        match=r"Line 3 of .*swag\.jsonl: label 3 in column 'label' .* Choice 3 would be "
        r"column 'ending3', which the file lacks: add it",
    ):
        _multiple_choice(tmp_path, three)
    gap = [{k: v for k, v in row.items() if k != "ending2"} for row in rows]
    with pytest.raises(ValueError, match=r"choice columns \['ending0', 'ending1', 'ending3'\] but no \['ending2'\]"):
        _multiple_choice(tmp_path, gap)
    missing_on_one_line = [dict(row) for row in rows]
    del missing_on_one_line[1]["ending3"]
    with pytest.raises(ValueError, match=r"Line 2 of .*: column 'ending3' is empty \(null or missing\)"):
        _multiple_choice(tmp_path, missing_on_one_line)
    assert len(_multiple_choice(tmp_path, [{**r, "label": 1} for r in three]).choice_columns) == 3  # a 3-way file


def test_token_classification_rows_need_one_tag_per_word(tmp_path):
    path = tmp_path / "ner.jsonl"
    path.write_text(json.dumps(NER[0]) + "\n" + json.dumps({"tokens": ["bob", "left"], "ner_tags": ["B-PER"]}) + "\n")
    args = DataArguments(task="token-classification", train_file=str(path))
    raw, sources = read_raw_datasets(args)
    with pytest.raises(
        ValueError, match=r"Line 2 of .*: 2 words in 'tokens' but 1 tags in 'ner_tags': give exactly one"
    ):
        get_recipe(args).setup_labels(raw, sources)
    conll = write_conll(tmp_path / "ner.txt", [(["alice", "saw"], ["B-PER", "O"]), (["bob"], ["B-PER"])])
    with open(conll, "a") as handle:
        handle.write("carol NN\n")  # two columns where the others have three: the tag would be read as "NN"
    with pytest.raises(ValueError, match=r"Line 8 of .*ner\.txt has 2 columns .* but line 3 has 3"):
        read_data_file(conll, txt_as="conll")


def test_seq2seq_column_file_errors_name_the_line(tmp_path):
    path = tmp_path / "pairs.csv.gz"
    write(path, [*PAIRS, {"source": "three cats", "target": None}], "csv.gz")
    with pytest.raises(ValueError, match=r"Line 4 of .*pairs\.csv\.gz: column 'target' is empty.*--target_column"):
        _finetuning_rows("translation", ["source", "target"])(path)
    with pytest.raises(
        ValueError,
        match=r"plain-text file, but summarization \(aligned one-sentence-per-line files go in --data_dir\)",
    ):
        _finetuning_rows("summarization", ["source", "target"])(write(tmp_path / "x.txt", [{"text": "a"}], "txt"))


# --- pretrain.py: an empty corpus, typed config overrides, the denoising options -------------------------------------
def _pretrain_argv(tmp_path, train_file, *extra):
    make_tokenizer().save_pretrained(tmp_path / "tok")
    return ["--train_file", str(train_file), "--tokenizer_name", str(tmp_path / "tok"), "--output_dir",
            str(tmp_path / "out"), "--config_overrides", "hidden_size=32,num_hidden_layers=1,num_attention_heads=4,"
            "intermediate_size=37", "--max_seq_length", "16", "--do_train", "--max_steps", "1", "--use_cpu",
            "--report_to", "none", *extra]  # fmt: skip


@pytest.mark.parametrize("name", ["empty.jsonl", "empty.txt", "empty.csv"])
def test_an_empty_corpus_says_so_instead_of_stopiteration(tmp_path, name):
    (tmp_path / name).write_text("")
    with pytest.raises(ValueError, match=rf"The train split is empty: .*{name} has no rows"):
        pretrain(*parse_pretraining_args(_pretrain_argv(tmp_path, tmp_path / name)))


def test_config_overrides_name_the_field_and_the_type(tmp_path):
    assert parse_config_overrides("hidden_size=32,sparse_prediction=true,classifier_dropout=none,rope_theta=5e5") == {
        "hidden_size": 32,
        "sparse_prediction": True,
        "classifier_dropout": None,
        "rope_theta": 500000.0,
    }
    cases = {
        "hidden_size=abc": r"hidden_size='abc' is not valid: the SeedformerConfig field 'hidden_size' takes an "
                           r"integer; write e\.g\. hidden_size=256",
        "hidden_size=1.5": r"field 'hidden_size' takes an integer",
        "sparse_prediction=maybe": r"field 'sparse_prediction' takes true or false",
        "hidden_dropout_prob=high": r"field 'hidden_dropout_prob' takes a number;",
        "classifier_dropout=x": r"field 'classifier_dropout' takes a number or none",
    }  # fmt: skip
    for override, message in cases.items():
        with pytest.raises(ValueError, match=message):
            parse_config_overrides(override)
    (tmp_path / "c.jsonl").write_text('{"text": "a film"}\n')
    argv = _pretrain_argv(tmp_path, tmp_path / "c.jsonl")
    argv[argv.index("--config_overrides") + 1] = "hidden_size=abc"
    with pytest.raises(ValueError, match="hidden_size='abc' is not valid"):  # the command line, end to end
        pretrain(*parse_pretraining_args(argv))


def test_denoising_options_are_command_line_options_the_collators_use(tmp_path):
    argv = _pretrain_argv(
        tmp_path,
        tmp_path / "c.jsonl",
        "--objective",
        "span",
        "--noise_density",
        "0.3",
        "--mean_noise_span_length",
        "2",
        "--infill_mask_ratio",
        "0.4",
        "--poisson_lambda",
        "2.5",
    )
    _, data_args, _ = parse_pretraining_args(argv)  # these flags were "not used" errors before
    tokenizer = make_tokenizer()
    from seedformer.pretraining.denoising import add_sentinel_tokens

    add_sentinel_tokens(tokenizer, 4)
    span = get_objective("span").build_collator(tokenizer, data_args)
    infill = get_objective("infill").build_collator(tokenizer, data_args)
    assert (span.noise_density, span.mean_noise_span_length) == (0.3, 2.0)
    assert (infill.mask_ratio, infill.poisson_lambda) == (0.4, 2.5)

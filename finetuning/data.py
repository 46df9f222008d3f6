"""Loading raw splits for finetuning: a `datasets` name/folder or local files, including CoNLL-style NER files."""

from __future__ import annotations

import re
from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

# file extension (after stripping .gz/.bz2/.xz) -> datasets builder
_BUILDERS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "json", ".parquet": "parquet",
             ".conll": "conll", ".conllu": "conll", ".iob": "conll", ".txt": "conll"}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")


def guess_file_format(path: str | Path) -> str:
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()
    if not suffixes or suffixes[-1] not in _BUILDERS:
        raise ValueError(
            f"Cannot tell the format of {path!r} from its extension; pass --file_format "
            f"(one of csv, tsv, json, parquet, conll)"
        )
    return _BUILDERS[suffixes[-1]]


def read_conll(path: str | Path) -> Dataset:
    """CoNLL-style file: one `word [POS [chunk]] tag` per line, a blank line between sentences, `-DOCSTART-` skipped.

    Returns a Dataset with `id`, `tokens` (list[str]), `pos_tags` (list[str], empty if the file has no POS column)
    and `ner_tags` (list[str], the last column).
    """
    ids, tokens, pos, tags = [], [], [], []
    words, sent_pos, sent_tags = [], [], []

    def flush():
        if words:
            ids.append(str(len(ids)))
            tokens.append(list(words))
            pos.append(list(sent_pos))
            tags.append(list(sent_tags))
            words.clear(), sent_pos.clear(), sent_tags.clear()

    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            parts = line.split()
            if not parts:
                flush()
                continue
            if parts[0] == "-DOCSTART-":
                flush()
                continue
            if len(parts) < 2:
                raise ValueError(f"{path}:{line_no}: expected 'word ... tag', got {line.rstrip()!r}")
            words.append(parts[0])
            sent_tags.append(parts[-1])
            if len(parts) >= 3:
                sent_pos.append(parts[1])
    flush()
    return Dataset.from_dict({"id": ids, "tokens": tokens, "pos_tags": pos, "ner_tags": tags})


def _has_content(path: str) -> bool:
    """False for a file with nothing but whitespace (datasets' builders fail obscurely on those)."""
    import gzip

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return True
    return False


def parse_column_names(column_names: str | list[str] | None) -> list[str] | None:
    """`"label,title,text"` -> `["label", "title", "text"]` (None stays None)."""
    if column_names is None or isinstance(column_names, list):
        return column_names
    return [name.strip() for name in column_names.split(",")]


def _load_file(path: str, file_format: str | None, split: str = "train", column_names=None) -> Dataset:
    """One file as a Dataset. `column_names` (csv/tsv only) names the columns of a file without a header row; the
    `datasets` csv builder then reads its first line as data."""
    fmt = file_format or guess_file_format(path)
    column_names = parse_column_names(column_names)
    if column_names is not None and fmt not in ("csv", "tsv"):
        raise ValueError(f"--column_names only applies to csv/tsv files (headerless rows); {path} is read as {fmt}")
    if fmt != "parquet" and not _has_content(path):
        raise ValueError(f"The {split} split is empty: {path} has no rows")
    if fmt == "conll":
        return read_conll(path)
    if fmt in ("csv", "tsv"):
        options = {"delimiter": "\t"} if fmt == "tsv" else {}
        if column_names is not None:
            options["column_names"] = column_names
        dataset = datasets.load_dataset("csv", data_files=str(path), split="train", **options)
        if column_names is not None and dataset.column_names != column_names:
            raise ValueError(
                f"{path}: --column_names names {len(column_names)} columns {column_names} but the rows have "
                f"{len(dataset.column_names)}; name every column, in file order"
            )
        return dataset
    if fmt not in ("json", "parquet"):
        raise ValueError(f"Unknown --file_format {fmt!r}; use csv, tsv, json, parquet or conll")
    return datasets.load_dataset(fmt, data_files=str(path), split="train")


_DEDUPLICATED = re.compile(r"^(.*)\.(\d+)$")  # pandas renames a repeated header "x" to "x.1", "x.2", ...


def header_looks_like_data(column_names: list[str]) -> bool:
    """True when "column names" read from a csv/tsv header look like a data row: numbers, long texts, blank cells
    (pandas' `Unnamed: i`) or repeated values. Used to explain a missing column, never to reject a file."""

    def data_like(name: str) -> bool:
        text = str(name).strip()
        if not text or text.startswith("Unnamed: "):
            return True
        try:
            float(text)
            return True
        except ValueError:
            pass
        return len(text) > 40 or len(text.split()) >= 5

    names = [str(n) for n in column_names]
    repeated = any((m := _DEDUPLICATED.match(n)) and m.group(1) in names for n in names)
    return repeated or any(data_like(n) for n in names)


def no_header_hint(column_names: list[str]) -> str:
    """A sentence to append to a missing-column error when the header looks like data, else ""."""
    if not header_looks_like_data(column_names):
        return ""
    return (
        " The file seems to have no header row (its first line was read as the column names); if it is a csv/tsv "
        "file without a header, name its columns in order with --column_names, e.g. --column_names label,title,text."
    )


def load_raw_datasets(data_args, seed: int = 42) -> DatasetDict:
    """The raw `train` / `validation` / `test` splits that the arguments name.

    Without a validation split, `validation_split_percentage` of train is held out (shuffled with `seed`, so a
    file whose rows are grouped by label still gives a representative split). `max_*_samples` keep a seeded random
    subset of each split. Raises ValueError for an empty split that is asked for.
    """
    if data_args.dataset_name is not None:
        raw = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config_name)
        raw = DatasetDict({_canonical_split(k): v for k, v in raw.items()})
    else:
        raw = DatasetDict()
    for split, path in (("train", data_args.train_file), ("validation", data_args.validation_file),
                        ("test", data_args.test_file)):
        if path is not None:
            raw[split] = _load_file(path, data_args.file_format, split, getattr(data_args, "column_names", None))

    if "validation" not in raw and data_args.validation_split_percentage > 0:
        if "train" not in raw:
            raise ValueError("--validation_split_percentage needs a train split to split from")
        parts = raw["train"].train_test_split(test_size=data_args.validation_split_percentage / 100, seed=seed)
        raw["train"], raw["validation"] = parts["train"], parts["test"]

    for split, limit in (("train", data_args.max_train_samples), ("validation", data_args.max_eval_samples),
                         ("test", data_args.max_predict_samples)):
        if split in raw and limit is not None and limit < len(raw[split]):
            raw[split] = raw[split].shuffle(seed=seed).select(range(limit))
    for split, dataset in raw.items():
        if len(dataset) == 0:
            raise ValueError(f"The {split} split is empty; give a file with rows or drop it from the arguments")
    return raw


def _canonical_split(name: str) -> str:
    return {"dev": "validation", "valid": "validation", "val": "validation", "eval": "validation"}.get(name, name)

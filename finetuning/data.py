"""The raw splits of a finetuning run: a `datasets` name/folder or local files read by the project's one reader
(`data/readers.py`), then the held-out validation split and the seeded subsets.

Reading and subsetting are two steps so that the task recipe checks every row while row i is still line i of its
file (`recipes.TaskRecipe.setup_labels(raw, sources)`); `load_raw_datasets` does both for callers without a recipe.
A `.txt` file is CoNLL for token classification and refused by the other tasks (they need named columns); the seq2seq
tasks also read a folder of aligned one-sentence-per-line files (`--data_dir` with `<split>.<lang>`).
"""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets import Dataset, DatasetDict

from ..data.readers import (
    DataSource,
    header_looks_like_data,
    no_header_hint,
    parse_column_names,
    read_data_file,
    read_data_files,
    read_parallel_text,
)

# What a `.txt` file holds for each task (see data/readers.py); None: the task needs named columns.
TXT_AS = {"token-classification": "conll"}


def read_conll(path) -> Dataset:
    """A CoNLL file (`word [POS] [chunk] tag` per line, a blank line between sentences) -> `tokens`, (`pos_tags`,
    `chunk_tags`,) `ner_tags` (the last column), one row per sentence."""
    return read_data_file(path, txt_as="conll", needs="token classification")


def read_raw_datasets(data_args) -> tuple[DatasetDict, dict[str, DataSource]]:
    """The `train` / `validation` / `test` splits the arguments name, rows in file order, and where each came from
    (to name a bad row by its line)."""
    from .recipes import TASKS  # here, not at the top: recipes imports this module

    task = data_args.task.replace("-", " ")
    if getattr(TASKS.get(data_args.task), "reads_parallel_text", False):
        task += " (aligned one-sentence-per-line files go in --data_dir)"
    txt_as = TXT_AS.get(data_args.task)
    column_names = getattr(data_args, "column_names", None)
    if data_args.dataset_name is not None:
        raw = datasets.load_dataset(data_args.dataset_name, data_args.dataset_config_name)
        raw = DatasetDict({_canonical_split(k): v for k, v in raw.items()})
    else:
        raw = DatasetDict()
    if getattr(data_args, "data_dir", None) is not None:
        raw.update(read_parallel_dir(data_args.data_dir, data_args.source_lang, data_args.target_lang))
    # A `datasets` split or parallel files (blank pairs dropped, so row i is not line i): rows named by index.
    sources = {split: DataSource(split) for split in raw}
    files = {
        split: path
        for split, path in (
            ("train", data_args.train_file),
            ("validation", data_args.validation_file),
            ("test", data_args.test_file),
        )
        if path is not None
    }
    raw.update(
        read_data_files(files, txt_as=txt_as, file_format=data_args.file_format, column_names=column_names, needs=task)
    )
    for split, path in files.items():
        sources[split] = DataSource.of(
            split, path, txt_as=txt_as, file_format=data_args.file_format, column_names=column_names
        )
    for split, dataset in raw.items():
        if len(dataset) == 0:
            raise ValueError(f"The {split} split is empty; give a file with rows or drop it from the arguments")
    return raw, sources


# File stems a parallel-text folder may use for each split (Multi30k: train / val / test).
PARALLEL_SPLIT_STEMS = {"train": ("train",), "validation": ("validation", "val", "valid", "dev"), "test": ("test",)}


def read_parallel_dir(data_dir, source_lang: str, target_lang: str) -> DatasetDict:
    """`<stem>.<source_lang>` + `<stem>.<target_lang>` pairs in `data_dir` -> splits with `source` / `target` columns
    (stems in `PARALLEL_SPLIT_STEMS`); a test source file alone gives sources to predict for. FileNotFoundError when
    the folder holds no pair at all, naming what it looked for, and for a train / validation file whose partner is
    missing (a typo in --source_lang / --target_lang)."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"--data_dir {data_dir} is not a folder.")
    raw = DatasetDict()
    for split, stems in PARALLEL_SPLIT_STEMS.items():
        for stem in stems:
            source, target = folder / f"{stem}.{source_lang}", folder / f"{stem}.{target_lang}"
            if split == "test" and source.is_file() and not target.is_file():  # sources to translate, no references
                lines = read_data_file(source, txt_as="line", file_format="text", split=split)["text"]
                raw[split] = Dataset.from_dict({"source": [line.strip() for line in lines if line.strip()]})
                break
            if source.is_file() != target.is_file():
                present, missing = (source, target) if source.is_file() else (target, source)
                raise FileNotFoundError(
                    f"{present} has no parallel file {missing} (check --source_lang/--target_lang)."
                )
            if source.is_file():
                raw[split] = read_parallel_text(source, target, split=split)
                break
    if not raw:
        raise FileNotFoundError(
            f"No parallel files in {folder}: expected e.g. train.{source_lang} + train.{target_lang} (and "
            f"val.{source_lang} + val.{target_lang}); found {sorted(p.name for p in folder.iterdir())[:10]}."
        )
    return raw


def select_samples(raw: DatasetDict, data_args, seed: int = 42) -> DatasetDict:
    """Hold out `validation_split_percentage` of train when there is no validation split (shuffled with `seed`, so a
    file whose rows are grouped by label still gives a representative split), and keep a seeded random subset of
    `max_*_samples` rows per split. Raises ValueError for an empty split."""
    raw = DatasetDict(raw)
    if "validation" not in raw and data_args.validation_split_percentage > 0:
        if "train" not in raw:
            raise ValueError("--validation_split_percentage needs a train split to split from")
        parts = raw["train"].train_test_split(test_size=data_args.validation_split_percentage / 100, seed=seed)
        raw["train"], raw["validation"] = parts["train"], parts["test"]

    for split, limit in (
        ("train", data_args.max_train_samples),
        ("validation", data_args.max_eval_samples),
        ("test", data_args.max_predict_samples),
    ):
        if split in raw and limit is not None and limit < len(raw[split]):
            raw[split] = raw[split].shuffle(seed=seed).select(range(limit))
    for split, dataset in raw.items():
        if len(dataset) == 0:
            raise ValueError(f"The {split} split is empty; give a file with rows or drop it from the arguments")
    return raw


def load_raw_datasets(data_args, seed: int = 42) -> DatasetDict:
    """`read_raw_datasets` then `select_samples` (no row checks: those need the task recipe)."""
    raw, _ = read_raw_datasets(data_args)
    return select_samples(raw, data_args, seed)


def _canonical_split(name: str) -> str:
    return {"dev": "validation", "valid": "validation", "val": "validation", "eval": "validation"}.get(name, name)


__all__ = [
    "TXT_AS",
    "header_looks_like_data",
    "load_raw_datasets",
    "no_header_hint",
    "parse_column_names",
    "read_conll",
    "read_parallel_dir",
    "read_raw_datasets",
    "select_samples",
]

"""Load a raw text corpus: a Hub/local `datasets` dataset, or files read by the project's one reader
(`data/readers.py`: jsonl / json / csv / tsv / parquet with a text column, or plain-text .txt, each optionally .gz).

Returns `{"train": ..., "validation": ...}` of `datasets.Dataset` (or `IterableDataset` when streaming) with the text in
`text_column`, blank documents removed, and a clear error for an empty corpus, a missing column or a non-text value.
"""

from __future__ import annotations

import itertools
import logging

import datasets

from ..data.readers import DataSource, check_text_column, read_data_files

logger = logging.getLogger(__name__)

TXT_SAMPLE_BY = ("line", "paragraph", "document")


def _is_text(text) -> bool:
    return isinstance(text, str) and bool(text.strip())


def load_corpus(
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    train_file: str | None = None,
    validation_file: str | None = None,
    text_column: str = "text",
    validation_split_percentage: int = 5,
    streaming: bool = False,
    txt_sample_by: str = "line",
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    cache_dir: str | None = None,
    seed: int = 42,
    num_proc: int | None = None,
) -> dict:
    """Train (and validation, when one exists or can be split off) splits of raw documents.

    txt files: `txt_sample_by="line"` (default) makes each line one document, as datasets' text loader does;
    `"paragraph"` each blank-line-separated block (the BERT corpus format: one sentence per line, a blank line
    between documents); `"document"` the whole file.
    Without a validation file/split, `validation_split_percentage` % of the train documents are held out (streaming:
    the first `max_eval_samples` documents, default 1000).
    """
    if dataset_name is None and train_file is None:
        raise ValueError("Give a corpus: --dataset_name or --train_file.")
    if txt_sample_by not in TXT_SAMPLE_BY:
        raise ValueError(f"--txt_sample_by must be one of {TXT_SAMPLE_BY}, got {txt_sample_by!r}.")
    sources: dict[str, DataSource] = {}
    if dataset_name is not None:
        raw = datasets.load_dataset(dataset_name, dataset_config_name, cache_dir=cache_dir, streaming=streaming)
    else:
        files = {"train": train_file}
        if validation_file is not None:
            files["validation"] = validation_file
        raw = read_data_files(
            files, txt_as=txt_sample_by, streaming=streaming, cache_dir=cache_dir, needs="pretraining"
        )
        sources = {split: DataSource.of(split, path, txt_as=txt_sample_by) for split, path in files.items()}

    if "train" not in raw:
        raise ValueError(f"The corpus has no 'train' split (splits: {list(raw)}).")
    splits = {"train": raw["train"]}
    for name in ("validation", "valid", "dev"):
        if name in raw:
            splits["validation"] = raw[name]
            break

    for name, split in splits.items():
        source = sources.get(name) or DataSource(name)
        splits[name] = _clean(split, text_column, source, num_proc=None if streaming else num_proc)

    if "validation" not in splits and validation_split_percentage > 0:
        if streaming:
            n_eval = max_eval_samples or 1000
            splits["validation"] = splits["train"].take(n_eval)
            splits["train"] = splits["train"].skip(n_eval)
        elif len(splits["train"]) >= 2:
            held = splits["train"].train_test_split(test_size=validation_split_percentage / 100, seed=seed)
            splits["train"], splits["validation"] = held["train"], held["test"]
    if max_train_samples is not None:
        splits["train"] = _head(splits["train"], max_train_samples)
    if max_eval_samples is not None and "validation" in splits:
        splits["validation"] = _head(splits["validation"], max_eval_samples)
    return splits


def _head(split, n: int):
    if isinstance(split, datasets.IterableDataset):
        return split.take(n)
    return split.select(range(min(n, len(split))))


def _clean(split, text_column: str, source: DataSource, num_proc: int | None):
    """Check the column exists and holds text; drop blank / null documents."""
    name = source.split
    if isinstance(split, datasets.IterableDataset):
        # Streaming datasets may not know their columns before reading: look at the first rows.
        first = list(itertools.islice(iter(split), 1))
        if not first:
            raise ValueError(f"The {name} corpus is empty.")
        if text_column not in first[0]:
            raise ValueError(
                f"Text column {text_column!r} not found in the {name} corpus; columns: {sorted(first[0])}."
            )
        split = split.filter(lambda row: _is_text(row[text_column]))
        if not list(itertools.islice(iter(split), 1)):
            raise ValueError(f"The {name} corpus has no non-blank text in column {text_column!r}.")
        return split
    if text_column not in split.column_names:
        raise ValueError(f"Text column {text_column!r} not found in the {name} corpus; columns: {split.column_names}.")
    if len(split) == 0:
        raise ValueError(f"The {name} corpus is empty.")
    # Null (or missing) documents count as blank and are dropped; a number or a list where text belongs is an error.
    check_text_column(split, text_column, source, allow_null=True)
    split = split.filter(
        lambda batch: [_is_text(t) for t in batch[text_column]],
        batched=True,
        num_proc=num_proc,
        desc="drop blank documents",
    )
    if len(split) == 0:
        raise ValueError(f"The {name} corpus has no non-blank text in column {text_column!r}.")
    return split

"""Load a raw text corpus (Hub/local `datasets` dataset or txt / json / jsonl(.gz) / csv / parquet files).

Returns `{"train": ..., "validation": ...}` of `datasets.Dataset` (or `IterableDataset` when streaming) with the text in
`text_column`, blank documents removed, and a clear error for an empty corpus or a missing column.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import datasets

logger = logging.getLogger(__name__)

_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zstd", ".lz4")
_BUILDERS = {".txt": "text", ".text": "text", ".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}


def file_builder(path: str) -> str:
    """The `datasets` builder name for a data file, looking through a compression suffix (`x.jsonl.gz` -> `json`)."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes.pop()
    if not suffixes or suffixes[-1] not in _BUILDERS:
        raise ValueError(f"Cannot tell the format of {path!r}: use one of {sorted(_BUILDERS)} (optionally compressed).")
    return _BUILDERS[suffixes[-1]]


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
    txt_sample_by: str = "paragraph",
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    cache_dir: str | None = None,
    seed: int = 42,
    num_proc: int | None = None,
) -> dict:
    """Train (and validation, when one exists or can be split off) splits of raw documents.

    txt files: `txt_sample_by="paragraph"` makes each blank-line-separated block one document (the BERT corpus format
    that next-sentence prediction needs); `"line"` one row per line; `"document"` one row per file.
    Without a validation file/split, `validation_split_percentage` % of the train documents are held out (streaming:
    the first `max_eval_samples` documents, default 1000).
    """
    if dataset_name is None and train_file is None:
        raise ValueError("Give a corpus: --dataset_name or --train_file.")
    if dataset_name is not None:
        raw = datasets.load_dataset(dataset_name, dataset_config_name, cache_dir=cache_dir, streaming=streaming)
    else:
        files = {"train": train_file}
        if validation_file is not None:
            files["validation"] = validation_file
        builders = {file_builder(f) for f in files.values()}
        if len(builders) > 1:
            raise ValueError(f"train and validation files must have the same format, got {sorted(builders)}.")
        builder = builders.pop()
        kwargs = {"sample_by": txt_sample_by, "keep_linebreaks": True} if builder == "text" else {}
        for f in files.values():
            if not Path(f).exists():
                raise FileNotFoundError(f"Data file not found: {f}")
        raw = datasets.load_dataset(builder, data_files=files, cache_dir=cache_dir, streaming=streaming, **kwargs)

    if "train" not in raw:
        raise ValueError(f"The corpus has no 'train' split (splits: {list(raw)}).")
    splits = {"train": raw["train"]}
    for name in ("validation", "valid", "dev"):
        if name in raw:
            splits["validation"] = raw[name]
            break

    for name, split in splits.items():
        splits[name] = _clean(split, text_column, name, num_proc=None if streaming else num_proc)

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


def _clean(split, text_column: str, name: str, num_proc: int | None):
    """Check the column exists and the split has text; drop blank / null documents."""
    if isinstance(split, datasets.IterableDataset):
        # Streaming datasets may not know their columns before reading: look at the first rows.
        first = list(itertools.islice(iter(split), 1))
        if not first:
            raise ValueError(f"The {name} corpus is empty.")
        if text_column not in first[0]:
            raise ValueError(f"Text column {text_column!r} not found in the {name} corpus; columns: {sorted(first[0])}.")
        split = split.filter(lambda row: _is_text(row[text_column]))
        if not list(itertools.islice(iter(split), 1)):
            raise ValueError(f"The {name} corpus has no non-blank text in column {text_column!r}.")
        return split
    if text_column not in split.column_names:
        raise ValueError(f"Text column {text_column!r} not found in the {name} corpus; columns: {split.column_names}.")
    if len(split) == 0:
        raise ValueError(f"The {name} corpus is empty.")
    split = split.filter(
        lambda batch: [_is_text(t) for t in batch[text_column]], batched=True, num_proc=num_proc, desc="drop blank documents"
    )
    if len(split) == 0:
        raise ValueError(f"The {name} corpus has no non-blank text in column {text_column!r}.")
    return split

"""The one reader of users' data files, for every entry point (pretraining corpus, finetuning tasks, seq2seq, the
study, the quickstart, feature extraction).

`read_data_files({"train": path, "validation": path}, txt_as=...)` reads each file with `datasets`' own loader for
its extension and returns a `datasets.DatasetDict` (an `IterableDatasetDict` when streaming):

| extension (optionally `.gz`, `.bz2`, `.xz`) | loader | rows |
| --- | --- | --- |
| `.jsonl`, `.json` | `json` | one JSON object per line (or one JSON array of objects) |
| `.csv` / `.tsv` | `csv` (tab delimiter for `.tsv`) | a header line naming the columns, then one row per line |
| `.parquet` | `parquet` | the table's rows |
| `.txt` | `text` or `conll`, as the caller declares with `txt_as` | see below |
| `.conll`, `.iob` | `conll` | one sentence per blank-line-separated block |

A `.txt` file has no column names, so what it holds is the caller's declaration, never a guess:

- `txt_as="line"` (pretraining default, feature extraction): one document per line, in column `text`;
  `"paragraph"`: one document per blank-line-separated block; `"document"`: the whole file is one document.
- `txt_as="conll"` (token classification): CoNLL, one `word [POS] [chunk] tag` line per token, a blank line between
  sentences, `-DOCSTART-` lines skipped -> columns `tokens`, (`pos_tags`, `chunk_tags`,) `ner_tags` (the last).
- `txt_as=None` (every task that needs named columns): a `.txt` file is refused with an error naming the formats
  that work.

Translation data as distributed (`train.en` + `train.de`, one sentence per line, aligned) is a pair of plain-text
files: `read_parallel_text(source_path, target_path)` reads both and returns `source` / `target` columns.

Errors name the file, the line and the fix: an empty file, a malformed JSON line, a JSON column whose type changes
from line to line, a CoNLL line with a different number of columns. `DataSource.where(row)` turns a row index of a
split read here (before any shuffle) back into "line N of FILE", and `check_text_column` / `check_label_column` use
it to reject null, missing, numeric or mixed-type values row by row.
"""

from __future__ import annotations

import bz2
import csv
import functools
import gzip
import json
import lzma
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import datasets
from datasets import ClassLabel, Dataset, DatasetDict, IterableDatasetDict, Value

FILE_FORMATS = ("json", "csv", "tsv", "parquet", "text", "conll")
TXT_LAYOUTS = ("line", "paragraph", "document", "conll")

_EXTENSIONS = {
    ".json": "json", ".jsonl": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet",
    ".txt": "text", ".text": "text", ".conll": "conll", ".iob": "conll",
}  # fmt: skip
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_STRING_DTYPES = ("string", "large_string")


# ---------------------------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------------------------
def data_file_format(path: str | os.PathLike) -> str:
    """The format an extension names, looking through one compression suffix: `x.jsonl.gz` -> `json`,
    `x.tsv` -> `tsv`, `x.txt` -> `text`. ValueError for an extension that names none."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _OPENERS:
        suffixes.pop()
    if not suffixes or suffixes[-1] not in _EXTENSIONS:
        raise ValueError(
            f"Cannot tell the format of {str(path)!r} from its extension: name the file .jsonl/.json, .csv, .tsv, "
            ".parquet, .txt or .conll (optionally compressed: .gz, .bz2, .xz)."
        )
    return _EXTENSIONS[suffixes[-1]]


def _resolve_format(path, file_format: str | None, txt_as: str | None, needs: str) -> str:
    """The loader for `path` as this caller reads it: `text` becomes `conll` for token classification; a `.txt` file
    is refused by callers that need named columns (`txt_as=None`), and CoNLL by callers that do not read it."""
    fmt = file_format or data_file_format(path)
    if fmt not in FILE_FORMATS:
        raise ValueError(f"Unknown file format {fmt!r} for {path}; use one of {', '.join(FILE_FORMATS)}.")
    if txt_as is not None and txt_as not in TXT_LAYOUTS:
        raise ValueError(f"txt_as must be one of {TXT_LAYOUTS} or None, got {txt_as!r}.")
    if fmt == "text":
        if txt_as is None:
            raise ValueError(
                f"{path} is a plain-text file, but {needs} needs named columns: give a .jsonl, .csv, .tsv or "
                ".parquet file. (.txt means one document per line for pretraining and CoNLL for token "
                "classification; nothing else reads it.)"
            )
        if txt_as == "conll":
            fmt = "conll"
    if fmt == "conll" and txt_as != "conll":
        raise ValueError(
            f"{path} is read as CoNLL (`word ... tag` per line), which only token classification reads; {needs} "
            "needs a .jsonl, .csv, .tsv or .parquet file" + (" or plain text (.txt)." if txt_as else ".")
        )
    return fmt


def parse_column_names(column_names: str | list[str] | None) -> list[str] | None:
    """`"label,title,text"` -> `["label", "title", "text"]` (None stays None)."""
    if column_names is None or isinstance(column_names, list):
        return column_names
    return [name.strip() for name in column_names.split(",")]


# ---------------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------------
def read_data_files(
    files: Mapping[str, str | os.PathLike],
    *,
    txt_as: str | None,
    file_format: str | None = None,
    column_names: str | list[str] | None = None,
    streaming: bool = False,
    cache_dir: str | None = None,
    needs: str = "this command",
) -> DatasetDict | IterableDatasetDict:
    """Read `{split: path}` into a `DatasetDict` with `datasets`' loader for each file's format (see the module
    docstring). Rows keep the file's order.

    txt_as: what a `.txt` file holds for this caller: `line` / `paragraph` / `document` (plain text, column `text`),
        `conll`, or None (refused). file_format: overrides the extension (one of `FILE_FORMATS`).
    column_names: csv/tsv without a header row: the columns' names in file order (the first line is then a row).
    needs: the caller, for the error that refuses a `.txt` file ("text classification", ...).
    Raises FileNotFoundError for a missing file, ValueError for an empty or malformed one (naming the line).
    """
    read = {
        split: read_data_file(path, txt_as=txt_as, split=split, file_format=file_format, column_names=column_names,
                              streaming=streaming, cache_dir=cache_dir, needs=needs)
        for split, path in files.items()
    }  # fmt: skip
    return IterableDatasetDict(read) if streaming else DatasetDict(read)


def read_data_file(
    path: str | os.PathLike,
    *,
    txt_as: str | None,
    split: str = "train",
    file_format: str | None = None,
    column_names: str | list[str] | None = None,
    streaming: bool = False,
    cache_dir: str | None = None,
    needs: str = "this command",
) -> Dataset:
    """One file as a `Dataset` (`IterableDataset` when streaming); the arguments are `read_data_files`'."""
    path = str(path)
    fmt = _resolve_format(path, file_format, txt_as, needs)
    names = parse_column_names(column_names)
    if names is not None and fmt not in ("csv", "tsv"):
        raise ValueError(f"--column_names only applies to csv/tsv files (headerless rows); {path} is read as {fmt}.")
    if not Path(path).is_file():
        raise FileNotFoundError(f"The {split} file {path} does not exist.")
    if fmt != "parquet" and not _has_content(path):
        # datasets' json loader raises a bare StopIteration on an empty file, its text loader a schema error.
        raise ValueError(f"The {split} split is empty: {path} has no rows. Give a file with rows, or drop it.")

    options: dict = {}
    builder = fmt
    if fmt in ("csv", "tsv"):
        builder = "csv"
        if fmt == "tsv":
            options["delimiter"] = "\t"
        if names is not None:
            options["column_names"] = names
    elif fmt == "text":
        # Line breaks inside a paragraph / document are kept: sentence splitting (NSP) reads them.
        options = {"sample_by": txt_as, "keep_linebreaks": txt_as != "line"}
    elif fmt == "conll":
        options = {"column_names": _conll_columns(path)}
    try:
        dataset = datasets.load_dataset(
            builder, data_files=path, split="train", streaming=streaming, cache_dir=cache_dir, **options
        )
    except Exception as error:  # the loaders' messages name neither the line nor the fix: find them
        reason = _explain_json_failure(path) if fmt == "json" else None
        if reason is None:
            raise
        raise ValueError(reason) from error
    if names is not None and not streaming and dataset.column_names != names:
        raise ValueError(
            f"{path}: --column_names names {len(names)} columns {names} but the rows have "
            f"{len(dataset.column_names)}; name every column, in file order."
        )
    return dataset


def read_parallel_text(
    source_path: str | os.PathLike, target_path: str | os.PathLike, *, split: str = "train"
) -> Dataset:
    """Two aligned plain-text files, one sentence per line (`train.en` + `train.de`, any extension, optionally
    compressed) -> a `Dataset` with `source` / `target` columns. Pairs blank on both sides are dropped; a pair
    blank on one side only, or files of different lengths, mean the files are misaligned (ValueError naming the
    lines)."""
    source_lines, target_lines = (
        read_data_file(path, txt_as="line", file_format="text", split=split)["text"]
        for path in (source_path, target_path)
    )
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"Parallel files are not aligned: {source_path} has {len(source_lines)} lines, {target_path} has "
            f"{len(target_lines)}."
        )
    pairs = [(s.strip(), t.strip()) for s, t in zip(source_lines, target_lines)]
    half_blank = [i + 1 for i, (s, t) in enumerate(pairs) if bool(s) != bool(t)]
    if half_blank:
        raise ValueError(
            f"Lines {half_blank[:5]} of {source_path} / {target_path} are blank on one side only: the files are "
            "misaligned."
        )
    pairs = [(s, t) for s, t in pairs if s]
    return Dataset.from_dict({"source": [s for s, _ in pairs], "target": [t for _, t in pairs]})


def _open_text(path: str, newline: str | None = None):
    opener = _OPENERS.get(Path(path).suffix.lower(), open)
    return opener(path, "rt", encoding="utf-8", errors="replace", newline=newline)


def _has_content(path: str) -> bool:
    """False for a file with nothing but whitespace."""
    opener = _OPENERS.get(Path(path).suffix.lower(), open)
    with opener(path, "rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return True
    return False


def _conll_columns(path: str) -> list[str]:
    """Column names for datasets' `conll` loader, from the file's column count (which must be the same on every
    token line: the loader silently pads short lines and cuts long ones, which would shift the tags)."""
    count, first = None, None
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            parts = line.split()
            if not parts or parts[0] == "-DOCSTART-":
                continue
            if count is None:
                count, first = len(parts), number
                if count < 2:
                    raise ValueError(
                        f"Line {number} of {path} has one column ({line.strip()!r}), but a CoNLL file needs "
                        "`word tag` (or `word POS chunk tag`) on each line. Is it plain text? Token classification "
                        "reads .txt as CoNLL; give jsonl/parquet with `tokens` and `ner_tags` columns otherwise."
                    )
            elif len(parts) != count:
                raise ValueError(
                    f"Line {number} of {path} has {len(parts)} columns ({line.strip()!r}) but line {first} has "
                    f"{count}: every token line of a CoNLL file needs the same whitespace-separated columns "
                    "(`word [POS] [chunk] tag`). Fix that line (a word containing a space?)."
                )
    if count is None:
        raise ValueError(f"{path} has no token lines (only blank or -DOCSTART- lines).")
    middle = ["pos_tags", "chunk_tags", *(f"column_{i}" for i in range(3, count - 1))][: count - 2]
    return ["tokens", *middle, "ner_tags"]


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def _explain_json_failure(path: str) -> str | None:
    """Why datasets' json loader failed on `path`, naming the line and the fix; None when no reason is found."""
    with _open_text(path) as handle:
        text = handle.read()
    if text.lstrip().startswith("["):  # one JSON document (an array of objects), not JSON Lines
        try:
            json.loads(text)
        except json.JSONDecodeError as error:
            return (
                f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. Fix the file "
                "(a .json file holds one array of objects, or one object per line)."
            )
        return None
    seen: dict[str, tuple[str, int]] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            return (
                f"Line {number} of {path} is not valid JSON ({error.msg} at column {error.colno}): "
                f"{line.strip()[:80]!r}. A JSON Lines file holds one complete object per line: fix or remove "
                "that line."
            )
        if not isinstance(row, dict):
            return (
                f"Line {number} of {path} holds a JSON {_json_kind(row)}, not an object: each line must be one "
                'object of named columns, e.g. {"text": "...", "label": 1}.'
            )
        for key, value in row.items():
            if value is None:
                continue
            kind, where = seen.setdefault(key, (_json_kind(value), number))
            if kind != _json_kind(value):
                return (
                    f"Column {key!r} holds a {kind} on line {where} but a {_json_kind(value)} on line {number} of "
                    f'{path}: write it the same way on every line (all strings, e.g. "5" rather than 5, or all numbers).'
                )
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Naming a row by its line
# ---------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataSource:
    """Where the rows of one split came from, so that an error can name a row by its line in the file.

    Valid for the split as `read_data_file` returned it (file order); after a shuffle or a subset, row i is no
    longer line i. `path=None`: a `datasets` dataset (rows are named by their 1-based index in the split).
    """

    split: str
    path: str | None = None
    format: str | None = None  # a FILE_FORMATS name, as resolved for the caller (text read as CoNLL -> "conll")
    txt_as: str | None = None
    header: bool = True  # csv/tsv: the first line names the columns

    @classmethod
    def of(
        cls, split: str, path=None, *, txt_as: str | None = None, file_format: str | None = None, column_names=None
    ) -> DataSource:
        """The source of a split read by `read_data_file(path, txt_as=..., ...)` with the same arguments."""
        if path is None:
            return cls(split)
        fmt = _resolve_format(str(path), file_format, txt_as, "this command")
        return cls(split, str(path), fmt, txt_as, header=column_names is None)

    def where(self, row: int, start: bool = False) -> str:
        """`"line 7 of data/train.jsonl"` for the 0-based `row` (`"row 7 of ..."` where lines do not map to rows);
        `start=True` capitalises it to open a sentence."""
        if self.path is None:
            where = f"row {row + 1} of the {self.split} split"
        else:
            lines = _row_lines(self.path, self.format, self.txt_as, self.header, os.path.getmtime(self.path))
            where = f"line {lines[row]} of {self.path}" if row < len(lines) else f"row {row + 1} of {self.path}"
        return where[:1].upper() + where[1:] if start else where


@functools.lru_cache(maxsize=16)
def _row_lines(path: str, fmt: str, txt_as: str | None, header: bool, mtime: float) -> tuple[int, ...]:
    """The 1-based line on which each row of `path` starts (empty where rows are not lines). Error path only."""
    if fmt == "json":
        with _open_text(path) as handle:
            text = handle.read()
        if text.lstrip().startswith("["):
            return ()
        return tuple(n for n, line in enumerate(text.split("\n"), 1) if line.strip())
    if fmt in ("csv", "tsv"):
        starts, start = [], 1
        with _open_text(path, newline="") as handle:
            reader = csv.reader(handle, delimiter="\t" if fmt == "tsv" else ",")
            for record in reader:  # quoted fields may span lines; pandas skips blank lines
                if record:
                    starts.append(start)
                start = reader.line_num + 1
        return tuple(starts[1:] if header else starts)
    if fmt == "text" and txt_as == "line":
        with _open_text(path) as handle:
            return tuple(range(1, sum(1 for _ in handle) + 1))
    if fmt == "conll":
        starts, inside = [], False
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                parts = line.split()
                if not parts:
                    inside = False
                elif parts[0] != "-DOCSTART-" and not inside:
                    starts.append(number)
                    inside = True
        return tuple(starts)
    return ()


# ---------------------------------------------------------------------------------------------------------------------
# Row checks
# ---------------------------------------------------------------------------------------------------------------------
def _describe(value) -> str:
    if value is None:
        return "is empty (null or missing)"
    if isinstance(value, str):
        return f"holds the text {value!r}"
    return f"holds the {_json_kind(value)} {value!r}"


def _is_string_feature(feature) -> bool:
    return isinstance(feature, Value) and feature.dtype in _STRING_DTYPES


def _null_count(dataset: Dataset, column: str) -> int:
    return dataset.with_format("arrow")[column].null_count


def first_bad_row(dataset: Dataset, column: str, ok: Callable[[object], bool]) -> int | None:
    """Index of the first row whose `column` value fails `ok`, else None."""
    return next((row for row, value in enumerate(dataset[column]) if not ok(value)), None)


def check_text_column(
    dataset: Dataset,
    column: str,
    source: DataSource,
    *,
    option: str | None = "--text_column",
    allow_null: bool = False,
) -> None:
    """Every row's `column` holds a string (or, with `allow_null`, nothing). ValueError naming the line, the value
    and the fix: a number where text belongs, a null or missing text, a list."""
    feature = dataset.features[column]
    if _is_string_feature(feature) and (allow_null or _null_count(dataset, column) == 0):
        return  # the common case, decided by the column type without a pass over the rows
    row = first_bad_row(dataset, column, lambda v: isinstance(v, str) or (allow_null and v is None))
    if row is None:
        return
    value = dataset[row][column]
    if value is None:
        fix = "Fill in the text or remove the row."
    elif isinstance(value, (int, float)):
        fix = f'Write it as text ("{value}") in the file.'
    else:
        fix = "It must be a single string."
    if option is not None:
        fix += f" If {column!r} is not the text column, name the right one with {option}."
    raise ValueError(
        f"{source.where(row, start=True)}: column {column!r} {_describe(value)}, but it must hold text. {fix}"
    )


def check_label_column(
    dataset: Dataset, column: str, source: DataSource, *, option: str | None = "--label_column"
) -> None:
    """Every row has a label (not null or missing) and all labels have one type (not `1` on one line and `"pos"` on
    another). ValueError naming the line(s) and the fix."""
    feature = dataset.features[column]
    if isinstance(feature, (Value, ClassLabel)) and _null_count(dataset, column) == 0:
        return  # one Arrow type, no nulls
    first = None
    for row, value in enumerate(dataset[column]):
        if value is None:
            hint = f" If {column!r} is not the label column, name the right one with {option}." if option else ""
            raise ValueError(
                f"{source.where(row, start=True)}: column {column!r} has no label (null or missing). Every row of the "
                f"{source.split} split needs one: fill it in or remove the row.{hint}"
            )
        kind = _json_kind(value)
        if first is None:
            first = (row, value, kind)
        elif kind != first[2]:
            raise ValueError(
                f"Column {column!r} mixes label types: the {first[2]} {first[1]!r} on {source.where(first[0])} but the "
                f"{kind} {value!r} on {source.where(row)}. Write every label the same way: all numbers (0, 1, ...) or "
                'all names ("neg", "pos").'
            )


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


__all__ = [
    "FILE_FORMATS",
    "TXT_LAYOUTS",
    "DataSource",
    "check_label_column",
    "check_text_column",
    "data_file_format",
    "first_bad_row",
    "header_looks_like_data",
    "no_header_hint",
    "parse_column_names",
    "read_data_file",
    "read_data_files",
    "read_parallel_text",
]

"""Sentence embeddings from an encoder checkpoint, written with their ids.

    seedformer extract-features --model CKPT --input texts.jsonl --text_column text \
        --output embeddings.npy --pooling mean --normalize

Input: .txt (one text per line; ids = line numbers), or csv/tsv/json/jsonl(.gz)/parquet with --text_column and
optionally --id_column (default: the row number); a csv/tsv without a header row needs --column_names a,b,c.
Output: .npy (+ .ids.npy) or .parquet (columns id, embedding).
"""

import argparse

import datasets
import torch
from transformers import AutoModel, AutoTokenizer

import seedformer  # noqa: F401  (registers the model family with the Auto classes)
from seedformer.data.readers import data_file_format, no_header_hint, read_data_file
from seedformer.pipelines.features import POOLINGS, extract_features, write_features


def read_inputs(
    path: str, text_column: str, id_column: str | None, max_samples: int | None, column_names: str | None = None
):
    table: datasets.Dataset = read_data_file(path, txt_as="line", column_names=column_names, needs="extract_features")
    if data_file_format(path) == "text":  # one text per line; blank lines skipped, ids = the texts' order
        texts = [t for t in table["text"] if t.strip()]
        ids = list(range(len(texts)))
    else:
        for column in (text_column, id_column):
            if column is not None and column not in table.column_names:
                raise SystemExit(
                    f"{path} has no column {column!r}; columns: {table.column_names}."
                    + no_header_hint(table.column_names)
                )
        texts = table[text_column]
        ids = table[id_column] if id_column else list(range(len(texts)))
    if max_samples is not None:
        texts, ids = texts[:max_samples], ids[:max_samples]
    return ids, texts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="encoder checkpoint folder")
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True, help="*.npy or *.parquet")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--id_column", default=None)
    parser.add_argument(
        "--column_names", default=None, help="csv/tsv without a header row: comma-separated column names in file order"
    )
    parser.add_argument("--pooling", choices=POOLINGS, default="mean")
    parser.add_argument("--normalize", action="store_true", help="unit L2 norm per embedding")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--max_length", type=int, default=256)
    parser.add_argument("--max_samples", type=int, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)

    ids, texts = read_inputs(args.input, args.text_column, args.id_column, args.max_samples, args.column_names)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).to(args.device)
    embeddings = extract_features(
        model, tokenizer, texts, args.pooling, args.normalize, args.batch_size, args.max_length
    )
    written = write_features(args.output, ids, embeddings)
    print(f"{embeddings.shape[0]} embeddings of size {embeddings.shape[1]} -> {', '.join(map(str, written))}")
    return written


if __name__ == "__main__":
    main()

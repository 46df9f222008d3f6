"""Train a WordPiece (default), byte-level BPE or Unigram tokenizer and save it for `AutoTokenizer.from_pretrained`.

    seedformer train-tokenizer --train_file corpus.jsonl.gz --text_column text \
        --algorithm wordpiece --vocab_size 30522 --output_dir my-tokenizer
"""

import argparse

from seedformer.pretraining.corpus import load_corpus
from seedformer.tokenization import ALGORITHMS, iter_texts, train_tokenizer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--train_file", help="txt, json/jsonl, csv or parquet (optionally .gz)")
    source.add_argument("--dataset_name", help="a `datasets` dataset name or folder")
    parser.add_argument("--dataset_config_name")
    parser.add_argument("--text_column", default="text")
    parser.add_argument("--max_train_samples", type=int, help="use only the first N documents")
    parser.add_argument("--streaming", action="store_true", help="read the corpus lazily")
    parser.add_argument("--algorithm", default="wordpiece", choices=ALGORITHMS)
    parser.add_argument("--vocab_size", type=int, default=30522)
    parser.add_argument("--min_frequency", type=int, default=2)
    parser.add_argument("--no_lowercase", dest="lowercase", action="store_false", help="keep the case")
    accents = parser.add_mutually_exclusive_group()
    accents.add_argument("--strip_accents", dest="strip_accents", action="store_true", default=None)
    accents.add_argument("--keep_accents", dest="strip_accents", action="store_false")
    parser.add_argument("--model_max_length", type=int, default=512)
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args(argv)

    corpus = load_corpus(
        dataset_name=args.dataset_name,
        dataset_config_name=args.dataset_config_name,
        train_file=args.train_file,
        text_column=args.text_column,
        validation_split_percentage=0,
        streaming=args.streaming,
        max_train_samples=args.max_train_samples,
    )["train"]
    tokenizer = train_tokenizer(
        iter_texts(corpus, args.text_column),
        algorithm=args.algorithm,
        vocab_size=args.vocab_size,
        min_frequency=args.min_frequency,
        lowercase=args.lowercase,
        strip_accents=args.strip_accents,
        model_max_length=args.model_max_length,
        length=None if args.streaming else len(corpus),
        show_progress=True,
    )
    tokenizer.save_pretrained(args.output_dir)
    print(f"saved a {args.algorithm} tokenizer with {len(tokenizer)} tokens to {args.output_dir}")


if __name__ == "__main__":
    main()

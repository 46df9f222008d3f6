"""Finetune (or train from scratch) a Seedformer encoder-decoder for translation / summarisation.

    seedformer finetune-seq2seq --data_dir ../shared/data/multi30k --source_lang en --target_lang de \
        --output_dir runs/multi30k --do_train --predict_with_generate --num_train_epochs 1

Parallel text files (`--data_dir` with <split>.<lang>) or a column file (`--train_file x.jsonl --source_column
document --target_column summary`). Without `--model_name_or_path` a small model and a joint WordPiece vocabulary are
built from the training data; an encoder (masked-LM) checkpoint is warm-started with a fresh decoder. Every
`Seq2SeqTrainingArguments` option applies (`--generation_num_beams`, `--per_device_train_batch_size`, ...).
Validation BLEU / ROUGE and sample outputs go to `<output_dir>/seq2seq_results.json`.
"""

import json
import sys

from transformers import HfArgumentParser, Seq2SeqTrainingArguments

from seedformer.finetuning.seq2seq import Seq2SeqDataArguments, Seq2SeqModelArguments, run_seq2seq
from seedformer.hub.model_card import card_fields_from_args, write_run_model_card


def main(argv=None):
    parser = HfArgumentParser((Seq2SeqModelArguments, Seq2SeqDataArguments, Seq2SeqTrainingArguments))
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=argv)
    metrics = run_seq2seq(model_args, data_args, training_args)
    # README.md with metadata, results and usage in output_dir (uploaded too with --push_to_hub)
    write_run_model_card(training_args, metrics, **card_fields_from_args(model_args, data_args))
    json.dump(metrics, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return metrics


if __name__ == "__main__":
    main()

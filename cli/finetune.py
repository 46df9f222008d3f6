"""Finetune a Seedformer (or any transformers) checkpoint on a downstream task with the stock Trainer.

    seedformer finetune --task text-classification --model_name_or_path CKPT \
        --train_file train.jsonl.gz --validation_split_percentage 10 --text_column text --label_column label \
        --output_dir out --do_train --do_eval --num_train_epochs 1

--task names a registered recipe (`seedformer.finetuning.recipes.TASKS`; `--help` lists them). Every TrainingArguments
option works (--eval_strategy, --load_best_model_at_end, ...); --use_lora [--merge_lora] trains LoRA adapters.
See `seedformer.finetuning.arguments` for the data and model options.
"""

import json
import sys

from transformers import HfArgumentParser, TrainingArguments

import seedformer  # noqa: F401  (registers the model family with the Auto classes)
from seedformer.finetuning.arguments import DataArguments, ModelArguments
from seedformer.finetuning.runner import run_finetuning
from seedformer.hub.model_card import card_fields_from_args, write_run_model_card


def main(argv=None):
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        model_args, data_args, training_args = parser.parse_json_file(argv[0])
    else:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(argv)
    results = run_finetuning(model_args, data_args, training_args)
    # README.md with metadata, results and usage in output_dir (uploaded too with --push_to_hub); main process only
    write_run_model_card(training_args, results, **card_fields_from_args(model_args, data_args))
    if training_args.process_index == 0:  # under torchrun / accelerate launch every process gets here: print once
        print(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()

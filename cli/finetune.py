"""Finetune a Seedformer (or any transformers) checkpoint on a downstream task with the stock Trainer.

    seedformer finetune --task text-classification --model_name_or_path CKPT \
        --train_file train.jsonl.gz --validation_split_percentage 10 --text_column text --label_column label \
        --output_dir out --do_train --do_eval --num_train_epochs 1

    seedformer finetune --task translation --data_dir ../shared/data/multi30k --source_lang en --target_lang de \
        --output_dir runs/multi30k --do_train --do_eval --max_steps 100

--task names a registered recipe (`seedformer.finetuning.recipes.TASKS`; `--help` lists them). Every TrainingArguments
option works (--eval_strategy, --load_best_model_at_end, ...; translation / summarization take the
Seq2SeqTrainingArguments ones too: --generation_num_beams, --generation_max_length); --use_lora [--merge_lora] trains
LoRA adapters. See `seedformer.finetuning.arguments` for the data and model options.
"""

import json
import sys

import seedformer  # noqa: F401  (registers the model family with the Auto classes)
from seedformer.finetuning.arguments import parse_finetuning_args
from seedformer.finetuning.runner import run_finetuning
from seedformer.hub.model_card import card_fields_from_args, write_run_model_card


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    model_args, data_args, training_args = parse_finetuning_args(argv)
    results = run_finetuning(model_args, data_args, training_args)
    # README.md with metadata, results and usage in output_dir (uploaded too with --push_to_hub); main process only
    write_run_model_card(training_args, results, **card_fields_from_args(model_args, data_args))
    if training_args.process_index == 0:  # under torchrun / accelerate launch every process gets here: print once
        print(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()

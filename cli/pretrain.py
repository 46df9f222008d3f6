"""Pretrain a Seedformer encoder from a text corpus with the stock Trainer (MLM, whole-word MLM, MLM + NSP, ELECTRA).

From scratch the default is the measured CPU recipe `--preset cpu_small` (pretraining/recipes.py: model shape, 30%
masking, learning rate and schedule, batch, sequence length); any flag given explicitly overrides it, and
`--max_train_minutes 60` gives the run a time budget with the learning rate annealed to 0 at its end:

    seedformer pretrain --train_file corpus.jsonl.gz --tokenizer_name my-tokenizer --output_dir runs/cpu \\
        --do_train --do_eval --max_steps 1000000 --max_train_minutes 60 --probe_file labelled.jsonl.gz

    seedformer pretrain --train_file corpus.jsonl.gz --tokenizer_name my-tokenizer --objective mlm \
        --config_overrides hidden_size=256,num_hidden_layers=4,num_attention_heads=4,intermediate_size=1024 \
        --max_seq_length 128 --output_dir runs/mlm --do_train --do_eval --max_steps 10000

Every TrainingArguments flag works (--per_device_train_batch_size, --gradient_accumulation_steps, --save_steps,
--fsdp, --deepspeed, ...). Re-running the same command resumes from the last complete checkpoint in --output_dir.
Multi-GPU: `torchrun --nproc_per_node=8 -m seedformer pretrain ...` or `accelerate launch -m seedformer pretrain ...`.
A single JSON file of arguments is also accepted: `seedformer pretrain args.json`.
"""

import sys

from transformers import HfArgumentParser

from seedformer.hub.model_card import card_fields_from_args, write_run_model_card
from seedformer.pretraining.arguments import DataArguments, ModelArguments, PretrainingArguments
from seedformer.pretraining.recipes import parse_pretraining_args
from seedformer.pretraining.run import pretrain


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) == 1 and argv[0].endswith(".json"):
        parser = HfArgumentParser((ModelArguments, DataArguments, PretrainingArguments))
        model_args, data_args, training_args = parser.parse_json_file(argv[0])  # recipe: on fields left at defaults
    else:
        # --preset cpu_small (the default from scratch) supplies the recipe's values as defaults; flags override.
        model_args, data_args, training_args = parse_pretraining_args(argv)
    metrics = pretrain(model_args, data_args, training_args)
    # README.md with metadata, results and usage in output_dir (uploaded too with --push_to_hub)
    write_run_model_card(training_args, metrics, **card_fields_from_args(model_args, data_args))


if __name__ == "__main__":
    main()

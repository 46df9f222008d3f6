"""Alias of `seedformer finetune --task translation` (translation / summarisation with an encoder-decoder).

    seedformer finetune-seq2seq --data_dir ../shared/data/multi30k --source_lang en --target_lang de \
        --output_dir runs/multi30k --do_train --do_eval --max_steps 100

runs `seedformer finetune --task translation ARGS` (give `--task summarization` to change the task): the same
arguments, runner, outputs (`all_results.json`, `eval_predictions.jsonl`, the model) and model card. The flags of
the former separate runner that have another form now say which.
"""

import sys

from seedformer.cli import finetune

# Former flag -> its form in `seedformer finetune`.
RENAMED = {
    "--source_column": "--text_column",
    "--max_source_length": "--max_seq_length",
    "--num_samples_to_show": "eval_predictions.jsonl (every validation output)",
    "--train_split": "--data_dir's file names (train.<lang>)",
    "--validation_split": "--data_dir's file names (val / valid / dev / validation.<lang>)",
    "--dropout": "--config_overrides hidden_dropout_prob=...,attention_probs_dropout_prob=...",
    **{
        f"--{name}": f"--config_overrides {name}=..."
        for name in (
            "hidden_size",
            "num_hidden_layers",
            "decoder_layers",
            "num_attention_heads",
            "intermediate_size",
            "norm_position",
            "position_embedding_type",
        )
    },
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    for arg in argv:
        flag = arg.split("=", 1)[0]
        if flag in RENAMED:
            raise SystemExit(f"seedformer finetune-seq2seq: {flag} is now {RENAMED[flag]}.")
    if not any(arg == "--task" or arg.startswith("--task=") for arg in argv) and not (
        len(argv) == 1 and argv[0].endswith(".json")
    ):
        argv = ["--task", "translation", *argv]
    return finetune.main(argv)


if __name__ == "__main__":
    main()

"""`python scripts/finetune_seq2seq.py ARGS` runs `seedformer finetune-seq2seq ARGS`; the program is `seedformer/cli/finetune_seq2seq.py`."""

from seedformer.cli.finetune_seq2seq import main

if __name__ == "__main__":
    main()

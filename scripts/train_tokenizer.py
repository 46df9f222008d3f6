"""`python scripts/train_tokenizer.py ARGS` runs `seedformer train-tokenizer ARGS`; the program is `seedformer/cli/train_tokenizer.py`."""

from seedformer.cli.train_tokenizer import main

if __name__ == "__main__":
    main()

"""`python scripts/finetune.py ARGS` runs `seedformer finetune ARGS`; the program is `seedformer/cli/finetune.py`."""

from seedformer.cli.finetune import main

if __name__ == "__main__":
    main()

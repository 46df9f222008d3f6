"""`python scripts/convert_bart_checkpoint.py ARGS` runs `seedformer convert-bart-checkpoint ARGS`; the program is `seedformer/cli/convert_bart_checkpoint.py`."""

from seedformer.cli.convert_bart_checkpoint import main

if __name__ == "__main__":
    main()

"""`python scripts/pretrain.py ARGS` runs `seedformer pretrain ARGS`; the program is `seedformer/cli/pretrain.py`."""

from seedformer.cli.pretrain import main

if __name__ == "__main__":
    main()

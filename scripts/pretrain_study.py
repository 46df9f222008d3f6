"""`python scripts/pretrain_study.py ARGS` runs `seedformer pretrain-study ARGS`; the program is `seedformer/cli/pretrain_study.py`."""

from seedformer.cli.pretrain_study import main

if __name__ == "__main__":
    main()

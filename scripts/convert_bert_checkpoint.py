"""`python scripts/convert_bert_checkpoint.py ARGS` runs `seedformer convert-bert-checkpoint ARGS`; the program is `seedformer/cli/convert_bert_checkpoint.py`."""

from seedformer.cli.convert_bert_checkpoint import main

if __name__ == "__main__":
    main()

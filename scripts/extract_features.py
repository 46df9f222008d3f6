"""`python scripts/extract_features.py ARGS` runs `seedformer extract-features ARGS`; the program is `seedformer/cli/extract_features.py`."""

from seedformer.cli.extract_features import main

if __name__ == "__main__":
    main()

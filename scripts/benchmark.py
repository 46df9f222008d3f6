"""`python scripts/benchmark.py ARGS` runs `seedformer benchmark ARGS`; the program is `seedformer/cli/benchmark.py`."""

import os

# before transformers is imported (huggingface_hub reads it once): this program never needs the network
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from seedformer.cli.benchmark import main  # noqa: E402

if __name__ == "__main__":
    main()

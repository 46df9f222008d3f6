"""One command from a corpus to a served classifier, on the embedded demo reviews by default (no network).

    seedformer quickstart                                   # embedded corpus, a few minutes on 2 CPU cores
    seedformer quickstart --train_file ../shared/data/imdb/train.jsonl.gz --max_examples 5000 \
        --class_names negative,positive                            # IMDB's labels are 0/1
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the demo never needs the network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from transformers import HfArgumentParser  # noqa: E402

from seedformer.demo.quickstart import QuickstartArguments, run_quickstart  # noqa: E402


def main(argv=None):
    (args,) = HfArgumentParser(QuickstartArguments).parse_args_into_dataclasses(args=argv)
    run_quickstart(args)


if __name__ == "__main__":
    main()

"""Convert a transformers BART checkpoint folder into a Seedformer seq2seq checkpoint with identical outputs.

seedformer convert-bart-checkpoint path/to/bart path/to/seedformer
"""

import argparse

from seedformer.conversion import convert_bart_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="BART checkpoint folder (config.json + model.safetensors [+ tokenizer])")
    parser.add_argument("dst", help="output folder for the Seedformer checkpoint")
    parser.add_argument(
        "--allow_pickle", action="store_true", help="accept a pytorch_model.bin pickle (trusted sources only)"
    )
    args = parser.parse_args(argv)
    print(convert_bart_checkpoint(args.src, args.dst, allow_pickle=args.allow_pickle))


if __name__ == "__main__":
    main()

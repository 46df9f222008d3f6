"""Convert a transformers BERT checkpoint folder into a Seedformer checkpoint folder with identical outputs.

seedformer convert-bert-checkpoint path/to/bert path/to/seedformer
"""

import argparse

from seedformer.conversion import convert_bert_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", help="BERT checkpoint folder (config.json + model.safetensors [+ tokenizer])")
    parser.add_argument("dst", help="output folder for the Seedformer checkpoint")
    parser.add_argument(
        "--allow_pickle", action="store_true", help="accept a pytorch_model.bin pickle (trusted sources only)"
    )
    args = parser.parse_args(argv)
    print(convert_bert_checkpoint(args.src, args.dst, allow_pickle=args.allow_pickle))


if __name__ == "__main__":
    main()

"""Thin entry point: `python scripts/train_tokenizer.py --help` (the program is babylm.data.tokens.tokenizer.main)."""

import sys

from babylm.data.tokens.tokenizer import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

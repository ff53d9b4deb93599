"""Thin entry point: `python scripts/encode.py --help` (the program is babylm.data.tokens.encode.main)."""

import sys

from babylm.data.tokens.encode import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

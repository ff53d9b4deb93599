"""Thin entry point: `python scripts/split.py --help` (the program is babylm.data.text.split.main)."""

import sys

from babylm.data.text.split import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

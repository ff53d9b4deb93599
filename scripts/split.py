"""Thin entry point: `python scripts/split.py --help` (the program is babylm.data.split.main)."""

import sys

from babylm.data.split import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Thin entry point: `python scripts/clean.py --help` (the program is babylm.data.text.clean.main)."""

import sys

from babylm.data.text.clean import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

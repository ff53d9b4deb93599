"""Thin entry point: `python scripts/prepare_data.py --help` (the program is babylm.data.pipeline.main)."""

import sys

from babylm.data.pipeline import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

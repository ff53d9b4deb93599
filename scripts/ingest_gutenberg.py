"""Thin entry point: `python scripts/ingest_gutenberg.py --help` (the program is babylm.data.sources.gutenberg.main)."""

import sys

from babylm.data.sources.gutenberg import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

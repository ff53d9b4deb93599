"""Thin entry point: `python scripts/ingest_gutenberg.py --help` (the program is babylm.data.ingest_gutenberg.main)."""

import sys

from babylm.data.ingest_gutenberg import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

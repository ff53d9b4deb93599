"""Thin entry point: `python scripts/ingest_wikitext.py --help` (the program is babylm.data.ingest_wikitext.main)."""

import sys

from babylm.data.ingest_wikitext import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

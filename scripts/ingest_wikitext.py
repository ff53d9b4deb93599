"""Thin entry point: `python scripts/ingest_wikitext.py --help` (the program is babylm.data.sources.wikitext.main)."""

import sys

from babylm.data.sources.wikitext import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Thin entry point: `python scripts/combine.py --help` (the program is babylm.data.text.combine.main)."""

import sys

from babylm.data.text.combine import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

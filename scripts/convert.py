"""Thin entry point: `python scripts/convert.py --help` (the program is babylm.data.text.convert.main)."""

import sys

from babylm.data.text.convert import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Scrape EB1911 articles from Wikisource: a thin entry point for ``babylm.data.wikisource.main``.

    python scripts/scrape.py --help
    python scripts/scrape.py --contact you@example.org --volumes 1 --limit 20

Writes ``data/britannica_data/volume_XX/part_XX/<title>.json`` plus ``progress.json`` and ``scraper.log``.
"""

import sys

from babylm.data.wikisource.scrape import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

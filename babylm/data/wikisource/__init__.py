"""The scraper: EB1911 from Wikisource's MediaWiki API → ``data/britannica_data/volume_XX/part_XX/<stem>.json``.

Run: ``python -m babylm.data.wikisource --help`` (or ``python scripts/scrape.py``). Modules, in the order a
request flows: :mod:`.api` (polite MediaWiki client), :mod:`.catalogue` (article discovery and placement),
:mod:`.html` (prose extraction), :mod:`.progress` (progress file and bar), :mod:`.scrape` (the stage).
:mod:`.sample` is the bundled sample and the local stand-in server used offline and by the tests.
"""

"""``python -m babylm.data.wikisource``: the scrape stage (:func:`babylm.data.wikisource.scrape.main`)."""

from babylm.data.wikisource.scrape import main

raise SystemExit(main())

"""``python -m babylm.data.wikisource.sample``: serve the bundled sample (:func:`.server.main`)."""

from babylm.data.wikisource.sample.server import main

raise SystemExit(main())

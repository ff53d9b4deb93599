"""``python -m babylm …`` → :func:`babylm.cli.main`."""

from babylm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

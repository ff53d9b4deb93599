"""Every ``python -m babylm <command>`` entry point (dispatched by :mod:`babylm.cli`)."""

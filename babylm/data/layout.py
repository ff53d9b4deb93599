"""Where the data stages read and write, under one data directory (``prepare --data-dir``, default ``data``).

Used by :mod:`babylm.data.pipeline`; nothing to run on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "data"


@dataclass(frozen=True)
class Layout:
    """Where each stage reads and writes, under the data directory ``root``."""

    root: Path

    @property
    def raw(self) -> Path:
        return self.root / "britannica_data"

    @property
    def text(self) -> Path:
        return self.root / "britannica_txt"

    @property
    def combined(self) -> Path:
        return self.root / "combined_encyclopedia.txt"

    @property
    def cleaned(self) -> Path:
        return self.root / "encyclopedia_cleaned.txt"

    @property
    def split_dir(self) -> Path:
        return self.root / "corpus_split"

    @property
    def stamps(self) -> Path:
        return self.root / ".pipeline"
